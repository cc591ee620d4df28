"""diff_frames and the shift measures: brute-force and scipy oracles, schema and row changes."""

from __future__ import annotations

import json
import math
from collections import Counter

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import ks_2samp

from perennia.data.prepare.diff import diff_frames
from perennia.data.prepare.shift import PSI_FLOOR, column_shift, ks_statistic, linf_distance, psi
from perennia.errors import InvalidInput

small_floats = st.lists(st.integers(-6, 6).map(lambda v: v / 2), min_size=1, max_size=40)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # scipy's p-value on one-row samples
@settings(max_examples=50, deadline=None)
@given(a=small_floats, b=small_floats)
def test_ks_statistic_matches_scipy(a: list[float], b: list[float]) -> None:
    assert ks_statistic(a, b) == pytest.approx(ks_2samp(a, b, method="asymp").statistic, abs=1e-12)


@settings(max_examples=50, deadline=None)
@given(a=small_floats, b=small_floats)
def test_psi_matches_a_pandas_cut_on_the_reference_deciles(a: list[float], b: list[float]) -> None:
    edges = sorted(set(np.quantile(a, [i / 10 for i in range(1, 10)])))
    bins = [-math.inf, *edges, math.inf]
    expected = pd.cut(pd.Series(a), bins, right=True).value_counts(sort=False) / len(a)
    actual = pd.cut(pd.Series(b), bins, right=True).value_counts(sort=False) / len(b)
    p, q = np.maximum(expected.to_numpy(), PSI_FLOOR), np.maximum(actual.to_numpy(), PSI_FLOOR)
    assert psi(a, b) == pytest.approx(float(np.sum((q - p) * np.log(q / p))), abs=1e-9)
    assert psi(a, b) >= 0 and psi(a, a) == 0


def test_psi_of_a_hand_worked_case() -> None:
    reference = np.arange(100.0)  # deciles cut it into ten bins of ten rows
    current = np.arange(50.0)  # all in the lower five bins: 0.2 each, the upper five empty
    p, q = 0.1, 0.2
    expected = 5 * (q - p) * math.log(q / p) + 5 * (PSI_FLOOR - p) * math.log(PSI_FLOOR / p)
    assert psi(reference, current) == pytest.approx(expected)


@settings(max_examples=50, deadline=None)
@given(
    a=st.lists(st.sampled_from("abcd"), min_size=1, max_size=30),
    b=st.lists(st.sampled_from("abcde"), min_size=1, max_size=30),
)
def test_linf_distance_is_the_largest_change_in_a_value_share(a: list[str], b: list[str]) -> None:
    share_a, share_b = Counter(a), Counter(b)
    gaps = {v: abs(share_a[v] / len(a) - share_b[v] / len(b)) for v in set(a) | set(b)}
    distance, value = linf_distance(a, b)
    assert distance == pytest.approx(max(gaps.values()))
    assert gaps[value] == pytest.approx(distance)


def test_column_shift_leaves_nulls_out_and_reports_their_fractions() -> None:
    shift = column_shift("x", pd.Series([1.0, None, 2.0, None]), pd.Series([1.0, 2.0]))
    assert shift.kind == "numeric" and shift.ks == 0 and shift.psi == 0
    assert (shift.null_fraction_a, shift.null_fraction_b) == (0.5, 0.0)
    empty = column_shift("x", pd.Series([None, None], dtype=float), pd.Series([1.0]))
    assert empty.psi is None and empty.ks is None and empty.null_fraction_a == 1.0
    flags = column_shift("f", pd.Series([True, True]), pd.Series([True, False]))
    # True and False moved by the same 0.5: a tie names the smallest value.
    assert flags.kind == "categorical" and flags.linf == 0.5 and flags.most_moved is False


def keyed_frames():
    a = pd.DataFrame(
        {"id": [1, 2, 3, 4], "x": [1.0, 2.0, 3.0, None], "city": ["p", "q", "q", "r"], "old": 1}
    )
    b = pd.DataFrame(
        {"id": [2, 3, 4, 5], "x": [2.0, 3.5, None, 9.0], "city": ["q", "q", "r", "q"], "new": 0}
    )
    return a, b


def test_schema_changes_are_listed_with_types() -> None:
    a, b = keyed_frames()
    b["city"] = b["city"].astype("category")
    diff = diff_frames(a, b, key="id")
    assert diff.columns_added == (("new", "int64"),)
    assert diff.columns_removed == (("old", "int64"),)
    assert diff.type_changes == (("city", str(a["city"].dtype), "category"),)


def test_keyed_diff_counts_added_removed_and_changed_rows() -> None:
    a, b = keyed_frames()
    diff = diff_frames(a, b, key="id")
    assert (diff.rows_a, diff.rows_b) == (4, 4)
    assert (diff.rows_added, diff.rows_removed, diff.rows_changed) == (1, 1, 1)
    assert diff.examples == {
        "added": (5,),
        "removed": (1,),
        "changed": (3,),
    }  # null == null for id 4
    assert [shift.column for shift in diff.shifts] == ["x", "city"]


row = st.tuples(st.integers(0, 3), st.sampled_from(["u", "v", None]))


@settings(max_examples=30, deadline=None)
@given(
    a=st.dictionaries(st.integers(0, 12), row, max_size=10),
    b=st.dictionaries(st.integers(0, 12), row, max_size=10),
)
def test_keyed_diff_matches_set_operations_on_the_keys(a: dict, b: dict) -> None:
    def to_frame(rows: dict) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "k": list(rows),
                "n": [v[0] for v in rows.values()],
                "s": [v[1] for v in rows.values()],
            }
        ).astype({"k": "int64", "n": "int64", "s": "object"})

    diff = diff_frames(to_frame(a), to_frame(b), key="k")
    assert diff.rows_added == len(b.keys() - a.keys())
    assert diff.rows_removed == len(a.keys() - b.keys())
    assert diff.rows_changed == sum(1 for k in a.keys() & b.keys() if a[k] != b[k])
    assert set(diff.examples["changed"]) <= {k for k in a.keys() & b.keys() if a[k] != b[k]}


@settings(max_examples=30, deadline=None)
@given(a=st.lists(row, max_size=12), b=st.lists(row, max_size=12))
def test_unkeyed_diff_is_a_multiset_difference_of_whole_rows(a: list, b: list) -> None:
    def to_frame(rows: list) -> pd.DataFrame:
        return pd.DataFrame(rows, columns=["n", "s"]).astype({"n": "int64", "s": "object"})

    diff = diff_frames(to_frame(a), to_frame(b))
    count_a, count_b = Counter(a), Counter(b)
    assert diff.rows_added == sum((count_b - count_a).values())
    assert diff.rows_removed == sum((count_a - count_b).values())
    assert diff.rows_changed is None and diff.key is None


def test_a_column_whose_type_changed_is_compared_by_value() -> None:
    a = pd.DataFrame({"id": [1, 2], "n": [1, 2]})
    b = pd.DataFrame({"id": [1, 2], "n": [1.0, 2.5]})
    diff = diff_frames(a, b, key="id")
    assert diff.type_changes == (("n", "int64", "float64"),)
    assert diff.rows_changed == 1 and diff.examples["changed"] == (2,)
    assert diff_frames(a, b).rows_added == 1


def test_a_key_over_several_columns_reports_lists() -> None:
    a = pd.DataFrame({"day": ["d1", "d1", "d2"], "shop": [1, 2, 1], "sales": [5, 6, 7]})
    b = pd.DataFrame({"day": ["d1", "d2", "d3"], "shop": [1, 1, 1], "sales": [5, 8, 9]})
    diff = diff_frames(a, b, key=["day", "shop"])
    assert diff.examples == {
        "added": (["d3", 1],),
        "removed": (["d1", 2],),
        "changed": (["d2", 1],),
    }
    assert diff.to_dict()["key"] == ["day", "shop"]


def test_to_dict_is_json_and_rows_describe_every_change() -> None:
    a, b = keyed_frames()
    diff = diff_frames(a, b, key="id")
    assert json.loads(json.dumps(diff.to_dict(), allow_nan=False)) == diff.to_dict()
    lines = dict(diff.rows())
    assert lines["rows"] == "4 -> 4 (+0)"
    assert lines["column added"] == "new (int64)" and lines["column removed"] == "old (int64)"
    assert lines["rows changed"] == "1 (e.g. 3)"
    assert lines["shift: x"].startswith("PSI ") and "nulls 25.0% -> 25.0%" in lines["shift: x"]
    assert lines["shift: city"].startswith("L-inf 0.250")


@pytest.mark.parametrize("kind", ["polars", "arrow"])
def test_polars_and_arrow_frames_are_diffed_like_pandas(kind: str) -> None:
    a, b = keyed_frames()
    convert = (
        pl.from_pandas
        if kind == "polars"
        else (lambda f: pa.Table.from_pandas(f, preserve_index=False))
    )
    diff = diff_frames(convert(a), convert(b), key="id")
    assert (diff.rows_added, diff.rows_removed, diff.rows_changed) == (1, 1, 1)


def test_a_key_that_is_not_unique_is_refused_with_an_example() -> None:
    a, b = keyed_frames()
    with pytest.raises(
        InvalidInput, match=r"key 'city' is not unique in frame a: 'q' appears 2 times"
    ):
        diff_frames(a, b, key="city")


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("zip", r"frame a has no column 'zip'"),
        ([], r"key=\[\] must be a column name"),
        (3, r"key=3"),
    ],
)
def test_bad_keys_are_refused(key, message: str) -> None:
    a, b = keyed_frames()
    with pytest.raises(InvalidInput, match=message):
        diff_frames(a, b, key=key)
