"""What each expectation accepts: its parameters, their kinds, and the checks a contract gets.

A contract is checked here when it is built or loaded, so a bad one fails with a message naming
the expectation, the parameter and what would be accepted, before any data is read.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from perennia.errors import InvalidInput

# Levels: "row" expectations judge each value (and take `mostly=`); "table" and "aggregate"
# ones judge one observed value; "distribution" ones compare with a reference profile.
ROW, TABLE, AGGREGATE, DISTRIBUTION = "row", "table", "aggregate", "distribution"

DRIFT_METRICS = ("jensen_shannon", "psi", "linf")

# Logical types `expect_column_values_to_be_of_type` accepts, with the aliases people type.
TYPE_ALIASES: dict[str, str] = {
    **dict.fromkeys(("integer", "int", "long"), "integer"),
    **{f"{p}{w}": "integer" for p in ("int", "uint", "Int", "UInt") for w in (8, 16, 32, 64)},
    **dict.fromkeys(("float", "double", "floating", "float16", "float32", "float64"), "float"),
    **dict.fromkeys(("Float32", "Float64"), "float"),
    **dict.fromkeys(("number", "numeric"), "number"),
    **dict.fromkeys(("boolean", "bool"), "boolean"),
    **dict.fromkeys(("string", "str", "utf8", "text"), "string"),
    **dict.fromkeys(("datetime", "datetime64", "datetime64[ns]", "timestamp", "date"), "datetime"),
    **dict.fromkeys(("category", "categorical", "dictionary"), "category"),
}
TYPE_NAMES = "integer, float, number, boolean, string, datetime or category"


@dataclass(frozen=True)
class Param:
    """One parameter: its kind (how it is checked) and whether it must be given."""

    kind: str
    required: bool = False
    default: Any = None


@dataclass(frozen=True)
class Spec:
    """The parameters and level of one expectation."""

    level: str
    params: dict[str, Param] = field(default_factory=dict)
    bounds: bool = False  # min_value/max_value: at least one, and min <= max


def _column(required: bool = True) -> Param:
    return Param("column", required)


_BETWEEN = {
    "column": _column(),
    "min_value": Param("number?"),
    "max_value": Param("number?"),
    "strict_min": Param("bool", default=False),
    "strict_max": Param("bool", default=False),
}

SPECS: dict[str, Spec] = {
    "expect_column_to_exist": Spec(TABLE, {"column": _column()}),
    "expect_table_columns_to_match_set": Spec(
        TABLE, {"column_set": Param("columns", True), "exact_match": Param("bool", default=True)}
    ),
    "expect_table_row_count_to_be_between": Spec(
        TABLE, {"min_value": Param("count?"), "max_value": Param("count?")}, bounds=True
    ),
    "expect_column_values_to_not_be_null": Spec(ROW, {"column": _column()}),
    "expect_column_values_to_be_of_type": Spec(
        ROW, {"column": _column(), "type_": Param("type", True)}
    ),
    "expect_column_values_to_be_in_set": Spec(
        ROW, {"column": _column(), "value_set": Param("values", True)}
    ),
    "expect_column_values_to_not_be_in_set": Spec(
        ROW, {"column": _column(), "value_set": Param("values", True)}
    ),
    "expect_column_values_to_be_between": Spec(ROW, dict(_BETWEEN), bounds=True),
    "expect_column_values_to_be_unique": Spec(ROW, {"column": _column()}),
    "expect_compound_columns_to_be_unique": Spec(ROW, {"column_list": Param("columns", True)}),
    "expect_column_values_to_match_regex": Spec(
        ROW, {"column": _column(), "regex": Param("regex", True)}
    ),
    "expect_column_values_to_not_match_regex": Spec(
        ROW, {"column": _column(), "regex": Param("regex", True)}
    ),
    "expect_column_value_lengths_to_be_between": Spec(
        ROW,
        {"column": _column(), "min_value": Param("count?"), "max_value": Param("count?")},
        bounds=True,
    ),
    "expect_column_mean_to_be_between": Spec(AGGREGATE, dict(_BETWEEN), bounds=True),
    "expect_column_min_to_be_between": Spec(AGGREGATE, dict(_BETWEEN), bounds=True),
    "expect_column_max_to_be_between": Spec(AGGREGATE, dict(_BETWEEN), bounds=True),
    "expect_column_stdev_to_be_between": Spec(AGGREGATE, dict(_BETWEEN), bounds=True),
    "expect_column_proportion_of_non_null_values_to_be_between": Spec(
        AGGREGATE,
        {"column": _column(), "min_value": Param("fraction?"), "max_value": Param("fraction?")},
        bounds=True,
    ),
    "expect_column_pair_values_A_to_be_greater_than_B": Spec(
        ROW,
        {
            "column_A": _column(),
            "column_B": _column(),
            "or_equal": Param("bool", default=False),
        },
    ),
    "expect_custom_check": Spec(ROW, {"check": Param("name", True), "column": _column(False)}),
    "expect_column_drift_to_be_below": Spec(
        DISTRIBUTION,
        {
            "column": _column(),
            "threshold": Param("positive", True),
            "metric": Param("metric", True),
            "reference": Param("profile", True),
        },
    ),
}


def is_number(value: Any) -> bool:
    """Return whether `value` is a finite int or float (booleans are not numbers here)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | bool) or is_number(value)


def _regex_ok(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        re.compile(value)
    except re.error:
        return False
    return True


# kind -> (test, what is accepted)
KINDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "column": (lambda v: isinstance(v, str) and bool(v), "a column name (non-empty string)"),
    "columns": (
        lambda v: (
            isinstance(v, list | tuple) and bool(v) and all(isinstance(c, str) and c for c in v)
        ),
        "a non-empty list of column names",
    ),
    "number?": (lambda v: v is None or is_number(v), "a finite number or null"),
    "count?": (
        lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool) and v >= 0),
        "a non-negative integer or null",
    ),
    "fraction?": (lambda v: v is None or (is_number(v) and 0 <= v <= 1), "a number in [0, 1]"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "values": (
        lambda v: isinstance(v, list | tuple | set | frozenset) and all(_scalar(x) for x in v),
        "a list of strings, numbers, booleans or nulls",
    ),
    "regex": (_regex_ok, "a regular expression Python's re module compiles"),
    "type": (lambda v: v in TYPE_ALIASES, TYPE_NAMES),
    "name": (lambda v: isinstance(v, str) and bool(v), "the name of a registered check"),
    "positive": (lambda v: is_number(v) and v > 0, "a positive finite number"),
    "metric": (lambda v: v in DRIFT_METRICS, " or ".join(DRIFT_METRICS)),
    "profile": (lambda v: isinstance(v, Mapping), "a reference profile (a mapping)"),
}


def check_kwargs(name: Any, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Return the checked, normalised kwargs of expectation `name`; raise InvalidInput otherwise."""
    spec = SPECS.get(name) if isinstance(name, str) else None
    if spec is None:
        raise InvalidInput(f"unknown expectation {name!r}; accepted: {', '.join(sorted(SPECS))}")
    if not isinstance(kwargs, Mapping):
        raise InvalidInput(f"{name}: kwargs must be a mapping of parameters, got {kwargs!r}")
    allowed = set(spec.params) | ({"mostly"} if spec.level == ROW else set())
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        extra = (
            ""
            if spec.level == ROW or "mostly" not in unknown
            else " (mostly= is for row-level expectations)"
        )
        raise InvalidInput(
            f"{name}: unknown parameter {unknown[0]!r}{extra}; accepted: {', '.join(sorted(allowed))}"
        )
    out: dict[str, Any] = {}
    for key, param in spec.params.items():
        if key not in kwargs:
            if param.required:
                raise InvalidInput(f"{name}: missing required parameter {key!r}")
            continue
        out[key] = _checked(name, key, param.kind, kwargs[key])
    if "mostly" in kwargs:
        mostly = kwargs["mostly"]
        if not is_number(mostly) or not 0 <= mostly <= 1:
            raise InvalidInput(f"{name}: mostly={mostly!r} must be a number in [0, 1]")
        out["mostly"] = mostly
    if spec.bounds:
        _check_bounds(name, out)
    return out


def _checked(name: str, key: str, kind: str, value: Any) -> Any:
    test, accepted = KINDS[kind]
    if not test(value):
        raise InvalidInput(f"{name}: {key}={value!r} is not accepted; expected {accepted}")
    if kind == "columns":
        return list(value)
    if kind == "values":
        # Sets become sorted lists so the JSON (and so the digest) does not depend on hash order.
        return sorted(value, key=repr) if isinstance(value, set | frozenset) else list(value)
    if kind == "profile":
        from perennia.data.contracts.drift import check_profile

        return check_profile(value, f"{name}: reference")
    return value


def _check_bounds(name: str, kwargs: dict[str, Any]) -> None:
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if low is None and high is None:
        raise InvalidInput(f"{name}: give min_value, max_value or both (both are null)")
    if low is not None and high is not None and low > high:
        raise InvalidInput(f"{name}: min_value={low!r} is greater than max_value={high!r}")


def columns_of(name: str, kwargs: Mapping[str, Any]) -> list[str]:
    """Return the data columns an expectation reads, in parameter order."""
    if name == "expect_table_columns_to_match_set":
        return []
    out = [kwargs[k] for k in ("column", "column_A", "column_B") if kwargs.get(k)]
    return out + list(kwargs.get("column_list", []))
