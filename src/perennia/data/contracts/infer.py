"""`infer_contract(reference)`: propose a contract from data, as TFDV's infer_schema does.

What it proposes, per column: that it exists and keeps its type; not-null when the reference has
no null; the observed range for numbers; the allowed set for text, categories and booleans with
at most `MAX_SET` distinct values; uniqueness for id-like columns (integers or text, every value
distinct and present, at least `MIN_ID_ROWS` rows); and a drift expectation holding the
reference's profile for every feature (not the label, not id-like columns, not free text).
For the table: the exact column set and at least one row (row counts differ between a training
set and a serving batch, so no upper bound is proposed). The label is absent in "serving".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from perennia.data.contracts.columns import NUMERIC, TEXTUAL, Columns
from perennia.data.contracts.contract import Contract, Expectation
from perennia.data.contracts.drift import DEFAULT_METRIC, DEFAULT_THRESHOLDS, profile_of
from perennia.data.contracts.outcome import plain
from perennia.data.contracts.row_checks import codes_of
from perennia.errors import InvalidInput

MAX_SET = 20
MIN_ID_ROWS = 20


def infer_contract(
    reference: Any,
    *,
    label: str | None = None,
    environments: Mapping[str, Sequence[str]] | None = None,
    name: str | None = None,
) -> Contract:
    """Return a contract proposed from `reference` (pandas, polars, Arrow or a mapping of columns)."""
    cols = Columns(reference, "reference")
    if label is not None and not cols.has(label):
        raise InvalidInput(
            f"label={label!r} is not a column of the reference; columns: {cols.names}"
        )
    envs: dict[str, list[str]] = {}
    if label is not None:
        envs = {"training": [], "serving": [label]}
    envs.update({k: list(v) for k, v in (environments or {}).items()})
    expectations = [
        Expectation("expect_table_columns_to_match_set", column_set=list(cols.names)),
        Expectation("expect_table_row_count_to_be_between", min_value=1),
    ]
    for column in cols.names:
        expectations += _column_expectations(cols, column, feature=column != label)
    return Contract(expectations=expectations, environments=envs, name=name)


def _column_expectations(cols: Columns, column: str, *, feature: bool) -> list[Expectation]:
    import numpy as np

    kind = cols.logical_type(column)
    out = [Expectation("expect_column_to_exist", column=column)]
    if kind != "object":
        out.append(Expectation("expect_column_values_to_be_of_type", column=column, type_=kind))
    nulls = cols.nulls(column)
    if not nulls.any() and cols.rows:
        out.append(Expectation("expect_column_values_to_not_be_null", column=column))
    present = int(np.count_nonzero(~nulls))
    if not present:
        return out
    if kind in NUMERIC:
        values = cols.values(column)[~nulls]
        low, high = plain(values.min()), plain(values.max())
        out.append(
            Expectation(
                "expect_column_values_to_be_between", column=column, min_value=low, max_value=high
            )
        )
    distinct, id_like = _distinct(cols, column, kind, present)
    if kind in (*TEXTUAL, "boolean") and distinct <= MAX_SET:
        out.append(
            Expectation(
                "expect_column_values_to_be_in_set", column=column, value_set=_values(cols, column)
            )
        )
    if id_like:
        out.append(Expectation("expect_column_values_to_be_unique", column=column))
    free_text = kind in TEXTUAL and distinct > MAX_SET
    if feature and not id_like and not free_text:
        profile = profile_of(cols, column)
        if profile is not None and profile["count"]:
            metric = DEFAULT_METRIC[profile["kind"]]
            out.append(
                Expectation(
                    "expect_column_drift_to_be_below",
                    column=column,
                    metric=metric,
                    threshold=DEFAULT_THRESHOLDS[metric],
                    reference=profile,
                )
            )
    return out


def _distinct(cols: Columns, column: str, kind: str, present: int) -> tuple[int, bool]:
    """Return the number of distinct non-null values, and whether the column looks like an id."""
    import numpy as np

    if kind not in ("integer", *TEXTUAL):
        return (2 if kind == "boolean" else MAX_SET + 1), False
    codes = codes_of(cols, column)
    distinct = int(codes.max(initial=-1)) + 1
    id_like = distinct == present == cols.rows and cols.rows >= MIN_ID_ROWS
    return distinct, bool(id_like and np.all(codes >= 0))


def _values(cols: Columns, column: str) -> list[Any]:
    from perennia.data.contracts.drift import value_counts

    found = [plain(v) for v in value_counts(cols, column)]
    return sorted(found, key=repr)
