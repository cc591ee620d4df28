"""Checks at the boundary of every metric: arrays in, clear one-line errors out.

Each helper turns what a user passes (lists, numpy, pandas, polars, arrow) into a 1-D numpy
array of a known dtype, or raises InvalidInput naming the argument, the problem and the fix.
The conversion itself is `perennia._util.tables`; this module adds what metrics demand.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from perennia._util import tables
from perennia.errors import InvalidInput


def as_array(values: Any, name: str) -> np.ndarray:
    """Return `values` as a 1-D numpy array (a column vector of shape (n, 1) is flattened)."""
    if values is None:
        raise InvalidInput(f"{name} is missing; pass an array with one value per row")
    try:
        array = tables.to_1d(values, name)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(str(exc)) from None
    if array.size == 0:
        raise InvalidInput(f"{name} is empty; metrics need at least one row")
    return array


def as_matrix(values: Any, name: str) -> np.ndarray:
    """Return `values` as a 2-D float64 array (rows x classes) with no NaN."""
    try:
        array = np.asarray(tables.to_numpy(values, name), dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInput(f"{name} must hold numbers, one column per class") from None
    if array.ndim != 2:
        raise InvalidInput(
            f"{name} must be two-dimensional (rows x classes), got shape {array.shape}"
        )
    if array.shape[0] == 0:
        raise InvalidInput(f"{name} is empty; metrics need at least one row")
    _refuse_nan(array, name)
    return array


def as_float(values: Any, name: str, *, allow_inf: bool = False) -> np.ndarray:
    """Return `values` as a 1-D float64 array with no NaN (and no infinity unless allowed)."""
    array = as_array(values, name)
    if array.dtype == object or array.dtype.kind in "USM":
        try:
            array = array.astype(np.float64)
        except (TypeError, ValueError):
            raise InvalidInput(f"{name} must hold numbers, got {array.dtype} values") from None
    elif array.dtype != np.float64:
        array = array.astype(np.float64)
    _refuse_nan(array, name)
    if not allow_inf and np.isinf(array).any():
        where = int(np.flatnonzero(np.isinf(array))[0])
        raise InvalidInput(
            f"{name} holds an infinite value at row {where}; metrics need finite numbers"
        )
    return array


def as_probability(values: Any, name: str) -> np.ndarray:
    """Return `values` as float64 probabilities, refusing anything outside [0, 1]."""
    array = as_float(values, name)
    low, high = array.min(), array.max()
    if low < 0.0 or high > 1.0:
        bad = low if low < 0.0 else high
        raise InvalidInput(
            f"{name} must be probabilities in [0, 1], found {plain(bad)!r}; pass predict_proba output"
        )
    return array


def as_binary(values: Any, name: str, *, pos_label: Any = 1) -> np.ndarray:
    """Return `values` as a bool array (True = `pos_label`), refusing a third class or NaN."""
    array = as_array(values, name)
    if array.dtype == np.bool_:
        return array if pos_label in (1, True) else ~array
    if array.dtype.kind == "f":
        _refuse_nan(array, name)
    # Two or fewer distinct values are enough to decide; np.unique would sort every row.
    positive = array == pos_label
    rest = array[~positive]
    if rest.size and (rest != rest[0]).any():
        others = [plain(v) for v in np.unique(rest)[:3]]
        if not positive.any() and len(others) == 2:
            raise InvalidInput(
                f"{name} holds labels {others} but none equals pos_label={pos_label!r}; "
                "pass pos_label= naming the positive class"
            )
        raise InvalidInput(
            f"{name} must hold two classes (positive = {pos_label!r}), found also {others}; "
            "use the multiclass metrics or set pos_label"
        )
    return positive


def plain(value: Any) -> Any:
    """Return a numpy scalar as the Python value it holds, so messages read 1.5, not np.float64."""
    return value.item() if isinstance(value, np.generic) else value


def as_weights(sample_weight: Any, n: int) -> np.ndarray | None:
    """Return sample weights as float64 (or None), refusing negatives, NaN and a length mismatch."""
    if sample_weight is None:
        return None
    weights = as_float(sample_weight, "sample_weight")
    if weights.size != n:
        raise InvalidInput(
            f"sample_weight has {weights.size} values but the data has {n} rows; pass one per row"
        )
    if (weights < 0).any():
        where = int(np.flatnonzero(weights < 0)[0])
        raise InvalidInput(
            f"sample_weight must be >= 0, found {plain(weights[where])!r} at row {where}"
        )
    if not weights.any():
        raise InvalidInput("sample_weight is zero everywhere; at least one row needs weight")
    return weights


def same_length(**arrays: np.ndarray) -> int:
    """Return the common length of the arrays, or raise naming the two that differ."""
    names = list(arrays)
    n = len(arrays[names[0]])
    for other in names[1:]:
        if len(arrays[other]) != n:
            raise InvalidInput(
                f"{names[0]} has {n} rows but {other} has {len(arrays[other])}; "
                "pass one value per row in each"
            )
    return n


def weighted_sum(mask: np.ndarray, weights: np.ndarray | None) -> float:
    """Return the number (or total weight) of rows where `mask` holds."""
    if weights is None:
        return float(np.count_nonzero(mask))
    return float(weights[mask].sum()) if mask.dtype == np.bool_ else float(mask @ weights)


def row_slices(n: int) -> list[slice]:
    """Return slices of at most about 1M rows (and about an eighth of n) covering n rows."""
    # Row-wise formulas run slice by slice so their temporaries stay small next to the input.
    size = min(1 << 20, max(n // 8, 1 << 14))
    return [slice(start, start + size) for start in range(0, n, size)]


def divide(numerator: float, denominator: float, zero_division: float) -> float:
    """Return numerator / denominator, or `zero_division` when the denominator is zero."""
    return float(numerator / denominator) if denominator else float(zero_division)


def _refuse_nan(array: np.ndarray, name: str) -> None:
    if array.dtype.kind == "f" and np.isnan(array).any():
        where = int(np.flatnonzero(np.isnan(array.reshape(len(array), -1)).any(axis=1))[0])
        raise InvalidInput(f"{name} holds NaN at row {where}; drop or impute missing values first")
