"""Calibration: do predicted probabilities match observed frequencies?

Bins follow scikit-learn's `calibration_curve`: "uniform" splits [0, 1] into equal-width bins,
"quantile" into bins holding equal numbers of rows (edges at the percentiles of y_prob), and a
probability equal to an inner edge falls in the lower bin. Empty bins are left out.

- expected calibration error (ECE) = sum over bins of (bin weight / total weight) x
  |fraction of positives - mean predicted probability|;
- maximum calibration error (MCE) = the largest of those gaps over non-empty bins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from perennia.errors import InvalidInput
from perennia.evaluate.metrics._validation import (
    as_binary,
    as_probability,
    as_weights,
    row_slices,
    same_length,
)

__all__ = [
    "CalibrationBins",
    "calibration_curve",
    "expected_calibration_error",
    "maximum_calibration_error",
]

_STRATEGIES = ("uniform", "quantile")


@dataclass(frozen=True)
class CalibrationBins:
    """Per non-empty bin: row count, weight, mean predicted probability, share of positives."""

    count: np.ndarray
    weight: np.ndarray
    mean_predicted: np.ndarray
    fraction_positive: np.ndarray

    @classmethod
    def build(
        cls,
        y_true: Any,
        y_prob: Any,
        *,
        n_bins: int = 10,
        strategy: str = "uniform",
        sample_weight: Any = None,
        pos_label: Any = 1,
    ) -> CalibrationBins:
        """Return the bins of `y_prob` against binary `y_true`."""
        y = as_binary(y_true, "y_true", pos_label=pos_label)
        prob = as_probability(y_prob, "y_prob")
        weights = as_weights(sample_weight, same_length(y_true=y, y_prob=prob))
        return cls.from_arrays(y, prob, weights, n_bins=n_bins, strategy=strategy)

    @classmethod
    def from_arrays(
        cls,
        y: np.ndarray,
        prob: np.ndarray,
        weights: np.ndarray | None,
        *,
        n_bins: int = 10,
        strategy: str = "uniform",
        sorted_prob: np.ndarray | None = None,
    ) -> CalibrationBins:
        """Return the bins of validated arrays; `sorted_prob` saves the quantile strategy a sort."""
        edges = bin_edges(prob, n_bins, strategy, sorted_prob=sorted_prob)
        count, weight, prob_sum, positive_sum = _bin_sums(y, prob, weights, edges)
        used = weight > 0
        return cls(
            count[used],
            weight[used],
            prob_sum[used] / weight[used],
            positive_sum[used] / weight[used],
        )

    def gaps(self) -> np.ndarray:
        """Return |fraction of positives - mean predicted probability| per bin."""
        return np.abs(self.fraction_positive - self.mean_predicted)

    def expected_error(self) -> float:
        """Return the weight-averaged calibration gap (ECE)."""
        return float(np.dot(self.weight, self.gaps()) / self.weight.sum())

    def maximum_error(self) -> float:
        """Return the largest calibration gap over non-empty bins (MCE)."""
        return float(self.gaps().max())


def _bin_sums(
    y: np.ndarray, prob: np.ndarray, weights: np.ndarray | None, edges: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Return per-bin row count, weight, sum of probabilities and weight of positives."""
    n_bins = edges.size - 1
    count = np.zeros(n_bins, dtype=np.int64)
    weight, prob_sum, positive_sum = (np.zeros(n_bins) for _ in range(3))
    inner = edges[1:-1]
    for part in row_slices(y.size):
        p, positive = prob[part], y[part]
        ids = np.searchsorted(inner, p)
        count += np.bincount(ids, minlength=n_bins)
        w = None if weights is None else weights[part]
        prob_sum += np.bincount(ids, weights=p if w is None else p * w, minlength=n_bins)
        positive_sum += np.bincount(
            ids[positive], weights=None if w is None else w[positive], minlength=n_bins
        )
        if w is not None:
            weight += np.bincount(ids, weights=w, minlength=n_bins)
    if weights is None:
        weight = count.astype(np.float64)
    return count, weight, prob_sum, positive_sum


def bin_edges(
    prob: np.ndarray, n_bins: int, strategy: str, *, sorted_prob: np.ndarray | None = None
) -> np.ndarray:
    """Return the n_bins + 1 bin edges of a strategy, exactly as scikit-learn computes them."""
    if not isinstance(n_bins, int) or isinstance(n_bins, bool) or n_bins < 1:
        raise InvalidInput(f"n_bins must be a positive integer, got {n_bins!r}")
    if strategy not in _STRATEGIES:
        raise InvalidInput(f"strategy must be one of {_STRATEGIES}, got {strategy!r}")
    if strategy == "uniform":
        return np.linspace(0.0, 1.0, n_bins + 1)
    quantiles = np.linspace(0, 1, n_bins + 1) * 100
    if sorted_prob is not None:
        # Percentiles of already-sorted data need no second sort or partition.
        return _sorted_percentiles(sorted_prob, quantiles)
    return np.percentile(prob, quantiles)


def _sorted_percentiles(sorted_values: np.ndarray, percents: np.ndarray) -> np.ndarray:
    # numpy's "linear" method, including its two-sided interpolation formula, on sorted input.
    q = np.true_divide(percents, 100)
    index = q * (sorted_values.size - 1)
    below = np.floor(index).astype(np.intp)
    above = np.minimum(below + 1, sorted_values.size - 1)
    t = index - below
    a, b = sorted_values[below], sorted_values[above]
    diff = b - a
    result = a + diff * t
    return np.where(t >= 0.5, b - diff * (1 - t), result)


def calibration_curve(
    y_true: Any,
    y_prob: Any,
    *,
    n_bins: int = 5,
    strategy: str = "uniform",
    sample_weight: Any = None,
    pos_label: Any = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Return (fraction of positives, mean predicted probability) per non-empty bin."""
    bins = CalibrationBins.build(
        y_true,
        y_prob,
        n_bins=n_bins,
        strategy=strategy,
        sample_weight=sample_weight,
        pos_label=pos_label,
    )
    return bins.fraction_positive, bins.mean_predicted


def expected_calibration_error(
    y_true: Any,
    y_prob: Any,
    *,
    n_bins: int = 10,
    strategy: str = "uniform",
    sample_weight: Any = None,
    pos_label: Any = 1,
) -> float:
    """Return the expected calibration error over equal-width or equal-mass bins."""
    return CalibrationBins.build(
        y_true,
        y_prob,
        n_bins=n_bins,
        strategy=strategy,
        sample_weight=sample_weight,
        pos_label=pos_label,
    ).expected_error()


def maximum_calibration_error(
    y_true: Any,
    y_prob: Any,
    *,
    n_bins: int = 10,
    strategy: str = "uniform",
    sample_weight: Any = None,
    pos_label: Any = 1,
) -> float:
    """Return the largest calibration gap over equal-width or equal-mass bins."""
    return CalibrationBins.build(
        y_true,
        y_prob,
        n_bins=n_bins,
        strategy=strategy,
        sample_weight=sample_weight,
        pos_label=pos_label,
    ).maximum_error()
