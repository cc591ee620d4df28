"""Row-level expectations: each builds one boolean mask of unexpected rows in one vectorised pass.

Every function takes the expectation's checked kwargs, the table's `Columns` and `mostly`, and
returns an `Outcome`. Nulls are left out (see `outcome`), except by the null expectation. The
caller has already checked that the columns exist.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from perennia._util import tables
from perennia.data.contracts.columns import NUMERIC, TEXTUAL, Columns, value_kind
from perennia.data.contracts.outcome import Outcome, failed, judged
from perennia.data.contracts.spec import TYPE_ALIASES
from perennia.errors import InvalidInput

Check = Callable[[Mapping[str, Any], Columns, float], Outcome]


def fetcher(cols: Columns, column: str) -> Callable[[Any], Any]:
    """Return a function giving the column's values at some row positions, as numpy."""

    def fetch(index: Any) -> Any:
        if cols.logical_type(column) in TEXTUAL:
            return cols.arrow(column).take(index).to_numpy(zero_copy_only=False)
        return cols.values(column)[index]

    return fetch


def _present(cols: Columns, column: str) -> tuple[Any, int]:
    import numpy as np

    present = ~cols.nulls(column)
    return present, int(np.count_nonzero(present))


def _judged_present(cols: Columns, column: str, unexpected: Any, mostly: float) -> Outcome:
    """Return the outcome of a check whose `unexpected` mask is judged on the non-null rows."""
    present, considered = _present(cols, column)
    return judged(present & unexpected, considered, cols.rows, mostly, fetcher(cols, column))


def not_null(kw: Mapping[str, Any], cols: Columns, mostly: float) -> Outcome:
    """Return the outcome of expect_column_values_to_not_be_null (nulls are the unexpected rows)."""
    return judged(cols.nulls(kw["column"]), cols.rows, cols.rows, mostly, None)


def type_matches(want: str, have: str) -> bool:
    """Return whether a column of logical type `have` satisfies the expected type `want`."""
    return want == have or (want == "number" and have in NUMERIC)


def of_type(kw: Mapping[str, Any], cols: Columns, mostly: float) -> Outcome:
    """Return the outcome of expect_column_values_to_be_of_type."""
    import numpy as np

    column, want = kw["column"], TYPE_ALIASES[kw["type_"]]
    present, considered = _present(cols, column)
    have = cols.logical_type(column)
    if have != "object":
        bad = present if not type_matches(want, have) else np.zeros(cols.rows, dtype=bool)
    else:
        # A column mixing Python types is judged value by value (one C-level map, no loop).
        kinds = np.frompyfunc(value_kind, 1, 1)(cols.values(column))
        accepted = [k for k in set(kinds[present]) if type_matches(want, k)]
        bad = present & ~np.isin(kinds, accepted)
    outcome = judged(bad, considered, cols.rows, mostly, fetcher(cols, column))
    outcome.details["column_type"] = have
    return outcome


def _membership(cols: Columns, column: str, value_set: list[Any]) -> Any:
    import numpy as np

    kind = cols.logical_type(column)
    if kind in TEXTUAL:
        import pyarrow as pa
        import pyarrow.compute as pc

        texts = pa.array([v for v in value_set if isinstance(v, str)], pa.string())

        def test(array: Any) -> Any:
            found = pc.fill_null(pc.is_in(array, value_set=texts), False)
            return np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)

        return cols.text_mask(column, test)
    values = cols.values(column)
    if kind in NUMERIC:
        numbers = [v for v in value_set if isinstance(v, int | float) and not isinstance(v, bool)]
        return np.isin(values, np.asarray(numbers, dtype=np.float64))
    if kind == "boolean":
        return np.isin(values, np.asarray([v for v in value_set if isinstance(v, bool)], bool))
    import pandas as pd

    return pd.Series(values, copy=False).isin(value_set).to_numpy()


def in_set(kw: Mapping[str, Any], cols: Columns, mostly: float) -> Outcome:
    """Return the outcome of expect_column_values_to_be_in_set."""
    column = kw["column"]
    return _judged_present(cols, column, ~_membership(cols, column, kw["value_set"]), mostly)


def not_in_set(kw: Mapping[str, Any], cols: Columns, mostly: float) -> Outcome:
    """Return the outcome of expect_column_values_to_not_be_in_set."""
    column = kw["column"]
    return _judged_present(cols, column, _membership(cols, column, kw["value_set"]), mostly)


def within(values: Any, kw: Mapping[str, Any]) -> Any:
    """Return the mask of values inside kw's bounds (min_value/max_value, strict_min/strict_max)."""
    import numpy as np

    ok = np.ones(values.shape[0], dtype=bool)
    low, high = kw.get("min_value"), kw.get("max_value")
    with np.errstate(invalid="ignore"):
        if low is not None:
            ok &= (values > low) if kw.get("strict_min") else (values >= low)
        if high is not None:
            ok &= (values < high) if kw.get("strict_max") else (values <= high)
    return ok


def between(kw: Mapping[str, Any], cols: Columns, mostly: float) -> Outcome:
    """Return the outcome of expect_column_values_to_be_between (numeric columns)."""
    column = kw["column"]
    kind = cols.logical_type(column)
    if kind not in NUMERIC:
        return failed(f"column type {kind} is not numeric", cols.rows)
    return _judged_present(cols, column, ~within(cols.values(column), kw), mostly)


def codes_of(cols: Columns, column: str) -> Any:
    """Return an int64 code per row, equal values sharing a code, nulls as -1."""
    import numpy as np

    if cols.logical_type(column) in TEXTUAL:
        return cols.encoded(column)[0]
    import pandas as pd

    codes, _ = pd.factorize(cols.values(column))
    return codes.astype(np.int64, copy=False)


def duplicated(values: Any) -> Any:
    """Return the mask of values (no nulls) that occur more than once, every copy marked."""
    import numpy as np

    if values.size < 2:
        return np.zeros(values.size, dtype=bool)
    if values.dtype.kind in "iufMmb":
        # Ids are usually sorted already: a monotonic column is checked without sorting, and a
        # sort (not a hash table) finds repeats fastest for numbers when there are some.
        if (values[1:] > values[:-1]).all() or (values[1:] < values[:-1]).all():
            return np.zeros(values.size, dtype=bool)
        if values.dtype.kind in "iu":
            low, high = int(values.min()), int(values.max())
            if high - low < 4 * values.size:
                # Dense integers (shuffled ids): counting beats sorting.
                offsets = (values - low).astype(np.intp, copy=False)
                counts = np.bincount(offsets)
                if counts.max() <= 1:
                    return np.zeros(values.size, dtype=bool)
                return counts[offsets] > 1
        ordered = np.sort(values)
        same = ordered[1:] == ordered[:-1]
        if not same.any():
            return np.zeros(values.size, dtype=bool)
        return np.isin(values, np.unique(ordered[1:][same]))
    import pandas as pd

    codes, _ = pd.factorize(values)
    return np.bincount(codes)[codes] > 1


def unique(kw: Mapping[str, Any], cols: Columns, mostly: float) -> Outcome:
    """Return the outcome of expect_column_values_to_be_unique (every copy of a repeat is unexpected)."""
    import numpy as np

    column = kw["column"]
    bad = np.zeros(cols.rows, dtype=bool)
    if cols.logical_type(column) in TEXTUAL:
        codes = codes_of(cols, column)
        present = codes >= 0
        bad[present] = np.bincount(codes[present])[codes[present]] > 1
    else:
        present = ~cols.nulls(column)
        values = cols.values(column)
        bad[present] = duplicated(values[present] if not present.all() else values)
    considered = int(np.count_nonzero(present))
    return judged(bad, considered, cols.rows, mostly, fetcher(cols, column))


def compound_unique(kw: Mapping[str, Any], cols: Columns, mostly: float) -> Outcome:
    """Return the outcome of expect_compound_columns_to_be_unique (rows all null are skipped)."""
    import numpy as np
    import pandas as pd

    names = kw["column_list"]
    key = np.zeros(cols.rows, dtype=np.int64)
    all_null = np.ones(cols.rows, dtype=bool)
    for name in names:
        codes = codes_of(cols, name)
        all_null &= codes < 0
        # Mixed radix, refactorised after each column so the key never overflows.
        key, _ = pd.factorize(key * (int(codes.max(initial=-1)) + 2) + (codes + 1))
    considered = ~all_null
    counts = np.bincount(key[considered]) if considered.any() else np.zeros(0, np.int64)
    bad = np.zeros(cols.rows, dtype=bool)
    bad[considered] = counts[key[considered]] > 1
    fetches = [fetcher(cols, name) for name in names]

    def fetch(index: Any) -> Any:
        out = np.empty((index.size, len(names)), dtype=object)
        for i, get in enumerate(fetches):
            out[:, i] = get(index)
        return out

    return judged(bad, int(np.count_nonzero(considered)), cols.rows, mostly, fetch)


def _regex_matches(cols: Columns, column: str, pattern: str) -> Any:
    import re

    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    def test(array: Any) -> Any:
        if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
            array = pc.cast(array, pa.string())
        found = pc.fill_null(pc.match_substring_regex(array, pattern), False)
        return np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)

    try:
        if cols.logical_type(column) in TEXTUAL:
            return cols.text_mask(column, test)
        return test(cols.arrow(column))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        # RE2 refuses back-references and look-arounds; Python's re does them, per value.
        rx = re.compile(pattern)
        values = cols.values(column)
        hit = np.frompyfunc(lambda v: v is not None and rx.search(str(v)) is not None, 1, 1)
        return np.asarray(hit(values), dtype=bool)


def match_regex(kw: Mapping[str, Any], cols: Columns, mostly: float) -> Outcome:
    """Return the outcome of expect_column_values_to_match_regex (re.search semantics)."""
    column = kw["column"]
    return _judged_present(cols, column, ~_regex_matches(cols, column, kw["regex"]), mostly)


def not_match_regex(kw: Mapping[str, Any], cols: Columns, mostly: float) -> Outcome:
    """Return the outcome of expect_column_values_to_not_match_regex."""
    column = kw["column"]
    return _judged_present(cols, column, _regex_matches(cols, column, kw["regex"]), mostly)


def lengths_between(kw: Mapping[str, Any], cols: Columns, mostly: float) -> Outcome:
    """Return the outcome of expect_column_value_lengths_to_be_between (text columns)."""
    import numpy as np
    import pyarrow.compute as pc

    column = kw["column"]
    kind = cols.logical_type(column)
    if kind not in TEXTUAL:
        return failed(f"column type {kind} is not text", cols.rows)

    def test(array: Any) -> Any:
        return within(np.asarray(pc.fill_null(pc.utf8_length(array), 0).to_numpy()), kw)

    return _judged_present(cols, column, ~cols.text_mask(column, test), mostly)


def a_greater_than_b(kw: Mapping[str, Any], cols: Columns, mostly: float) -> Outcome:
    """Return the outcome of expect_column_pair_values_A_to_be_greater_than_B.

    As Great Expectations does by default, rows where both values are null are skipped; a row
    with one null is unexpected.
    """
    import numpy as np

    a, b = kw["column_A"], kw["column_B"]
    considered = ~(cols.nulls(a) & cols.nulls(b))
    with np.errstate(invalid="ignore"):
        left, right = cols.values(a), cols.values(b)
        try:
            ok = (left >= right) if kw.get("or_equal") else (left > right)
        except TypeError:
            return failed(f"columns {a!r} and {b!r} cannot be compared", cols.rows)
    bad = considered & ~np.asarray(ok, dtype=bool)
    get_a, get_b = fetcher(cols, a), fetcher(cols, b)

    def fetch(index: Any) -> Any:
        out = np.empty((index.size, 2), dtype=object)
        out[:, 0], out[:, 1] = get_a(index), get_b(index)
        return out

    return judged(bad, int(np.count_nonzero(considered)), cols.rows, mostly, fetch)


def custom(
    kw: Mapping[str, Any], cols: Columns, mostly: float, function: Callable[[Any], Any]
) -> Outcome:
    """Return the outcome of a registered check: `function(frame)` gives True where a row passes."""
    import numpy as np

    name = kw["check"]
    try:
        mask = tables.to_1d(function(cols.data), f"check {name!r}")
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"check {name!r} must return one boolean per row: {exc}") from None
    if mask.shape[0] != cols.rows:
        raise InvalidInput(
            f"check {name!r} returned {mask.shape[0]} values for {cols.rows} rows; return one boolean per row"
        )
    if mask.dtype.kind != "b":
        from perennia.data.contracts.columns import null_mask

        mask = ~null_mask(mask) & np.asarray(mask.astype(object) == True, dtype=bool)  # noqa: E712
    column = kw.get("column")
    present, considered = _present(cols, column) if column else (True, cols.rows)
    bad = present & ~mask
    return judged(bad, considered, cols.rows, mostly, fetcher(cols, column) if column else None)


ROW_CHECKS: dict[str, Check] = {
    "expect_column_values_to_not_be_null": not_null,
    "expect_column_values_to_be_of_type": of_type,
    "expect_column_values_to_be_in_set": in_set,
    "expect_column_values_to_not_be_in_set": not_in_set,
    "expect_column_values_to_be_between": between,
    "expect_column_values_to_be_unique": unique,
    "expect_compound_columns_to_be_unique": compound_unique,
    "expect_column_values_to_match_regex": match_regex,
    "expect_column_values_to_not_match_regex": not_match_regex,
    "expect_column_value_lengths_to_be_between": lengths_between,
    "expect_column_pair_values_A_to_be_greater_than_B": a_greater_than_b,
}
