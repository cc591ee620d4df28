"""Table, aggregate and drift expectations against pandas, numpy and scipy oracles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import jensenshannon

from perennia.data.contracts import Contract, validate
from perennia.data.contracts.drift import distance, numeric_profile
from tests.data.test_expectations_rows import one

FRAME = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", None]})


def test_column_to_exist_is_a_failure_not_an_error() -> None:
    assert one(FRAME, "expect_column_to_exist", column="a").success
    assert not one(FRAME, "expect_column_to_exist", column="zz").success


def test_an_expectation_on_a_missing_column_fails() -> None:
    result = one(FRAME, "expect_column_values_to_be_between", column="zz", min_value=0)
    assert not result.success
    assert result.details["missing_columns"] == ["zz"]


@pytest.mark.parametrize(
    ("column_set", "exact", "success"),
    [
        (["a", "b"], True, True),
        (["b", "a"], True, True),
        (["a"], True, False),
        (["a"], False, True),
        (["a", "c"], False, False),
    ],
)
def test_columns_match_set(column_set, exact, success) -> None:
    result = one(
        FRAME, "expect_table_columns_to_match_set", column_set=column_set, exact_match=exact
    )
    assert result.success is success


@pytest.mark.parametrize(
    ("low", "high", "success"), [(1, 3, True), (3, None, True), (4, None, False), (None, 2, False)]
)
def test_row_count_between(low, high, success) -> None:
    assert (
        one(FRAME, "expect_table_row_count_to_be_between", min_value=low, max_value=high).success
        is success
    )


AGGREGATES = {
    "expect_column_mean_to_be_between": lambda s: s.mean(),
    "expect_column_min_to_be_between": lambda s: s.min(),
    "expect_column_max_to_be_between": lambda s: s.max(),
    "expect_column_stdev_to_be_between": lambda s: s.std(),
}


@settings(max_examples=30, deadline=None)
@given(
    values=st.lists(st.one_of(st.none(), st.floats(-1e6, 1e6)), min_size=2, max_size=50).filter(
        lambda v: sum(x is not None for x in v) >= 2
    ),
    name=st.sampled_from(sorted(AGGREGATES)),
    width=st.floats(0, 10),
)
def test_aggregates_match_pandas(values, name, width) -> None:
    series = pd.Series(values, dtype="float64")
    expected = AGGREGATES[name](series)
    inside = one(
        pd.DataFrame({"v": series}),
        name,
        column="v",
        min_value=expected - width - 1e-6 * abs(expected),
        max_value=expected + width + 1e-6 * abs(expected),
    )
    assert inside.success
    assert inside.observed == pytest.approx(expected, rel=1e-9, abs=1e-9)
    above = one(
        pd.DataFrame({"v": series}),
        name,
        column="v",
        min_value=expected + width + 1 + 1e-6 * abs(expected),
    )
    assert not above.success


def test_aggregate_on_text_or_all_null_fails() -> None:
    assert not one(FRAME, "expect_column_mean_to_be_between", column="b", min_value=0).success
    empty = pd.DataFrame({"v": [np.nan, np.nan]})
    assert not one(empty, "expect_column_max_to_be_between", column="v", min_value=0).success


@pytest.mark.parametrize(
    ("low", "high", "success"), [(0.6, 0.7, True), (0.7, 1.0, False), (None, 0.5, False)]
)
def test_proportion_of_non_null(low, high, success) -> None:
    result = one(
        FRAME,
        "expect_column_proportion_of_non_null_values_to_be_between",
        column="b",
        min_value=low,
        max_value=high,
    )
    assert result.success is success
    assert result.observed == pytest.approx(FRAME.b.notna().mean())


@settings(max_examples=30, deadline=None)
@given(
    p=st.lists(st.floats(0, 1), min_size=2, max_size=12).filter(lambda v: sum(v) > 0.01),
    q=st.lists(st.floats(0, 1), min_size=12, max_size=12).filter(lambda v: sum(v) > 0.01),
)
def test_jensen_shannon_distance_matches_scipy(p, q) -> None:
    q = q[: len(p)]
    if sum(q) <= 0.01:
        return
    assert distance("jensen_shannon", p, q) == pytest.approx(jensenshannon(p, q, base=2), abs=1e-9)
    assert distance("linf", p, q) == pytest.approx(np.max(np.abs(np.subtract(p, q))))


def test_psi_matches_its_formula() -> None:
    p, q = np.array([0.2, 0.3, 0.5]), np.array([0.1, 0.4, 0.5])
    assert distance("psi", p, q) == pytest.approx(np.sum((q - p) * np.log(q / p)))


def test_numeric_profile_bins_on_the_reference_quantiles() -> None:
    values = np.random.default_rng(0).normal(size=10_000)
    profile = numeric_profile(values)
    assert profile["edges"] == pytest.approx(np.quantile(values, np.arange(1, 10) / 10))
    assert profile["proportions"] == pytest.approx([0.1] * 10, abs=1e-3)


def drift_contract(reference: pd.DataFrame, column: str, metric: str, threshold: float) -> Contract:
    from perennia.data.contracts.columns import Columns
    from perennia.data.contracts.drift import profile_of

    profile = profile_of(Columns(reference), column)
    return Contract().expect(
        "expect_column_drift_to_be_below",
        column=column,
        metric=metric,
        threshold=threshold,
        reference=profile,
    )


@pytest.mark.parametrize("metric", ["jensen_shannon", "psi"])
def test_numeric_drift_flags_a_shift_and_not_a_resample(metric: str) -> None:
    rng = np.random.default_rng(3)
    reference = pd.DataFrame({"x": rng.normal(size=20_000)})
    contract = drift_contract(reference, "x", metric, 0.1)
    assert validate(pd.DataFrame({"x": rng.normal(size=20_000)}), contract).success
    shifted = validate(pd.DataFrame({"x": rng.normal(1.0, size=20_000)}), contract)
    assert not shifted.success
    assert shifted.results[0].observed > 0.1


def test_categorical_drift_is_the_largest_change_in_share() -> None:
    reference = pd.DataFrame({"c": ["a"] * 50 + ["b"] * 50})
    contract = drift_contract(reference, "c", "linf", 0.1)
    same = pa.table({"c": ["a"] * 48 + ["b"] * 52})
    assert validate(same, contract).results[0].observed == pytest.approx(0.02)
    moved = pd.DataFrame({"c": ["a"] * 30 + ["b"] * 50 + ["new"] * 20})
    result = validate(moved, contract).results[0]
    assert not result.success
    assert result.observed == pytest.approx(0.2)  # a: 0.5 -> 0.3, other: 0 -> 0.2
