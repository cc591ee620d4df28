"""Realised metrics per window agree with scikit-learn on the labelled rows, and say why not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from perennia.errors import InvalidInput
from perennia.monitoring.model_performance import Columns, prepare, realised_metrics, split_windows
from perennia.monitoring.model_performance.realised import NO_LABELS, choose_metrics
from tests.monitoring.model_performance.synthetic import DAY, binary_log, labels_for

PROBA = Columns(probabilities="output.proba")


def _binary(seed: int = 0, n: int = 3000, labelled: float = 0.6):
    rng = np.random.default_rng(seed)
    log, y = binary_log(rng, n)
    rows = np.sort(rng.choice(n, int(labelled * n), replace=False))
    return log, y, rows


def test_binary_metrics_per_window_match_scikit_learn_on_the_labelled_rows() -> None:
    log, y, rows = _binary()
    prepared = prepare(log, labels_for(log, y, rows), task="binary", columns=PROBA)
    windows = split_windows(prepared.frame, window="1d")
    assert len(windows) == 5
    for window in windows:
        got = realised_metrics(prepared, window.rows, choose_metrics("binary", True, None))
        mine = np.intersect1d(window.rows, rows)
        truth, p = y[mine], log["output.proba.1"].to_numpy()[mine]
        pred = p >= 0.5
        expected = {
            "accuracy": skm.accuracy_score(truth, pred),
            "precision": skm.precision_score(truth, pred),
            "recall": skm.recall_score(truth, pred),
            "specificity": skm.recall_score(truth, pred, pos_label=0),
            "f1": skm.f1_score(truth, pred),
            "roc_auc": skm.roc_auc_score(truth, p),
            "log_loss": skm.log_loss(truth, p),
        }
        assert {k: m.value for k, m in got.items()} == pytest.approx(expected, rel=1e-9)
        assert all(m.reason is None for m in got.values())


def test_labels_join_by_id_with_the_latest_label_winning() -> None:
    log, y, _ = _binary(n=200)
    ids = log["prediction_id"].to_numpy()
    feedback = pd.DataFrame(
        {
            "prediction_id": np.r_[ids[:100], ids[:100]],
            "time_ms": np.r_[np.full(100, 5), np.full(100, 9)],
            # The first upload is wrong on purpose; the correction, recorded later, must win.
            "ground_truth": np.r_[1.0 - y[:100], y[:100]],
        }
    ).sample(frac=1.0, random_state=0)
    prepared = prepare(log, feedback, task="binary", columns=PROBA)
    assert prepared.labelled.tolist() == [True] * 100 + [False] * 100
    assert prepared.truth[:100].tolist() == (y[:100] == 1).tolist()


def test_a_window_without_labels_is_not_computable_never_zero() -> None:
    log, y, _ = _binary(n=1000)
    rows = np.flatnonzero(log["time_ms"].to_numpy() < 2 * DAY)  # labels for days 0-1 only
    prepared = prepare(log, labels_for(log, y, rows), task="binary", columns=PROBA)
    last = split_windows(prepared.frame, window="1d")[-1]
    got = realised_metrics(prepared, last.rows, choose_metrics("binary", True, None))
    assert all(m.value is None and m.reason == NO_LABELS for m in got.values())


def test_undefined_binary_metrics_say_why_instead_of_returning_zero() -> None:
    frame = pd.DataFrame(
        {
            "output.prediction": [0.0, 0.0, 0.0],
            "output.p": [0.1, 0.2, 0.3],
            "ground_truth": [0.0, 0.0, 0.0],
        }
    )
    prepared = prepare(
        frame,
        task="binary",
        columns=Columns(prediction="output.prediction", probabilities="output.p"),
    )
    got = realised_metrics(prepared, np.arange(3), choose_metrics("binary", True, None))
    assert got["accuracy"].value == 1.0 and got["specificity"].value == 1.0
    for name, why in [
        ("precision", "predicted positive"),
        ("recall", "no row is positive"),
        ("f1", "positive or predicted positive"),
        ("roc_auc", "one class"),
    ]:
        assert got[name].value is None and why in got[name].reason


def test_failed_predictions_are_left_out() -> None:
    log, y, _ = _binary(n=10)
    log["ok"] = [True] * 8 + [False] * 2
    log.loc[8:, "output.proba.1"] = np.nan
    prepared = prepare(log, labels_for(log, y, slice(None)), task="binary", columns=PROBA)
    assert prepared.n == 8


def test_the_prediction_column_wins_over_thresholding_the_scores() -> None:
    frame = pd.DataFrame(
        {"output.prediction": ["yes", "no"], "output.p": [0.2, 0.9], "ground_truth": ["yes", "no"]}
    )
    columns = Columns(prediction="output.prediction", probabilities="output.p")
    prepared = prepare(frame, task="binary", columns=columns, pos_label="yes")
    assert prepared.predicted.tolist() == [True, False]
    assert realised_metrics(prepared, np.arange(2), ("accuracy",))["accuracy"].value == 1.0


def test_multiclass_metrics_match_scikit_learn() -> None:
    rng = np.random.default_rng(4)
    n, classes = 2000, np.array(["a", "b", "c"])
    proba = rng.dirichlet([2.0, 1.0, 1.0], n)
    truth = classes[(proba.cumsum(1) < rng.random((n, 1))).sum(1)]
    frame = pd.DataFrame({f"output.proba.{i}": proba[:, i] for i in range(3)})
    frame["ground_truth"] = truth
    prepared = prepare(frame, task="multiclass", columns=PROBA)
    assert prepared.classes.tolist() == ["a", "b", "c"]
    got = realised_metrics(prepared, np.arange(n), choose_metrics("multiclass", True, None))
    pred = classes[proba.argmax(1)]
    expected = {
        "accuracy": skm.accuracy_score(truth, pred),
        "balanced_accuracy": skm.balanced_accuracy_score(truth, pred),
        "precision_macro": skm.precision_score(truth, pred, average="macro"),
        "recall_macro": skm.recall_score(truth, pred, average="macro"),
        "f1_macro": skm.f1_score(truth, pred, average="macro"),
        "f1_weighted": skm.f1_score(truth, pred, average="weighted"),
        "roc_auc_ovr": skm.roc_auc_score(truth, proba, multi_class="ovr", labels=classes),
        "log_loss": skm.log_loss(truth, proba, labels=classes),
    }
    assert {k: m.value for k, m in got.items()} == pytest.approx(expected, rel=1e-9)
    few = realised_metrics(prepared, np.flatnonzero(truth != "c"), ("roc_auc_ovr",))
    assert few["roc_auc_ovr"].value is None and "every class" in few["roc_auc_ovr"].reason


def test_regression_metrics_match_scikit_learn_and_r2_needs_two_rows() -> None:
    rng = np.random.default_rng(5)
    y = rng.normal(10.0, 3.0, 500)
    frame = pd.DataFrame({"output.prediction": y + rng.normal(0.0, 1.0, 500), "ground_truth": y})
    prepared = prepare(frame, task="regression")
    got = realised_metrics(prepared, np.arange(500), choose_metrics("regression", False, None))
    pred = frame["output.prediction"].to_numpy()
    expected = {
        "mae": skm.mean_absolute_error(y, pred),
        "rmse": skm.root_mean_squared_error(y, pred),
        "mse": skm.mean_squared_error(y, pred),
        "r2": skm.r2_score(y, pred),
        "median_ae": skm.median_absolute_error(y, pred),
    }
    assert {k: m.value for k, m in got.items()} == pytest.approx(expected, rel=1e-9)
    one = realised_metrics(prepared, np.arange(1), ("mae", "r2"))
    assert one["mae"].value is not None and one["r2"].value is None


@pytest.mark.parametrize(
    ("frame", "options", "message"),
    [
        (
            pd.DataFrame({"output.p": [0.2, 1.5]}),
            {"columns": Columns(probabilities="output.p")},
            r"\[0, 1\]",
        ),
        (
            pd.DataFrame({"output.p": [0.2, np.nan]}),
            {"columns": Columns(probabilities="output.p")},
            "row 1",
        ),
        (
            pd.DataFrame({"output.q": [0.2]}),
            {"columns": Columns(probabilities="output.p")},
            "output.q",
        ),
        (pd.DataFrame({"output.p": [0.2]}), {"task": "ranking"}, "task="),
        (pd.DataFrame({"output.p": [0.2]}), {"threshold": 2}, "threshold="),
        (
            pd.DataFrame({"output.p": [0.2, 0.7, 0.5], "ground_truth": [0.0, 1.0, 2.0]}),
            {"columns": Columns(probabilities="output.p")},
            "two classes",
        ),
        (
            pd.DataFrame({f"output.p.{i}": [0.2, 0.3] for i in range(3)}),
            {"columns": Columns(probabilities="output.p")},
            "3 columns",
        ),
    ],
)
def test_bad_prediction_tables_are_refused_with_the_fix(frame, options, message) -> None:
    options = {"task": "binary", **options}
    with pytest.raises(InvalidInput, match=message):
        prepare(frame, **options)


def test_labels_need_ids_and_a_label_column() -> None:
    log, y, _ = _binary(n=5)
    with pytest.raises(InvalidInput, match="prediction_id"):
        prepare(log, pd.DataFrame({"ground_truth": y}), task="binary", columns=PROBA)
    with pytest.raises(InvalidInput, match="label="):
        prepare(
            log, pd.DataFrame({"prediction_id": ["p-0"], "y": [1]}), task="binary", columns=PROBA
        )


def test_unknown_or_unavailable_metrics_are_refused() -> None:
    with pytest.raises(InvalidInput, match="need probabilities"):
        choose_metrics("binary", False, ["roc_auc"])
    with pytest.raises(InvalidInput, match="choose from"):
        choose_metrics("regression", False, ["accuracy"])
