"""Regression metrics, weighted where the definition allows, matching scikit-learn's.

Documented edge cases:
- R² and explained variance of a constant y_true: 1.0 for a perfect prediction, else 0.0
  (scikit-learn's `force_finite`).
- MAPE divides by max(|y|, machine epsilon), as scikit-learn does, so a zero target gives a
  huge but finite error; prefer WMAPE or sMAPE for targets that reach zero.
- sMAPE = mean of 2|y - ŷ| / (|y| + |ŷ|) in [0, 2], a row where both are zero counting 0.
- WMAPE = sum of weighted |y - ŷ| over sum of weighted |y|: 0.0 when both sums are zero and
  +inf when only the denominator is.
- Weighted median absolute error uses the averaged inverted CDF (scikit-learn's choice).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from perennia.evaluate.metrics._validation import as_float, as_weights, same_length

__all__ = [
    "explained_variance_score",
    "max_error",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_error",
    "median_absolute_error",
    "r2_score",
    "regression_report",
    "residual_summary",
    "root_mean_squared_error",
    "symmetric_mean_absolute_percentage_error",
    "weighted_mean_absolute_percentage_error",
]


def _inputs(y_true: Any, y_pred: Any, sample_weight: Any) -> tuple[np.ndarray, ...]:
    y = as_float(y_true, "y_true")
    pred = as_float(y_pred, "y_pred")
    weights = as_weights(sample_weight, same_length(y_true=y, y_pred=pred))
    return y, pred, weights


def mean_squared_error(y_true: Any, y_pred: Any, *, sample_weight: Any = None) -> float:
    """Return the (weighted) mean of squared errors."""
    y, pred, weights = _inputs(y_true, y_pred, sample_weight)
    return float(np.average((y - pred) ** 2, weights=weights))


def root_mean_squared_error(y_true: Any, y_pred: Any, *, sample_weight: Any = None) -> float:
    """Return the square root of the mean squared error."""
    return float(np.sqrt(mean_squared_error(y_true, y_pred, sample_weight=sample_weight)))


def mean_absolute_error(y_true: Any, y_pred: Any, *, sample_weight: Any = None) -> float:
    """Return the (weighted) mean of absolute errors."""
    y, pred, weights = _inputs(y_true, y_pred, sample_weight)
    return float(np.average(np.abs(y - pred), weights=weights))


def median_absolute_error(y_true: Any, y_pred: Any, *, sample_weight: Any = None) -> float:
    """Return the (weighted) median of absolute errors."""
    y, pred, weights = _inputs(y_true, y_pred, sample_weight)
    return _median(np.abs(y - pred), weights)


def _median(values: np.ndarray, weights: np.ndarray | None) -> float:
    if weights is None:
        return float(np.median(values))
    keep = weights > 0
    values, weights = values[keep], weights[keep]
    order = np.argsort(values)
    values, cdf = values[order], np.cumsum(weights[order])
    half = 0.5 * cdf[-1]
    index = min(int(np.searchsorted(cdf, half)), values.size - 1)
    if cdf[index] - half > np.finfo(np.float64).eps:
        return float(values[index])
    return float((values[index] + values[min(index + 1, values.size - 1)]) / 2)


def mean_absolute_percentage_error(y_true: Any, y_pred: Any, *, sample_weight: Any = None) -> float:
    """Return the mean of |error| / max(|y|, eps), as a fraction (0.1 = 10%)."""
    y, pred, weights = _inputs(y_true, y_pred, sample_weight)
    scale = np.maximum(np.abs(y), np.finfo(np.float64).eps)
    return float(np.average(np.abs(y - pred) / scale, weights=weights))


def symmetric_mean_absolute_percentage_error(
    y_true: Any, y_pred: Any, *, sample_weight: Any = None
) -> float:
    """Return the mean of 2|error| / (|y| + |ŷ|), in [0, 2] (rows with both zero count 0)."""
    y, pred, weights = _inputs(y_true, y_pred, sample_weight)
    scale = np.abs(y) + np.abs(pred)
    ratio = np.divide(2 * np.abs(y - pred), scale, out=np.zeros_like(scale), where=scale != 0)
    return float(np.average(ratio, weights=weights))


def weighted_mean_absolute_percentage_error(
    y_true: Any, y_pred: Any, *, sample_weight: Any = None
) -> float:
    """Return the sum of |error| over the sum of |y| (WMAPE), weighted if asked."""
    y, pred, weights = _inputs(y_true, y_pred, sample_weight)
    error, scale = np.abs(y - pred), np.abs(y)
    if weights is not None:
        error, scale = error * weights, scale * weights
    total_error, total_scale = float(error.sum()), float(scale.sum())
    if total_scale == 0:
        return 0.0 if total_error == 0 else float("inf")
    return total_error / total_scale


def r2_score(y_true: Any, y_pred: Any, *, sample_weight: Any = None) -> float:
    """Return the coefficient of determination R² (1 is perfect, 0 predicts the mean)."""
    y, pred, weights = _inputs(y_true, y_pred, sample_weight)
    w = np.ones_like(y) if weights is None else weights
    residual = float(np.dot(w, (y - pred) ** 2))
    total = float(np.dot(w, (y - np.average(y, weights=w)) ** 2))
    return _ratio_score(residual, total)


def explained_variance_score(y_true: Any, y_pred: Any, *, sample_weight: Any = None) -> float:
    """Return 1 - Var(y - ŷ) / Var(y): R² that forgives a constant offset."""
    y, pred, weights = _inputs(y_true, y_pred, sample_weight)
    error = y - pred
    error_mean = np.average(error, weights=weights)
    residual = float(np.average((error - error_mean) ** 2, weights=weights))
    total = float(np.average((y - np.average(y, weights=weights)) ** 2, weights=weights))
    return _ratio_score(residual, total)


def _ratio_score(residual: float, total: float) -> float:
    if total == 0:
        return 1.0 if residual == 0 else 0.0
    return 1.0 - residual / total


def max_error(y_true: Any, y_pred: Any) -> float:
    """Return the largest absolute error."""
    y, pred, _ = _inputs(y_true, y_pred, None)
    return float(np.max(np.abs(y - pred)))


def residual_summary(y_true: Any, y_pred: Any, *, sample_weight: Any = None) -> dict[str, float]:
    """Return mean, standard deviation, min, quantiles and max of the residuals y - ŷ."""
    y, pred, weights = _inputs(y_true, y_pred, sample_weight)
    residual = y - pred
    mean = float(np.average(residual, weights=weights))
    std = float(np.sqrt(np.average((residual - mean) ** 2, weights=weights)))
    quantiles = np.quantile(residual, [0.05, 0.25, 0.5, 0.75, 0.95])
    return {
        "mean": mean,
        "std": std,
        "min": float(residual.min()),
        "q05": float(quantiles[0]),
        "q25": float(quantiles[1]),
        "median": float(quantiles[2]),
        "q75": float(quantiles[3]),
        "q95": float(quantiles[4]),
        "max": float(residual.max()),
    }


def regression_report(y_true: Any, y_pred: Any, *, sample_weight: Any = None) -> dict[str, float]:
    """Return every regression metric by name, computed from one pass of validation."""
    y, pred, weights = _inputs(y_true, y_pred, sample_weight)
    kwargs = {"sample_weight": weights}
    mse = mean_squared_error(y, pred, **kwargs)
    return {
        "r2": r2_score(y, pred, **kwargs),
        "mse": mse,
        "rmse": float(np.sqrt(mse)),
        "mae": mean_absolute_error(y, pred, **kwargs),
        "median_ae": median_absolute_error(y, pred, **kwargs),
        "mape": mean_absolute_percentage_error(y, pred, **kwargs),
        "smape": symmetric_mean_absolute_percentage_error(y, pred, **kwargs),
        "wmape": weighted_mean_absolute_percentage_error(y, pred, **kwargs),
        "explained_variance": explained_variance_score(y, pred, **kwargs),
        "max_error": max_error(y, pred),
    }
