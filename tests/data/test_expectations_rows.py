"""Row-level expectations: each fails and passes as a plain pandas oracle says it should.

The oracle for every check is the same few lines of pandas a user would write: a mask of the
unexpected non-null rows, and success when the passing share of the non-null rows is at least
`mostly` (Great Expectations' rule; nulls are left out except by the null expectation).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perennia.data.contracts import Contract, validate


def one(frame, name: str, **kwargs):
    """Return the single ExpectationResult of checking `frame` with one expectation."""
    result = validate(frame, Contract().expect(name, **kwargs))
    assert len(result.results) == 1
    return result.results[0]


def oracle(bad: pd.Series, present: pd.Series, mostly: float = 1.0) -> tuple[bool, int]:
    """Return (success, unexpected count) by Great Expectations' rule."""
    considered = int(present.sum())
    unexpected = int((bad & present).sum())
    share = 1.0 if considered == 0 else (considered - unexpected) / considered
    return share >= mostly, unexpected


def agrees(result, bad: pd.Series, present: pd.Series, mostly: float = 1.0) -> None:
    success, unexpected = oracle(bad, present, mostly)
    assert result.success == success
    assert result.unexpected_count == unexpected


FRAME = pd.DataFrame(
    {
        "x": [1.0, 2.0, np.nan, 4.0, 50.0],
        "n": [1, 2, 3, 3, 5],
        "s": pd.array(["ab", "abc", None, "zz", "ab"], dtype="str"),
        "o": pd.Series(["a", 1, 2.5, None, "b"], dtype=object),
    }
)


def test_not_null_counts_nulls_over_all_rows() -> None:
    result = one(FRAME, "expect_column_values_to_not_be_null", column="x")
    agrees(result, FRAME.x.isna(), pd.Series(True, index=FRAME.index))
    assert result.unexpected_percent == pytest.approx(20.0)
    assert one(FRAME, "expect_column_values_to_not_be_null", column="n").success
    assert one(FRAME, "expect_column_values_to_not_be_null", column="x", mostly=0.8).success


@pytest.mark.parametrize(
    ("column", "type_", "success"),
    [
        ("x", "float", True),
        ("x", "number", True),
        ("x", "int", False),
        ("n", "int64", True),
        ("s", "string", True),
        ("s", "integer", False),
    ],
)
def test_of_type_compares_the_column_type(column: str, type_: str, success: bool) -> None:
    assert (
        one(FRAME, "expect_column_values_to_be_of_type", column=column, type_=type_).success
        is success
    )


def test_of_type_judges_a_mixed_object_column_value_by_value() -> None:
    result = one(FRAME, "expect_column_values_to_be_of_type", column="o", type_="string")
    present = FRAME.o.notna()
    agrees(result, ~FRAME.o.map(lambda v: isinstance(v, str)), present)
    assert result.unexpected_count == 2


def test_in_set_and_not_in_set_ignore_nulls() -> None:
    allowed = ["ab", "zz"]
    present = FRAME.s.notna()
    inside = FRAME.s.isin(allowed)
    agrees(
        one(FRAME, "expect_column_values_to_be_in_set", column="s", value_set=allowed),
        ~inside,
        present,
    )
    agrees(
        one(FRAME, "expect_column_values_to_not_be_in_set", column="s", value_set=allowed),
        inside,
        present,
    )
    assert one(
        FRAME, "expect_column_values_to_be_in_set", column="s", value_set=["ab", "abc", "zz"]
    ).success
    numbers = one(FRAME, "expect_column_values_to_be_in_set", column="n", value_set=[1, 2, 3])
    agrees(numbers, ~FRAME.n.isin([1, 2, 3]), FRAME.n.notna())


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(st.one_of(st.none(), st.floats(-100, 100)), min_size=1, max_size=60),
    low=st.one_of(st.none(), st.floats(-50, 0)),
    high=st.floats(0, 50),
    strict_min=st.booleans(),
    strict_max=st.booleans(),
    mostly=st.floats(0, 1),
)
def test_between_matches_pandas(values, low, high, strict_min, strict_max, mostly) -> None:
    frame = pd.DataFrame({"v": pd.array(values, dtype="Float64").astype("float64")})
    v = frame.v
    ok = pd.Series(True, index=v.index)
    if low is not None:
        ok &= (v > low) if strict_min else (v >= low)
    ok &= (v < high) if strict_max else (v <= high)
    result = one(
        frame,
        "expect_column_values_to_be_between",
        column="v",
        min_value=low,
        max_value=high,
        strict_min=strict_min,
        strict_max=strict_max,
        mostly=mostly,
    )
    agrees(result, ~ok, v.notna(), mostly)


def test_between_on_text_fails_without_error() -> None:
    result = one(FRAME, "expect_column_values_to_be_between", column="s", min_value=0)
    assert not result.success and "not numeric" in result.observed


@settings(max_examples=30, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(-5, 5)), min_size=1, max_size=40))
def test_unique_marks_every_copy_of_a_repeat(values) -> None:
    frame = pd.DataFrame({"v": pd.array(values, dtype="Int64")})
    result = one(frame, "expect_column_values_to_be_unique", column="v")
    agrees(result, frame.v.duplicated(keep=False), frame.v.notna())


@pytest.mark.parametrize(
    "ids", [np.arange(1000), np.arange(1000)[::-1], np.random.default_rng(1).permutation(1000) * 7]
)
def test_unique_passes_distinct_ids_in_any_order(ids) -> None:
    assert one(pd.DataFrame({"id": ids}), "expect_column_values_to_be_unique", column="id").success
    repeated = ids.copy()
    repeated[5] = repeated[9]
    result = one(pd.DataFrame({"id": repeated}), "expect_column_values_to_be_unique", column="id")
    assert result.unexpected_count == 2


def test_unique_on_text_and_floats() -> None:
    agrees(
        one(FRAME, "expect_column_values_to_be_unique", column="s"),
        FRAME.s.duplicated(keep=False),
        FRAME.s.notna(),
    )
    floats = pd.DataFrame({"f": np.random.default_rng(0).normal(size=500).round(1)})
    agrees(
        one(floats, "expect_column_values_to_be_unique", column="f"),
        floats.f.duplicated(keep=False),
        floats.f.notna(),
    )


def test_compound_unique_skips_rows_all_null() -> None:
    frame = pd.DataFrame(
        {
            "a": [1, 1, 2, None, None, 1],
            "b": pd.array(["x", "x", "x", None, None, "y"], dtype="str"),
        }
    )
    result = one(frame, "expect_compound_columns_to_be_unique", column_list=["a", "b"])
    all_null = frame.isna().all(axis=1)
    agrees(result, frame.duplicated(keep=False) & ~all_null, ~all_null)
    assert result.unexpected_count == 2
    ok = one(frame.iloc[[0, 2, 5]], "expect_compound_columns_to_be_unique", column_list=["a", "b"])
    assert ok.success


@pytest.mark.parametrize("pattern", [r"^a", r"b", r"(a)\1"])  # the last needs Python's re
def test_regex_uses_search_semantics(pattern: str) -> None:
    frame = pd.DataFrame({"s": pd.array(["ab", "aab", None, "zz", "ba"], dtype="str")})
    hit = frame.s.map(lambda v: v is not None and v == v and re.search(pattern, v) is not None)
    present = frame.s.notna()
    agrees(
        one(frame, "expect_column_values_to_match_regex", column="s", regex=pattern), ~hit, present
    )
    agrees(
        one(frame, "expect_column_values_to_not_match_regex", column="s", regex=pattern),
        hit,
        present,
    )


def test_regex_on_many_distinct_values() -> None:
    values = [f"user{i}" if i % 97 else f"bad{i}" for i in range(30_000)]
    frame = pd.DataFrame({"s": values})
    result = one(frame, "expect_column_values_to_match_regex", column="s", regex=r"^user\d+$")
    assert result.unexpected_count == sum(not v.startswith("user") for v in values)


def test_value_lengths_between() -> None:
    lengths = FRAME.s.str.len()
    result = one(
        FRAME, "expect_column_value_lengths_to_be_between", column="s", min_value=2, max_value=2
    )
    agrees(result, ~lengths.between(2, 2), FRAME.s.notna())
    assert not one(
        FRAME, "expect_column_value_lengths_to_be_between", column="n", min_value=1
    ).success


def test_pair_a_greater_than_b_skips_rows_where_both_are_null() -> None:
    frame = pd.DataFrame({"a": [3.0, 1.0, np.nan, np.nan, 2.0], "b": [1.0, 1.0, np.nan, 0.0, 5.0]})
    both_null = frame.a.isna() & frame.b.isna()
    for or_equal in (False, True):
        ok = (frame.a >= frame.b) if or_equal else (frame.a > frame.b)
        result = one(
            frame,
            "expect_column_pair_values_A_to_be_greater_than_B",
            column_A="a",
            column_B="b",
            or_equal=or_equal,
        )
        agrees(result, ~ok, ~both_null)


@pytest.mark.parametrize("mostly", [0.0, 0.5, 0.6, 0.61, 1.0])
def test_mostly_is_the_passing_share_of_non_null_rows(mostly: float) -> None:
    frame = pd.DataFrame({"v": [1.0, 2.0, 3.0, 40.0, 50.0, np.nan]})  # 3 of 5 pass
    result = one(
        frame, "expect_column_values_to_be_between", column="v", max_value=10, mostly=mostly
    )
    assert result.success is (mostly <= 0.6)
    assert result.observed == pytest.approx(0.6)
    assert result.missing_count == 1


def test_a_column_of_nulls_passes_row_expectations_but_not_not_null() -> None:
    frame = pd.DataFrame({"v": [np.nan, np.nan]})
    assert one(frame, "expect_column_values_to_be_between", column="v", min_value=0).success
    assert not one(frame, "expect_column_values_to_not_be_null", column="v").success


def test_custom_check_gets_the_frame_and_its_mask_decides() -> None:
    frame = pd.DataFrame({"revenue": [1.0, -2.0, 3.0, -4.0]})
    contract = Contract().add_check("revenue_pos", lambda df: df["revenue"] > 0, column="revenue")
    result = validate(frame, contract).results[0]
    agrees(result, ~(frame.revenue > 0), frame.revenue.notna())
    assert sorted(e["value"] for e in result.examples) == [-4.0, -2.0]
    lenient = Contract().add_check("revenue_pos", lambda df: df["revenue"] > 0, mostly=0.5)
    assert validate(frame, lenient).success
