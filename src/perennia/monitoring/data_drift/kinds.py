"""A column's kind (numeric, categorical, binary) from its type, shared by drift and profiles."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

WORDS = {"numeric": "numbers", "integer": "integers", "boolean": "booleans", "other": "text"}


def kind_from_type(type_name: str, forced: str | None) -> str:
    """Return "numeric", "categorical" or "binary" for a column type from `Frame.kind_of`.

    `forced` ("numeric" or "categorical", from the caller's lists) wins. Integer columns are
    numeric here; `is_flag` turns the 0/1 ones binary once their values are read.
    """
    if forced is not None:
        return forced
    if type_name in ("numeric", "integer"):
        return "numeric"
    return "binary" if type_name == "boolean" else "categorical"


def is_flag(values: np.ndarray) -> bool:
    """Return whether an integer column's finite values span at most two adjacent integers."""
    import numpy as np

    finite = values[np.isfinite(values)]
    return finite.size > 0 and float(finite.max()) - float(finite.min()) <= 1.0


def compatible(ref_type: str, cur_type: str) -> bool:
    """Return whether a current column of `cur_type` can be compared with a `ref_type` one."""
    numeric = ("numeric", "integer")
    if ref_type in numeric or cur_type in numeric:
        return ref_type in numeric and cur_type in numeric
    return (ref_type == "boolean") == (cur_type == "boolean")


def mismatch_reason(ref_type: str, cur_type: str) -> str:
    """Return the one-line reason two column types cannot be compared."""
    return (
        f"types differ: {WORDS[ref_type]} in the reference, {WORDS[cur_type]} in the current data"
    )
