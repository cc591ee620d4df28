"""The metrics permutation importance scores with, by scikit-learn's scorer names.

Each name reads the response scikit-learn's scorer reads (labels, the positive class's
probability or decision function, or every class's probability) and is "greater is better",
losses negated (`neg_log_loss`), so an importance is always the drop in score. The metric
functions are Perennia's own (`evaluate.metrics`), which agree with scikit-learn's to
floating-point noise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from perennia.errors import InvalidInput

# name -> (response, metric function in perennia.evaluate.metrics, sign)
SCORERS: dict[str, tuple[str, str, int]] = {
    "accuracy": ("predict", "accuracy_score", 1),
    "balanced_accuracy": ("predict", "balanced_accuracy_score", 1),
    "r2": ("predict", "r2_score", 1),
    "explained_variance": ("predict", "explained_variance_score", 1),
    "neg_mean_squared_error": ("predict", "mean_squared_error", -1),
    "neg_root_mean_squared_error": ("predict", "root_mean_squared_error", -1),
    "neg_mean_absolute_error": ("predict", "mean_absolute_error", -1),
    "roc_auc": ("score", "roc_auc_score", 1),
    "roc_auc_ovr": ("proba", "roc_auc_ovr_score", 1),
    "neg_log_loss": ("proba", "log_loss", -1),
    "neg_brier_score": ("positive", "brier_score_loss", -1),
}


@dataclass(frozen=True)
class Scorer:
    """A metric to score a model with: the response it reads and a greater-is-better score."""

    name: str
    response: str  # "predict", "proba", "positive" (probability) or "score" (or decision)
    score: Callable[[Any, Any, Any], float]  # (y_true, response, sample_weight) -> score


def scorer_for(metric: Any, classes: list[Any] | None, *, greater_is_better: bool) -> Scorer:
    """Return the scorer `metric` names (a name of SCORERS, or metric(y_true, y_pred))."""
    if callable(metric):
        sign = 1.0 if greater_is_better else -1.0
        name = getattr(metric, "__name__", "metric")
        return Scorer(name, "predict", lambda y, out, w: sign * float(metric(y, out)))
    if metric not in SCORERS:
        raise InvalidInput(
            f"metric must be a function metric(y_true, y_pred) or one of "
            f"{', '.join(SCORERS)}; got {metric!r}"
        )
    response, function_name, sign = SCORERS[metric]
    from perennia.evaluate import metrics

    function = getattr(metrics, function_name)
    options: dict[str, Any] = {}
    if classes is not None and metric in ("neg_log_loss", "roc_auc_ovr"):
        options["labels"] = classes  # every class, even one a sample lacks
    if classes is not None and len(classes) == 2 and response in ("score", "positive"):
        options["pos_label"] = classes[1]

    def score(y: Any, out: Any, weights: Any) -> float:
        return sign * float(function(y, out, sample_weight=weights, **options))

    return Scorer(str(metric), response, score)


def default_metric(classifier: bool) -> str:
    """Return scikit-learn's default score for an estimator: accuracy, or r2 for a regressor."""
    return "accuracy" if classifier else "r2"


def responder(model: Any, response: str) -> Callable[[Any], Any]:
    """Return a function giving the model's `response` for input rows, as a numpy array."""
    import numpy as np

    from perennia._util import tables

    if response == "predict":
        call = model.predict if hasattr(model, "predict") else model
        return lambda rows: tables.to_numpy(call(rows), "the model's predictions")
    proba = getattr(model, "predict_proba", None)
    if response == "score" and proba is None and hasattr(model, "decision_function"):
        return lambda rows: np.asarray(tables.to_numpy(model.decision_function(rows)), float)
    if proba is None:
        raise InvalidInput(
            f"this metric reads class probabilities and a {type(model).__name__} has no "
            "predict_proba; pick a metric on predictions (e.g. 'accuracy')"
        )

    def probabilities(rows: Any) -> Any:
        values = np.asarray(tables.to_numpy(proba(rows)), dtype=np.float64)
        if response != "proba" and values.ndim == 2:
            if values.shape[1] != 2:
                raise InvalidInput(
                    f"this metric is binary and the model gives {values.shape[1]} class "
                    "probabilities; use 'roc_auc_ovr' or 'neg_log_loss'"
                )
            return values[:, 1]
        return values

    return probabilities
