"""The result every drift statistic returns, and the input checks they share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from perennia.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class TestResult:
    """One two-sample comparison: the statistic, its p-value (None for distances), an effect size."""

    # Not a pytest test class, despite the name.
    __test__ = False

    statistic: float
    p_value: float | None
    effect: float
    method: str


def numeric_sample(values: Any, name: str, *, min_size: int = 1) -> np.ndarray:
    """Return `values` as a 1-D float64 array, refusing empty, multi-dimensional or non-finite input."""
    import numpy as np

    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInput(f"{name} must be a 1-D array of numbers") from None
    _check_shape(array, name, min_size)
    if not np.isfinite(array).all():
        raise InvalidInput(f"{name} must be finite: drop NaN and infinities before testing")
    return array


def categorical_sample(values: Any, name: str) -> np.ndarray:
    """Return `values` as a non-empty 1-D array, refusing None and NaN entries."""
    import numpy as np

    array = np.asarray(values)
    _check_shape(array, name, 1)
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise InvalidInput(f"{name} must not contain NaN or infinities: drop missing values first")
    # NaN is the only value unequal to itself; None compares equal to None.
    if array.dtype.kind == "O" and ((array == None).any() or (array != array).any()):  # noqa: E711
        raise InvalidInput(f"{name} must not contain None or NaN: drop missing values first")
    return array


def _check_shape(array: np.ndarray, name: str, min_size: int) -> None:
    if array.ndim != 1:
        raise InvalidInput(f"{name} must be a 1-D array, got {array.ndim} dimensions")
    if array.size < min_size:
        raise InvalidInput(f"{name} must hold at least {min_size} value(s), got {array.size}")
