"""Helpers for the HTML report tests: realistic result dicts and a parser for the rendered page."""

from __future__ import annotations

from html.parser import HTMLParser

import numpy as np

# ---------------------------------------------------------------- realistic result dicts


def thin(*arrays, points=150):
    keep = np.unique(np.linspace(0, len(arrays[0]) - 1, points).round().astype(int))
    return [np.asarray(a)[keep] for a in arrays]


def clean(values):
    return [None if not np.isfinite(v) else float(v) for v in values]


def _binary_curves(y, p):
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import precision_recall_curve, roc_curve

    fpr, tpr, thr = thin(*roc_curve(y, p))
    precision, recall = thin(*precision_recall_curve(y, p)[:2])
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
        "roc": {"fpr": clean(fpr), "tpr": clean(tpr), "thresholds": clean(thr)},
        "pr": {"recall": clean(recall), "precision": clean(precision), "thresholds": []},
        "calibration": {
            "mean_predicted": clean(mean_pred),
            "fraction_positive": clean(frac_pos),
            "count": counts[counts > 0].tolist(),
        },
        "threshold": {
            "threshold": clean(grid),
            "precision": clean(prec),
            "recall": clean(rec),
            "f1": clean(2 * prec * rec / np.maximum(prec + rec, 1e-12)),
            "fpr": clean(fp / (y == 0).sum()),
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


def build_binary_result(data, name="churn-logreg", columns=slice(None)):
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


# ---------------------------------------------------------------- the rendered page


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
