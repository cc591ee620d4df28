"""Per-task evaluation: which metrics, curves and tables each task produces.

Each `*_section` fills an `EvaluationResult` from validated arrays; `headline_metrics` is the
cheaper subset recomputed on every bootstrap resample and every slice.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from perennia.errors import InvalidInput
from perennia.evaluate.metrics import multiclass as mc
from perennia.evaluate.metrics._validation import as_binary, as_float, as_weights
from perennia.evaluate.metrics.binary import BinaryCounts, binary_log_loss, brier_from_arrays
from perennia.evaluate.metrics.curves import ScoreRanking
from perennia.evaluate.metrics.regression import regression_report, residual_summary
from perennia.evaluate.metrics.suite import binary_classification_report, sampled_curve, thin
from perennia.evaluate.result import EvaluationResult

DISPLAY_POINTS = 400
RESIDUAL_POINTS = 2000


def binary_section(
    result: EvaluationResult,
    y: np.ndarray,
    score: np.ndarray,
    weights: np.ndarray | None,
    *,
    threshold: float,
    n_bins: int,
    cost_matrix: Any,
    class_names: list[str],
) -> None:
    """Fill `result` with the binary suite: metrics, curves, thresholds and the confusion matrix."""
    report = binary_classification_report(
        y,
        score,
        threshold=threshold,
        sample_weight=weights,
        n_bins=n_bins,
        cost_matrix=cost_matrix,
        curve_points=DISPLAY_POINTS,
    )
    result.metrics.update(report.metrics)
    result.metrics.update(report.operating_points)
    result.threshold = threshold
    result.curves.update({name: _lists(curve) for name, curve in report.curves.items()})
    if report.calibration_quantile is not None:
        # Equal-mass bins draw a steadier reliability diagram: every point has the same support.
        bins = report.calibration_quantile
        result.curves["calibration"] = {
            "mean_predicted": bins.mean_predicted.tolist(),
            "fraction_positive": bins.fraction_positive.tolist(),
            "count": bins.count.tolist(),
        }
    if "pr" in report.curves:
        result.curves["threshold"] = _threshold_curve(report.curves["pr"])
    result.thresholds = {name: choice.to_dict() for name, choice in report.thresholds.items()}
    result.confusion_matrix = {"labels": class_names, "matrix": report.counts.matrix().tolist()}


def _threshold_curve(pr: dict[str, np.ndarray]) -> dict[str, list[float]]:
    precision, recall = pr["precision"][:-1], pr["recall"][:-1]
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(total), where=total > 0)
    curve = {"threshold": pr["thresholds"], "precision": precision, "recall": recall, "f1": f1}
    return _lists(thin(curve, 200))


def multiclass_section(
    result: EvaluationResult,
    y: np.ndarray,
    values: np.ndarray,
    weights: np.ndarray | None,
    classes: np.ndarray | None,
) -> None:
    """Fill `result` with multiclass metrics, per-class scores, one-vs-rest curves and the matrix."""
    if values.ndim == 2:
        labels = classes if classes is not None else np.unique(y)
        predicted = labels[np.argmax(values, axis=1)]
    else:
        labels, predicted = None, values
    result.metrics.update(multiclass_metrics(y, predicted, values, weights, labels))
    found = np.unique(np.concatenate([np.unique(y), np.unique(predicted)]))
    per_class = {
        name: mc._family(name, y, predicted, average=None, sample_weight=weights, labels=found)
        for name in ("precision", "recall", "fbeta")
    }
    support = mc.confusion_matrix(y, predicted, labels=found, sample_weight=weights).sum(axis=1)
    result.per_class = {
        "labels": [str(v) for v in found],
        "precision": per_class["precision"].tolist(),
        "recall": per_class["recall"].tolist(),
        "f1": per_class["fbeta"].tolist(),
        "support": support.tolist(),
    }
    matrix = mc.confusion_matrix(y, predicted, labels=found, sample_weight=weights)
    result.confusion_matrix = {"labels": [str(v) for v in found], "matrix": matrix.tolist()}
    if values.ndim == 2 and labels is not None:
        curves = {}
        for column, label in enumerate(labels):
            ranking = ScoreRanking.from_arrays(y == label, values[:, column], weights)
            if ranking.positives > 0 and ranking.negatives > 0:
                roc = sampled_curve(ranking, DISPLAY_POINTS, "roc")
                curves[str(label)] = {"fpr": roc["fpr"].tolist(), "tpr": roc["tpr"].tolist()}
        result.curves["roc_ovr"] = curves


def multiclass_metrics(
    y: np.ndarray,
    predicted: np.ndarray,
    values: np.ndarray,
    weights: np.ndarray | None,
    labels: np.ndarray | None,
) -> dict[str, float]:
    """Return the multiclass headline metrics (probability ones only with probabilities)."""
    w = {"sample_weight": weights}
    out = {
        "accuracy": mc.accuracy_score(y, predicted, **w),
        "balanced_accuracy": mc.balanced_accuracy_score(y, predicted, **w),
        "precision_macro": mc.precision_score(y, predicted, average="macro", **w),
        "recall_macro": mc.recall_score(y, predicted, average="macro", **w),
        "f1_macro": mc.f1_score(y, predicted, average="macro", **w),
        "f1_micro": mc.f1_score(y, predicted, average="micro", **w),
        "f1_weighted": mc.f1_score(y, predicted, average="weighted", **w),
        "cohen_kappa": mc.cohen_kappa_score(y, predicted, **w),
        "matthews_corrcoef": mc.matthews_corrcoef(y, predicted, **w),
    }
    if values.ndim == 2 and labels is not None:
        out["log_loss"] = mc.log_loss(y, values, labels=labels, **w)
        if labels.size > 2:
            out["top_2_accuracy"] = mc.top_k_accuracy_score(y, values, k=2, labels=labels, **w)
        if np.isin(labels, y).all():
            out["roc_auc_ovr"] = mc.roc_auc_ovr_score(y, values, labels=labels, **w)
    return out


def regression_section(
    result: EvaluationResult, y: np.ndarray, predicted: np.ndarray, weights: np.ndarray | None
) -> None:
    """Fill `result` with regression metrics and a sample of residuals for the plots."""
    result.metrics.update(regression_report(y, predicted, sample_weight=weights))
    summary = residual_summary(y, predicted, sample_weight=weights)
    result.metrics.update({f"residual_{k}": v for k, v in summary.items() if k in ("mean", "std")})
    rows = np.arange(y.size)
    if y.size > RESIDUAL_POINTS:
        rows = np.sort(np.random.default_rng(0).choice(y.size, RESIDUAL_POINTS, replace=False))
    result.curves["residuals"] = {
        "predicted": predicted[rows].tolist(),
        "residual": (y[rows] - predicted[rows]).tolist(),
        "summary": summary,
    }


def ranking_section(
    result: EvaluationResult, y: np.ndarray, score: np.ndarray, query: np.ndarray, k: int
) -> None:
    """Fill `result` with the ranking metrics."""
    from perennia.evaluate.metrics.ranking import ranking_report

    result.metrics.update(ranking_report(y, score, query_id=query, k=k))


def headline_metrics(
    task: str,
    y: np.ndarray,
    values: np.ndarray,
    weights: np.ndarray | None,
    *,
    threshold: float = 0.5,
    labels: np.ndarray | None = None,
    query: np.ndarray | None = None,
    k: int = 10,
) -> dict[str, float]:
    """Return the main metrics of one task on (a resample or slice of) the rows; NaN if undefined."""
    if task == "binary":
        return _binary_headline(y, values, weights, threshold)
    if task == "multiclass":
        predicted = labels[np.argmax(values, axis=1)] if values.ndim == 2 else values
        return _guard(lambda: multiclass_metrics(y, predicted, values, weights, labels))
    if task == "regression":
        return regression_report(y, values, sample_weight=weights)
    from perennia.evaluate.metrics.ranking import ranking_report

    return _guard(lambda: ranking_report(y, values, query_id=query, k=k))


def _binary_headline(
    y: np.ndarray, score: np.ndarray, weights: np.ndarray | None, threshold: float
) -> dict[str, float]:
    counts = BinaryCounts.from_masks(y, score >= threshold, weights)
    out = {
        "accuracy": counts.accuracy(),
        "precision": counts.precision(),
        "recall": counts.recall(),
        "specificity": counts.specificity(),
        "f1": counts.fbeta(1.0),
        "balanced_accuracy": counts.balanced_accuracy(),
        "matthews_corrcoef": counts.matthews(),
    }
    ranking = ScoreRanking.from_arrays(y, score, weights)
    both = ranking.positives > 0 and ranking.negatives > 0
    out["roc_auc"] = ranking.roc_auc() if both else float("nan")
    out["recall_at_fpr_1pct"] = ranking.recall_at_fpr(0.01) if both else float("nan")
    out["pr_auc"] = ranking.average_precision() if ranking.positives > 0 else float("nan")
    if score.min() >= 0 and score.max() <= 1:
        out["log_loss"] = binary_log_loss(y, score, weights)
        out["brier_score"] = brier_from_arrays(y, score, weights)
    return out


def _guard(compute: Any) -> dict[str, float]:
    try:
        return compute()
    except InvalidInput:
        return {}


def binary_arrays(
    y_true: np.ndarray, score: np.ndarray, weights: Any, pos_label: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Return validated (bool labels, float scores, weights) for the binary task."""
    y = as_binary(y_true, "targets", pos_label=pos_label)
    values = as_float(score, "predictions", allow_inf=True)
    if values.size != y.size:
        raise InvalidInput(f"the model gave {values.size} predictions for {y.size} rows of targets")
    return y, values, as_weights(weights, y.size)


def _lists(curve: dict[str, np.ndarray]) -> dict[str, list[float]]:
    return {name: np.asarray(values, dtype=np.float64).tolist() for name, values in curve.items()}
