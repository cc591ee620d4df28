"""Realised performance per window: the task's metrics on the rows whose labels have arrived.

Every number comes from `perennia.evaluate.metrics` (the functions the evaluator uses, each
checked against scikit-learn there); this module only picks the rows, decides which metrics a
window can support, and says why when it cannot. Where scikit-learn would return 0 with a
warning (precision with no predicted positives, recall with no positives) the metric is not
computable here instead: a monitor should show a gap, not a collapse to 0.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from perennia.errors import InvalidInput
from perennia.monitoring.model_performance.result import Metric

if TYPE_CHECKING:
    import numpy as np

    from perennia.evaluate.metrics.binary import BinaryCounts
    from perennia.monitoring.model_performance.inputs import Prepared

BINARY = ("accuracy", "precision", "recall", "specificity", "f1", "roc_auc", "log_loss")
MULTICLASS = (
    "accuracy",
    "balanced_accuracy",
    "precision_macro",
    "recall_macro",
    "f1_macro",
    "f1_weighted",
    "roc_auc_ovr",
    "log_loss",
)
REGRESSION = ("mae", "rmse", "mse", "r2", "median_ae")
NEEDS_SCORES = frozenset({"roc_auc", "roc_auc_ovr", "log_loss"})
NO_LABELS = "no labelled predictions in the window"

# The range each metric can take, used to clip alert bounds (None: unbounded on that side).
LIMITS: dict[str, tuple[float | None, float | None]] = {
    "log_loss": (0.0, None),
    "mae": (0.0, None),
    "rmse": (0.0, None),
    "mse": (0.0, None),
    "median_ae": (0.0, None),
    "r2": (None, 1.0),
}


def limits(metric: str) -> tuple[float | None, float | None]:
    """Return the (low, high) range of a metric's values; rates and areas lie in [0, 1]."""
    return LIMITS.get(metric, (0.0, 1.0))


def available_metrics(task: str, has_scores: bool) -> tuple[str, ...]:
    """Return the realised metrics of a task, the score-based ones only when scores exist."""
    names = {"binary": BINARY, "multiclass": MULTICLASS, "regression": REGRESSION}[task]
    return tuple(n for n in names if has_scores or n not in NEEDS_SCORES)


def choose_metrics(task: str, has_scores: bool, metrics: Any) -> tuple[str, ...]:
    """Return the requested metrics after checking each is available for the task."""
    offered = available_metrics(task, has_scores)
    if metrics is None:
        return offered
    if isinstance(metrics, str):
        metrics = [metrics]
    unknown = [m for m in metrics if m not in offered]
    if unknown:
        hint = " (score metrics need probabilities=)" if not has_scores else ""
        raise InvalidInput(
            f"metrics {unknown} are not available for task={task!r}{hint};"
            f" choose from {', '.join(offered)}"
        )
    return tuple(dict.fromkeys(metrics))


def realised_metrics(
    prepared: Prepared, rows: np.ndarray, metrics: tuple[str, ...]
) -> dict[str, Metric]:
    """Return each metric on the labelled rows among `rows` (not computable when none are)."""
    labelled = rows[prepared.labelled[rows]]
    if labelled.size == 0:
        return {name: Metric.missing(NO_LABELS) for name in metrics}
    scores = None if prepared.scores is None else prepared.scores[labelled]
    truth, predicted = prepared.truth[labelled], prepared.predicted[labelled]
    if prepared.task == "binary":
        return binary_metrics(truth, predicted, scores, metrics)
    if prepared.task == "multiclass":
        return _multiclass(truth, predicted, scores, prepared.classes, metrics)
    return _regression(truth, predicted, metrics)


def binary_metrics(
    truth: np.ndarray, predicted: np.ndarray, scores: np.ndarray | None, metrics: tuple[str, ...]
) -> dict[str, Metric]:
    """Return binary metrics of bool labels, bool predictions and positive-class scores."""
    from perennia.evaluate.metrics.binary import BinaryCounts, binary_log_loss
    from perennia.evaluate.metrics.curves import ScoreRanking

    out = count_metrics(BinaryCounts.from_masks(truth, predicted, None), metrics)
    if "roc_auc" in metrics:
        if truth.all() or not truth.any():
            out["roc_auc"] = Metric.missing("the labelled rows hold one class only")
        else:
            out["roc_auc"] = Metric.of(ScoreRanking.from_arrays(truth, scores, None).roc_auc())
    if "log_loss" in metrics:
        out["log_loss"] = Metric.of(binary_log_loss(truth, scores, None))
    return {name: out[name] for name in metrics}


def count_metrics(counts: BinaryCounts, metrics: tuple[str, ...]) -> dict[str, Metric]:
    """Return the label metrics of (possibly expected) confusion counts, None where undefined."""
    rules = {
        "accuracy": (counts.total, counts.accuracy, "the window is empty"),
        "precision": (counts.tp + counts.fp, counts.precision, "no row is predicted positive"),
        "recall": (counts.tp + counts.fn, counts.recall, "no row is positive"),
        "specificity": (counts.tn + counts.fp, counts.specificity, "no row is negative"),
        "f1": (
            counts.tp + counts.fp + counts.fn,
            counts.fbeta,
            "no row is positive or predicted positive",
        ),
    }
    out = {}
    for name, (denominator, formula, reason) in rules.items():
        if name in metrics:
            out[name] = Metric.of(formula()) if denominator > 0 else Metric.missing(reason)
    return out


def _multiclass(
    truth: np.ndarray,
    predicted: np.ndarray,
    scores: np.ndarray | None,
    classes: np.ndarray | None,
    metrics: tuple[str, ...],
) -> dict[str, Metric]:
    import numpy as np

    from perennia.evaluate.metrics import multiclass as mc
    from perennia.monitoring.model_performance.inputs import typed_labels

    y, pred = typed_labels(truth), typed_labels(predicted)
    label_metrics = {
        "accuracy": lambda: mc.accuracy_score(y, pred),
        "balanced_accuracy": lambda: mc.balanced_accuracy_score(y, pred),
        "precision_macro": lambda: mc.precision_score(y, pred, average="macro"),
        "recall_macro": lambda: mc.recall_score(y, pred, average="macro"),
        "f1_macro": lambda: mc.f1_score(y, pred, average="macro"),
        "f1_weighted": lambda: mc.f1_score(y, pred, average="weighted"),
        "log_loss": lambda: mc.log_loss(y, scores, labels=classes),
    }
    out = {name: Metric.of(label_metrics[name]()) for name in metrics if name in label_metrics}
    if "roc_auc_ovr" in metrics:
        if not np.isin(classes, y).all():
            out["roc_auc_ovr"] = Metric.missing("not every class has a labelled row")
        else:
            out["roc_auc_ovr"] = Metric.of(mc.roc_auc_ovr_score(y, scores, labels=classes))
    return {name: out[name] for name in metrics}


def _regression(
    truth: np.ndarray, predicted: np.ndarray, metrics: tuple[str, ...]
) -> dict[str, Metric]:
    from perennia.evaluate.metrics.regression import regression_report

    report = regression_report(truth, predicted)
    out = {name: Metric.of(report[name]) for name in metrics}
    if "r2" in metrics and truth.size < 2:
        out["r2"] = Metric.missing("R² needs at least two labelled rows")
    return out
