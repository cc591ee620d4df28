"""Fixtures shared by the HTML report tests: realistic binary, multiclass, regression and comparison results."""

from __future__ import annotations

import numpy as np
import pytest

from tests.evaluate.report_helpers import build_binary_result, clean, thin


@pytest.fixture(scope="module")
def binary_data():
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    x, y = make_classification(3000, n_features=8, weights=[0.7, 0.3], random_state=0)
    return x[:2000], y[:2000], x[2000:], y[2000:], LogisticRegression(max_iter=500)


@pytest.fixture(scope="module")
def binary_result(binary_data):
    return build_binary_result(binary_data)


@pytest.fixture(scope="module")
def multiclass_result():
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support, roc_curve

    x, y = make_classification(2000, n_features=10, n_informative=6, n_classes=4, random_state=2)
    proba = LogisticRegression(max_iter=500).fit(x[:1200], y[:1200]).predict_proba(x[1200:])
    y_test, pred = y[1200:], proba.argmax(1)
    labels = ["cat", "dog", "bird", "fish"]
    p, r, f, s = precision_recall_fscore_support(y_test, pred)
    ovr = {}
    for k, lab in enumerate(labels):
        fpr, tpr = thin(*roc_curve(y_test == k, proba[:, k])[:2])
        ovr[lab] = {"fpr": clean(fpr), "tpr": clean(tpr)}
    return {
        "task": "multiclass",
        "dataset_name": "animals",
        "n_rows": len(y_test),
        "model_name": "zoo",
        "metrics": {
            "accuracy": float((pred == y_test).mean()),
            "f1_macro": float(f.mean()),
            "log_loss": 0.9,
            "top_2_accuracy": 0.88,
        },
        "confusion_matrix": {"labels": labels, "matrix": confusion_matrix(y_test, pred).tolist()},
        "per_class": {
            "labels": labels,
            "precision": p.tolist(),
            "recall": r.tolist(),
            "f1": f.tolist(),
            "support": s.tolist(),
        },
        "curves": {"roc_ovr": ovr},
    }


@pytest.fixture(scope="module")
def regression_result():
    from sklearn.datasets import make_regression
    from sklearn.linear_model import Ridge

    x, y = make_regression(3000, n_features=5, noise=25.0, random_state=3)
    pred = Ridge().fit(x[:2000], y[:2000]).predict(x[2000:])
    residual = y[2000:] - pred
    return {
        "task": "regression",
        "dataset_name": "houses",
        "n_rows": 1000,
        "model_name": "ridge",
        "metrics": {
            "r2": 0.9312,
            "rmse": float(np.sqrt((residual**2).mean())),
            "mae": float(np.abs(residual).mean()),
            "mape": None,
        },
        "intervals": {"r2": [0.92, 0.94]},
        "curves": {"residuals": {"predicted": pred.tolist(), "residual": residual.tolist()}},
    }


@pytest.fixture(scope="module")
def comparison(binary_data, binary_result):
    baseline = build_binary_result(binary_data, name="baseline-5feat", columns=slice(2, 7))
    auc_c, auc_b = binary_result["metrics"]["roc_auc"], baseline["metrics"]["roc_auc"]
    gates = [
        {
            "gate": "roc_auc >= baseline - 0.005",
            "metric": "roc_auc",
            "candidate": auc_c,
            "baseline": auc_b,
            "difference": auc_c - auc_b,
            "ci_low": auc_c - auc_b - 0.02,
            "ci_high": auc_c - auc_b + 0.02,
            "threshold": auc_b - 0.005,
            "passed": True,
            "reason": "roc_auc 0.93 is at least baseline - 0.005",
        },
        {
            "gate": "log_loss <= 0.25",
            "metric": "log_loss",
            "candidate": 0.2512,
            "baseline": 0.2401,
            "difference": 0.0111,
            "ci_low": None,
            "ci_high": None,
            "threshold": 0.25,
            "passed": False,
            "reason": "log_loss 0.2512 is above 0.25",
        },
    ]
    return {
        "candidate": binary_result["model_name"],
        "baseline": baseline["model_name"],
        "dataset_name": "holdout-2024",
        "n_rows": binary_result["n_rows"],
        "n_resamples": 500,
        "passed": False,
        "gates": gates,
        "candidate_result": binary_result,
        "baseline_result": baseline,
    }
