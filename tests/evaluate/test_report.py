"""The HTML report: sections, numbers, escaping, self-containment, and a real browser render."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from perennia._util.report import format as fmt
from perennia.evaluate.report import render_comparison, render_evaluation
from perennia.evaluate.result import EvaluationResult
from tests.browser import needs_browser, offline_page

EVALUATION_ORDER = [
    "headline",
    "metrics",
    "curves",
    "confusion",
    "threshold",
    "lift",
    "per-class",
    "roc-ovr",
    "residuals",
    "slices",
    "fairness",
    "robustness",
]


# ---------------------------------------------------------------- realistic result dicts


def _thin(*arrays, points=150):
    keep = np.unique(np.linspace(0, len(arrays[0]) - 1, points).round().astype(int))
    return [np.asarray(a)[keep] for a in arrays]


def _clean(values):
    return [None if not np.isfinite(v) else float(v) for v in values]


def _binary_curves(y, p):
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import precision_recall_curve, roc_curve

    fpr, tpr, thr = _thin(*roc_curve(y, p))
    precision, recall = _thin(*precision_recall_curve(y, p)[:2])
    frac_pos, mean_pred = calibration_curve(y, p, n_bins=10)
    counts = np.histogram(p, bins=np.linspace(0, 1, 11))[0]
    grid = np.linspace(0.02, 0.98, 49)
    pred = p[None, :] >= grid[:, None]
    tp, fp = (pred & (y == 1)).sum(1), (pred & (y == 0)).sum(1)
    prec, rec = tp / np.maximum(tp + fp, 1), tp / (y == 1).sum()
    order = np.argsort(-p)
    fraction = np.arange(1, 11) / 10
    gain = [y[order][: int(f * len(y))].sum() / y.sum() for f in fraction]
    return {
        "roc": {"fpr": _clean(fpr), "tpr": _clean(tpr), "thresholds": _clean(thr)},
        "pr": {"recall": _clean(recall), "precision": _clean(precision), "thresholds": []},
        "calibration": {
            "mean_predicted": _clean(mean_pred),
            "fraction_positive": _clean(frac_pos),
            "count": counts[counts > 0].tolist(),
        },
        "threshold": {
            "threshold": _clean(grid),
            "precision": _clean(prec),
            "recall": _clean(rec),
            "f1": _clean(2 * prec * rec / np.maximum(prec + rec, 1e-12)),
            "fpr": _clean(fp / (y == 0).sum()),
        },
        "lift": {
            "fraction": fraction.tolist(),
            "gain": gain,
            "lift": [g / f for g, f in zip(gain, fraction, strict=True)],
        },
    }


def _fairness(y, pred, group):
    rows = []
    for name in sorted(set(group)):
        m = group == name
        pos, sel = y[m] == 1, pred[m] == 1
        rows.append(
            {
                "group": name,
                "count": int(m.sum()),
                "weight": float(m.sum()),
                "selection_rate": float(sel.mean()),
                "tpr": float(sel[pos].mean()),
                "fpr": float(sel[~pos].mean()),
                "precision": float(pos[sel].mean()),
                "accuracy": float((sel == pos).mean()),
                "error_rate": float((sel != pos).mean()),
                "benefit": None,
                "positives": int(pos.sum()),
                "predicted_positives": int(sel.sum()),
            }
        )
    ref = max(rows, key=lambda r: r["count"])
    low = min(rows, key=lambda r: r["selection_rate"])
    impact = low["selection_rate"] / max(ref["selection_rate"], 1e-9)
    return {
        "features": ["region"],
        "reference_group": ref["group"],
        "groups": rows,
        "disparities": {
            "disparate_impact": {
                "value": impact,
                "reference_group": ref["group"],
                "worst_group": low["group"],
                "description": "Lowest selection rate over the reference group's; below 0.8 fails.",
            },
            "equalized_odds_difference": {
                "value": 0.12,
                "reference_group": ref["group"],
                "worst_group": low["group"],
                "description": "Largest TPR or FPR gap; 0 is parity.",
            },
        },
        "four_fifths_violations": [
            r["group"] for r in rows if r["selection_rate"] < 0.8 * ref["selection_rate"]
        ],
    }


@pytest.fixture(scope="module")
def binary_data():
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    x, y = make_classification(3000, n_features=8, weights=[0.7, 0.3], random_state=0)
    return x[:2000], y[:2000], x[2000:], y[2000:], LogisticRegression(max_iter=500)


def _chosen(curves, method):
    if method == "youden":
        roc = curves["roc"]
        k = int(np.argmax(np.subtract(roc["tpr"][1:], roc["fpr"][1:]))) + 1
        t, tpr, fpr = roc["thresholds"][k], roc["tpr"][k], roc["fpr"][k]
        return {
            "threshold": t,
            "value": tpr - fpr,
            "tpr": tpr,
            "fpr": fpr,
            "precision": None,
            "recall": tpr,
        }
    tc = curves["threshold"]
    k = int(np.argmax(tc["f1"]))
    return {
        "threshold": tc["threshold"][k],
        "value": tc["f1"][k],
        "tpr": tc["recall"][k],
        "fpr": tc["fpr"][k],
        "precision": tc["precision"][k],
        "recall": tc["recall"][k],
    }


def _binary_result(data, name="churn-logreg", columns=slice(None)):
    from sklearn import metrics as m

    x_train, y_train, x_test, y_test, model = data
    p = model.fit(x_train[:, columns], y_train).predict_proba(x_test[:, columns])[:, 1]
    pred = (p >= 0.5).astype(int)
    rng = np.random.default_rng(1)
    east = (rng.random(len(p)) < 0.45) & (p < 0.7)
    group = np.where(east, "<b>east</b>", np.where(rng.random(len(p)) < 0.6, "north", "south"))
    auc, f1 = m.roc_auc_score(y_test, p), m.f1_score(y_test, pred)
    metrics = {
        "accuracy": m.accuracy_score(y_test, pred),
        "precision": m.precision_score(y_test, pred),
        "recall": m.recall_score(y_test, pred),
        "f1": f1,
        "roc_auc": auc,
        "pr_auc": m.average_precision_score(y_test, p),
        "log_loss": m.log_loss(y_test, p),
        "brier_score": m.brier_score_loss(y_test, p),
        "matthews_corrcoef": None,
        "custom_metric_xyz": 12345.678,
    }
    curves = _binary_curves(y_test, p)
    cal = curves["calibration"]
    gaps = np.abs(np.subtract(cal["fraction_positive"], cal["mean_predicted"]))
    metrics["ece"] = float(np.dot(gaps, cal["count"]) / len(p))
    return {
        "task": "binary",
        "dataset_name": "holdout-2024",
        "n_rows": len(y_test),
        "model_name": name,
        "threshold": 0.5,
        "metrics": {k: float(v) if v is not None else None for k, v in metrics.items()},
        "intervals": {"roc_auc": [auc - 0.02, auc + 0.015], "f1": [f1 - 0.03, f1 + 0.03]},
        "curves": curves,
        "confusion_matrix": {"labels": [0, 1], "matrix": m.confusion_matrix(y_test, pred).tolist()},
        "thresholds": {"youden": _chosen(curves, "youden"), "f1": _chosen(curves, "f1")},
        "slices": [
            {
                "slice": "segment",
                "value": v,
                "count": int(n),
                "metrics": {"accuracy": a, "roc_auc": r, "f1": None},
            }
            for v, n, a, r in (("retail", 600, 0.91, 0.95), ("<i>enterprise</i>", 400, 0.71, 0.81))
        ],
        "fairness": _fairness(y_test, pred, group),
        "robustness": [
            {
                "check": "gaussian_noise",
                "target": "all features",
                "metric": "roc_auc",
                "baseline": auc,
                "value": auc - 0.004,
                "change": -0.004,
                "status": "ok",
                "detail": None,
            },
            {
                "check": "feature_dropout",
                "target": "x3",
                "metric": "roc_auc",
                "baseline": auc,
                "value": auc - 0.09,
                "change": -0.09,
                "status": "degraded",
                "detail": "drop above 0.05",
            },
            {
                "check": "missing_values",
                "target": "x1",
                "metric": "roc_auc",
                "baseline": auc,
                "value": None,
                "change": None,
                "status": "error",
                "detail": "ValueError: Input contains NaN <script>x</script>",
            },
        ],
    }


@pytest.fixture(scope="module")
def binary_result(binary_data):
    return _binary_result(binary_data)


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
        fpr, tpr = _thin(*roc_curve(y_test == k, proba[:, k])[:2])
        ovr[lab] = {"fpr": _clean(fpr), "tpr": _clean(tpr)}
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
    baseline = _binary_result(binary_data, name="baseline-5feat", columns=slice(2, 7))
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


# ---------------------------------------------------------------- structure


class Page(HTMLParser):
    """Collects what the tests check: section ids, tags, attributes, SVGs, text, CSS."""

    def __init__(self, document: str):
        super().__init__(convert_charrefs=True)
        self.sections, self.svgs, self.tags, self.attrs, self.text, self.css = (
            [],
            [],
            [],
            [],
            [],
            [],
        )
        self._in_style = False
        self.feed(document)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        self.attrs += [(tag, k, v or "") for k, v in attrs.items()]
        if tag == "section" and attrs.get("id"):
            self.sections.append(attrs["id"])
        if tag == "svg":
            self.svgs.append(attrs)
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False if tag == "style" else self._in_style

    def handle_data(self, data):
        (self.css if self._in_style else self.text).append(data)

    @property
    def body_text(self) -> str:
        return " ".join(self.text)


def test_binary_report_shows_every_section_in_order(binary_result):
    page = Page(render_evaluation(binary_result))
    assert page.sections == [
        s for s in EVALUATION_ORDER if s not in {"per-class", "roc-ovr", "residuals"}
    ]
    assert "ROC AUC" in page.body_text and "Four-fifths rule" in page.body_text


def test_multiclass_and_regression_reports_show_their_own_sections(
    multiclass_result, regression_result
):
    multi = Page(render_evaluation(multiclass_result)).sections
    assert multi == ["headline", "metrics", "confusion", "per-class", "roc-ovr"]
    assert Page(render_evaluation(regression_result)).sections == [
        "headline",
        "metrics",
        "residuals",
    ]


def test_empty_or_missing_data_renders_without_sections():
    for result in (
        {},
        {
            "task": "binary",
            "dataset_name": "d",
            "n_rows": 0,
            "metrics": {},
            "curves": {},
            "confusion_matrix": None,
            "per_class": None,
            "fairness": None,
            "slices": [],
            "robustness": [],
        },
    ):
        page = Page(render_evaluation(result))
        assert page.sections == [] and "nothing more to show" in page.body_text


def test_none_values_anywhere_render_as_dashes(binary_result):
    result = {
        **binary_result,
        "n_rows": None,
        "metrics": {k: None for k in binary_result["metrics"]},
    }
    result["curves"] = {
        "roc": {
            "fpr": [None, 0.0, 0.5, 1.0],
            "tpr": [None, 0.0, None, 1.0],
            "thresholds": [None] * 4,
        }
    }
    text = Page(render_evaluation(result)).body_text
    assert fmt.DASH in text and "None" not in text


def test_numbers_are_formatted_for_people(binary_result):
    text = Page(render_evaluation({**binary_result, "n_rows": 1234567})).body_text
    assert (
        "1,234,567" in text
        and fmt.number(binary_result["metrics"]["f1"]) in text
        and "12,346" in text
    )
    assert [fmt.number(v) for v in (None, 0.812345, 12, 1234567.8, 3e-7, float("nan"), True)] == [
        "—",
        "0.8123",
        "12",
        "1,234,568",
        "3.000e-07",
        "—",
        "yes",
    ]


def test_user_strings_are_escaped(binary_result, comparison):
    evil = '<script>alert("x")</script>'
    for document in (
        render_evaluation({**binary_result, "model_name": evil}),
        render_comparison({**comparison, "candidate": evil, "baseline": evil}),
    ):
        page = Page(document)
        assert "script" not in page.tags and "b" not in page.tags and "i" not in page.tags
        assert "&lt;script&gt;" in document
    assert "&lt;b&gt;east&lt;/b&gt;" in render_evaluation(binary_result)


def _external(page: Page) -> list[str]:
    found = [
        v
        for _, k, v in page.attrs
        if k in {"src", "href", "xlink:href", "action"} and not v.startswith("#")
    ]
    css = "".join(page.css)
    found += re.findall(r"@import|url\(", css)
    return found + [t for t in page.tags if t in {"script", "link", "img", "iframe", "object"}]


def test_reports_reference_no_external_resources(binary_result, comparison):
    for document in (render_evaluation(binary_result), render_comparison(comparison)):
        page = Page(document)
        assert _external(page) == []
        stripped = document.replace('xmlns="http://www.w3.org/2000/svg"', "")
        assert "http://" not in stripped and "https://" not in stripped


def test_every_chart_is_a_scalable_labelled_svg(
    binary_result, multiclass_result, regression_result
):
    for result in (binary_result, multiclass_result, regression_result):
        page = Page(render_evaluation(result))
        assert page.svgs
        for attrs in page.svgs:
            assert re.fullmatch(r"0 0 \d+ \d+", attrs["viewbox"]) and attrs.get("aria-label")
    assert len(Page(render_evaluation(binary_result)).svgs) == 9


def test_comparison_shows_verdict_gates_and_both_models(comparison):
    document = render_comparison(comparison)
    page = Page(document)
    assert page.sections == ["gates", "side-by-side", "overlays"]
    assert "FAIL — 1 of 2 gates passed." in page.body_text
    assert (
        "candidate: churn-logreg" in page.body_text and "baseline: baseline-5feat" in page.body_text
    )
    passing = render_comparison({**comparison, "passed": True, "gates": comparison["gates"][:1]})
    assert "PASS — 1 of 1 gates passed." in Page(passing).body_text


def test_save_html_writes_the_report(tmp_path, regression_result):
    fields = {k: v for k, v in regression_result.items()}
    path = EvaluationResult(**fields).save_html(tmp_path / "r.html")
    assert Page(path.read_text(encoding="utf-8")).sections == ["headline", "metrics", "residuals"]


# ---------------------------------------------------------------- a real browser


def _browse(document: str, path: Path) -> None:
    path.write_text(document, encoding="utf-8")
    with offline_page(path) as visit:
        boxes = visit.chart_boxes()
        visit.page.screenshot(path=path.with_suffix(".png"), full_page=True)
    assert visit.outside_requests() == []
    assert visit.errors == []
    assert boxes and all(b and b["width"] > 100 and b["height"] > 50 for b in boxes)


@needs_browser
def test_reports_render_offline_in_chromium(tmp_path, binary_result, comparison):
    _browse(render_evaluation(binary_result), tmp_path / "binary.html")
    _browse(render_comparison(comparison), tmp_path / "compare.html")
