"""Binary classification metrics from the four confusion counts.

`BinaryCounts` holds the (weighted) true/false positives and negatives at one decision; every
label metric here is a formula over them, so the evaluator computes the counts once and reads
all metrics off them. Division by zero gives `zero_division` (0.0 by default), as in
scikit-learn; Matthews correlation is 0.0 when any margin is empty, as in scikit-learn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from perennia.errors import InvalidInput
from perennia.evaluate.metrics._validation import (
    as_binary,
    as_float,
    as_probability,
    as_weights,
    divide,
    row_slices,
    same_length,
)

__all__ = [
    "BinaryCounts",
    "brier_score_loss",
    "false_positive_rate",
    "geometric_mean_score",
    "specificity_score",
    "true_positive_rate",
]


@dataclass(frozen=True)
class BinaryCounts:
    """Weighted true positives, false positives, false negatives and true negatives."""

    tp: float
    fp: float
    fn: float
    tn: float

    @classmethod
    def from_labels(
        cls, y_true: Any, y_pred: Any, *, pos_label: Any = 1, sample_weight: Any = None
    ) -> BinaryCounts:
        """Return the counts of binary predictions `y_pred` against `y_true`."""
        y = as_binary(y_true, "y_true", pos_label=pos_label)
        pred = as_binary(y_pred, "y_pred", pos_label=pos_label)
        n = same_length(y_true=y, y_pred=pred)
        return cls.from_masks(y, pred, as_weights(sample_weight, n))

    @classmethod
    def from_masks(
        cls, y: np.ndarray, pred: np.ndarray, weights: np.ndarray | None
    ) -> BinaryCounts:
        """Return the counts of validated bool arrays, optionally weighted."""
        if weights is None:
            positives = float(np.count_nonzero(y))
            predicted = float(np.count_nonzero(pred))
            tp = float(np.count_nonzero(y & pred))
            fp, fn = predicted - tp, positives - tp
            return cls(tp, fp, fn, float(y.size) - tp - fp - fn)
        # Each cell summed on its own: differences of float sums could round below zero.
        return cls(
            float(weights @ (y & pred)),
            float(weights @ (~y & pred)),
            float(weights @ (y & ~pred)),
            float(weights @ ~(y | pred)),
        )

    @property
    def total(self) -> float:
        """Return the number (or weight) of all rows."""
        return self.tp + self.fp + self.fn + self.tn

    def accuracy(self) -> float:
        """Return the share of rows predicted correctly."""
        return (self.tp + self.tn) / self.total

    def precision(self, zero_division: float = 0.0) -> float:
        """Return TP / (TP + FP)."""
        return divide(self.tp, self.tp + self.fp, zero_division)

    def recall(self, zero_division: float = 0.0) -> float:
        """Return TP / (TP + FN), the true positive rate."""
        return divide(self.tp, self.tp + self.fn, zero_division)

    def specificity(self, zero_division: float = 0.0) -> float:
        """Return TN / (TN + FP), the true negative rate."""
        return divide(self.tn, self.tn + self.fp, zero_division)

    def false_positive_rate(self, zero_division: float = 0.0) -> float:
        """Return FP / (FP + TN)."""
        return divide(self.fp, self.fp + self.tn, zero_division)

    def fbeta(self, beta: float = 1.0, zero_division: float = 0.0) -> float:
        """Return the F-beta score, (1 + b²)TP / ((1 + b²)TP + b²FN + FP)."""
        b2 = beta * beta
        numerator = (1 + b2) * self.tp
        return divide(numerator, numerator + b2 * self.fn + self.fp, zero_division)

    def balanced_accuracy(self) -> float:
        """Return the mean recall of the classes present in y_true."""
        rates = []
        if self.tp + self.fn > 0:
            rates.append(self.tp / (self.tp + self.fn))
        if self.tn + self.fp > 0:
            rates.append(self.tn / (self.tn + self.fp))
        return float(np.mean(rates))

    def geometric_mean(self) -> float:
        """Return sqrt(TPR x TNR); a class absent from y_true makes its rate 0."""
        return math.sqrt(self.recall() * self.specificity())

    def matthews(self) -> float:
        """Return the Matthews correlation coefficient (0.0 when a margin is empty)."""
        # The same arithmetic as scikit-learn's multiclass formula, so results agree bit for bit.
        n = self.total
        true_sums = np.array([self.tn + self.fp, self.fn + self.tp])
        pred_sums = np.array([self.tn + self.fn, self.fp + self.tp])
        cov_ytyp = (self.tp + self.tn) * n - float(true_sums @ pred_sums)
        cov_ypyp = n * n - float(pred_sums @ pred_sums)
        cov_ytyt = n * n - float(true_sums @ true_sums)
        if cov_ypyp * cov_ytyt == 0:
            return 0.0
        return float(cov_ytyp / math.sqrt(cov_ytyt * cov_ypyp))

    def matrix(self) -> np.ndarray:
        """Return [[TN, FP], [FN, TP]]: rows are the true class, columns the prediction."""
        return np.array([[self.tn, self.fp], [self.fn, self.tp]])


def true_positive_rate(
    y_true: Any, y_pred: Any, *, pos_label: Any = 1, sample_weight: Any = None
) -> float:
    """Return the true positive rate (recall, sensitivity) of binary predictions."""
    counts = BinaryCounts.from_labels(
        y_true, y_pred, pos_label=pos_label, sample_weight=sample_weight
    )
    return counts.recall()


def specificity_score(
    y_true: Any, y_pred: Any, *, pos_label: Any = 1, sample_weight: Any = None
) -> float:
    """Return the specificity (true negative rate) of binary predictions."""
    counts = BinaryCounts.from_labels(
        y_true, y_pred, pos_label=pos_label, sample_weight=sample_weight
    )
    return counts.specificity()


def false_positive_rate(
    y_true: Any, y_pred: Any, *, pos_label: Any = 1, sample_weight: Any = None
) -> float:
    """Return the false positive rate, FP / (FP + TN), of binary predictions."""
    counts = BinaryCounts.from_labels(
        y_true, y_pred, pos_label=pos_label, sample_weight=sample_weight
    )
    return counts.false_positive_rate()


def geometric_mean_score(
    y_true: Any, y_pred: Any, *, pos_label: Any = 1, sample_weight: Any = None
) -> float:
    """Return the geometric mean of the true positive and true negative rates."""
    counts = BinaryCounts.from_labels(
        y_true, y_pred, pos_label=pos_label, sample_weight=sample_weight
    )
    return counts.geometric_mean()


def brier_score_loss(
    y_true: Any, y_prob: Any, *, pos_label: Any = 1, sample_weight: Any = None
) -> float:
    """Return the mean squared difference between predicted probability and outcome."""
    y = as_binary(y_true, "y_true", pos_label=pos_label)
    prob = as_probability(y_prob, "y_prob")
    weights = as_weights(sample_weight, same_length(y_true=y, y_prob=prob))
    return brier_from_arrays(y, prob, weights)


def brier_from_arrays(y: np.ndarray, prob: np.ndarray, weights: np.ndarray | None) -> float:
    """Return the Brier score of validated arrays."""
    total = 0.0
    for part in row_slices(y.size):
        error = prob[part] - y[part]
        error *= error
        total += float(error.sum() if weights is None else weights[part] @ error)
    return total / (y.size if weights is None else float(weights.sum()))


def binary_log_loss(y: np.ndarray, prob: np.ndarray, weights: np.ndarray | None) -> float:
    """Return the binary cross-entropy of validated arrays, clipping as scikit-learn does."""
    eps = np.finfo(np.float64).eps
    total = 0.0
    for part in row_slices(y.size):
        p = prob[part]
        # Probability given to the true class: p for positives, 1 - p for negatives.
        chosen = np.where(y[part], p, 1.0 - p)
        np.clip(chosen, eps, 1 - eps, out=chosen)
        np.log(chosen, out=chosen)
        total += float(chosen.sum() if weights is None else weights[part] @ chosen)
    return -total / (y.size if weights is None else float(weights.sum()))


def scores_as_probability(y_score: Any, name: str = "y_prob") -> np.ndarray:
    """Return probabilities, or raise naming the fix when scores are not in [0, 1]."""
    try:
        return as_probability(y_score, name)
    except InvalidInput:
        values = as_float(y_score, name, allow_inf=True)
        raise InvalidInput(
            f"{name} must be probabilities in [0, 1] for this metric (found values from "
            f"{values.min():.4g} to {values.max():.4g}); use predict_proba, not decision_function"
        ) from None
