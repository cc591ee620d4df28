"""Table and aggregate expectations: each observes one value (a column list, a count, a mean).

Aggregates are taken over the non-null values, as Great Expectations does; the standard
deviation is the sample one (ddof=1, pandas' default). A column with no value to aggregate
fails, since there is nothing to compare with the bounds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from perennia.data.contracts.columns import NUMERIC, Columns
from perennia.data.contracts.outcome import Outcome, failed, plain
from perennia.data.contracts.row_checks import within

TableCheck = Callable[[Mapping[str, Any], Columns, Sequence[str]], Outcome]


def _in_bounds(value: float, kw: Mapping[str, Any]) -> bool:
    import numpy as np

    return bool(within(np.asarray([value], dtype=np.float64), kw)[0])


def column_to_exist(kw: Mapping[str, Any], cols: Columns, absent: Sequence[str]) -> Outcome:
    """Return the outcome of expect_column_to_exist."""
    column = kw["column"]
    if cols.has(column):
        return Outcome(True, observed=True, element_count=cols.rows)
    return failed(False, cols.rows)


def columns_match_set(kw: Mapping[str, Any], cols: Columns, absent: Sequence[str]) -> Outcome:
    """Return the outcome of expect_table_columns_to_match_set (minus the environment's absent columns)."""
    expected = [c for c in kw["column_set"] if c not in absent]
    missing = [c for c in expected if not cols.has(c)]
    unexpected = [c for c in cols.names if c not in expected] if kw.get("exact_match", True) else []
    outcome = Outcome(
        not missing and not unexpected,
        observed=list(cols.names),
        element_count=cols.rows,
        details={"missing": missing, "unexpected": unexpected},
    )
    outcome.examples = [
        {"value": c, "row_index": None, "count": None, "column": c} for c in missing
    ]
    outcome.examples += [
        {"value": c, "row_index": None, "count": None, "column": c} for c in unexpected
    ]
    return outcome


def row_count(kw: Mapping[str, Any], cols: Columns, absent: Sequence[str]) -> Outcome:
    """Return the outcome of expect_table_row_count_to_be_between."""
    return Outcome(_in_bounds(cols.rows, kw), observed=cols.rows, element_count=cols.rows)


def _aggregate(reduce: Callable[[Any], float], least: int = 1) -> TableCheck:
    def check(kw: Mapping[str, Any], cols: Columns, absent: Sequence[str]) -> Outcome:
        import numpy as np

        column = kw["column"]
        kind = cols.logical_type(column)
        if kind not in NUMERIC:
            return failed(f"column type {kind} is not numeric", cols.rows)
        nulls = cols.nulls(column)
        values = cols.values(column)
        present = values[~nulls] if nulls.any() else values
        if present.size < least:
            return failed(None, cols.rows, reason=f"fewer than {least} non-null values")
        with np.errstate(over="ignore", invalid="ignore"):
            observed = float(reduce(present))
        return Outcome(
            _in_bounds(observed, kw),
            observed=plain(observed),
            element_count=cols.rows,
            missing_count=int(np.count_nonzero(nulls)),
        )

    return check


def _mean(values: Any) -> float:
    import numpy as np

    return np.mean(values, dtype=np.float64)


def _stdev(values: Any) -> float:
    import numpy as np

    return np.std(values, dtype=np.float64, ddof=1)


def _min(values: Any) -> float:
    return values.min()


def _max(values: Any) -> float:
    return values.max()


def proportion_non_null(kw: Mapping[str, Any], cols: Columns, absent: Sequence[str]) -> Outcome:
    """Return the outcome of expect_column_proportion_of_non_null_values_to_be_between."""
    import numpy as np

    if cols.rows == 0:
        return failed(None, 0, reason="no rows")
    missing = int(np.count_nonzero(cols.nulls(kw["column"])))
    share = (cols.rows - missing) / cols.rows
    return Outcome(
        _in_bounds(share, kw), observed=share, element_count=cols.rows, missing_count=missing
    )


TABLE_CHECKS: dict[str, TableCheck] = {
    "expect_column_to_exist": column_to_exist,
    "expect_table_columns_to_match_set": columns_match_set,
    "expect_table_row_count_to_be_between": row_count,
    "expect_column_mean_to_be_between": _aggregate(_mean),
    "expect_column_min_to_be_between": _aggregate(_min),
    "expect_column_max_to_be_between": _aggregate(_max),
    "expect_column_stdev_to_be_between": _aggregate(_stdev, least=2),
    "expect_column_proportion_of_non_null_values_to_be_between": proportion_non_null,
}
