"""Reference profiles: exact merges on a shared grid, Parquet streaming, bytes, regrid, HLL."""

from __future__ import annotations

import base64
import json
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perennia.errors import InvalidInput
from perennia.monitoring.profiles import (
    CategoricalProfile,
    DatasetProfile,
    NumericProfile,
    bounds_of,
    profile,
    union_bounds,
)
from perennia.monitoring.profiles.categorical import MAX_CATEGORIES, OTHER
from perennia.monitoring.profiles.numeric import merge_numeric, numeric_profile, regrid

EXAMPLES = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NUMERIC = ["amount", "wait", "sparse", "visits", "flag"]


def dataset(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sparse = rng.normal(0.0, 1.0, rows)
    sparse[rng.random(rows) < 0.2] = np.nan
    city = pd.Series(rng.choice(["oslo", "rome", "lima", "kyiv"], rows), dtype=object)
    city[rng.random(rows) < 0.05] = None
    return pd.DataFrame(
        {
            "amount": rng.normal(50.0, 10.0, rows),
            "wait": rng.exponential(2.0, rows),
            "sparse": sparse,
            "visits": rng.poisson(3.0, rows),
            "flag": (rng.random(rows) < 0.3).astype(np.int64),
            "city": city,
            "member": rng.random(rows) < 0.6,
        }
    )


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return dataset(40_000, 1)


def assert_same_profile(ours: DatasetProfile, theirs: DatasetProfile) -> None:
    """Equal counts, tails to 1e-9, moments to 1e-12 and the same distinct-count sketch."""
    assert list(ours.columns) == list(theirs.columns)
    assert ours.rows == theirs.rows
    for name, mine in ours.columns.items():
        other = theirs.columns[name]
        assert type(mine) is type(other), name
        if isinstance(mine, NumericProfile):
            assert (mine.lo, mine.hi) == (other.lo, other.hi), name
            np.testing.assert_array_equal(mine.counts, other.counts)
            np.testing.assert_allclose(mine.tails, other.tails, rtol=0, atol=1e-9)
            np.testing.assert_array_equal(mine.registers, other.registers)
            assert (mine.count, mine.missing) == (other.count, other.missing), name
            assert (mine.minimum, mine.maximum) == (other.minimum, other.maximum), name
            assert mine.mean == pytest.approx(other.mean, rel=1e-12, abs=1e-12), name
            assert mine.std == pytest.approx(other.std, rel=1e-12), name
            assert mine.exact and other.exact
        else:
            assert mine.counts == other.counts, name
            assert (mine.missing, mine.kind, mine.exact) == (other.missing, other.kind, True)


@EXAMPLES
@given(st.lists(st.integers(1, 39_999), min_size=3, max_size=3, unique=True))
def test_chunks_profiled_on_shared_bounds_merge_into_the_whole(
    data: pd.DataFrame, cuts: list[int]
) -> None:
    edges = [0, *sorted(cuts), len(data)]
    chunks = [data.iloc[start:stop] for start, stop in zip(edges, edges[1:], strict=False)]
    bounds = union_bounds(*(bounds_of(chunk, NUMERIC) for chunk in chunks))
    assert bounds == bounds_of(data, NUMERIC)
    parts = [profile(chunk, bounds=bounds) for chunk in chunks]
    merged = parts[0]
    for part in parts[1:]:
        merged = merged.merge(part)
    whole = profile(data)
    assert_same_profile(merged, whole)
    assert merged.exact
    # Numbers a direct computation gives.
    amount = whole.columns["amount"]
    assert amount.mean == pytest.approx(data["amount"].mean(), rel=1e-12)
    assert amount.std == pytest.approx(data["amount"].std(ddof=0), rel=1e-12)
    assert whole.columns["sparse"].missing == int(data["sparse"].isna().sum())
    assert whole.columns["city"].counts == data["city"].value_counts().to_dict()
    assert whole.columns["city"].missing == int(data["city"].isna().sum())


def test_column_kinds_follow_the_drift_engine_rules(data: pd.DataFrame) -> None:
    kinds = {name: p.kind for name, p in profile(data).columns.items()}
    assert kinds == {
        "amount": "numeric",
        "wait": "numeric",
        "sparse": "numeric",
        "visits": "numeric",
        "flag": "binary",
        "city": "categorical",
        "member": "binary",
    }


def test_a_chunk_outside_the_given_bounds_is_refused(data: pd.DataFrame) -> None:
    with pytest.raises(InvalidInput, match="outside the profile bounds"):
        profile(data, columns=["amount"], bounds={"amount": (40.0, 60.0)})


def test_a_parquet_file_streamed_by_row_group_profiles_like_memory(
    data: pd.DataFrame, tmp_path: Path
) -> None:
    path = tmp_path / "data.parquet"
    table = pa.Table.from_pandas(data, preserve_index=False)
    pq.write_table(table, path, row_group_size=6_000)
    assert pq.ParquetFile(path).num_row_groups == 7
    assert_same_profile(profile(path), profile(data))
    assert_same_profile(
        profile(str(path), columns=["wait", "city"]), profile(data[["wait", "city"]])
    )


def test_a_row_group_of_only_nulls_is_read_for_its_bounds(tmp_path: Path) -> None:
    values = np.r_[np.full(500, np.nan), np.linspace(-3.0, 7.0, 1_500)]
    frame = pd.DataFrame({"x": values})
    path = tmp_path / "nulls.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=500)
    assert_same_profile(profile(path), profile(frame))


def test_bytes_round_trip_keeps_every_field_and_the_column_order(data: pd.DataFrame) -> None:
    ordered = data[["wait", "city", "amount", "member", "sparse", "flag", "visits"]]
    original = profile(ordered)
    back = DatasetProfile.from_bytes(original.to_bytes())
    assert_same_profile(back, original)
    assert list(back.columns) == list(ordered.columns)
    assert back.meta == original.meta
    np.testing.assert_array_equal(back.columns["wait"].tails, original.columns["wait"].tails)
    assert back.columns["member"].counts == original.columns["member"].counts
    assert back.to_bytes() == original.to_bytes()


def packed(profile_: DatasetProfile) -> dict:
    return json.loads(profile_.to_bytes())


@pytest.fixture(scope="module")
def small() -> DatasetProfile:
    return profile(dataset(2_000, 4))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda body: b"\x89PNG\r\n\x1a\n\x00\x00", "not JSON"),
        (lambda body: b"[1, 2, 3]", "'format'"),
        (lambda body: json.dumps({**body, "format": "other.profile"}).encode(), "'format'"),
        (lambda body: json.dumps({**body, "version": 2}).encode(), "version 2"),
        (lambda body: json.dumps(body).encode()[:-40], "not JSON"),
        (lambda body: json.dumps({**body, "rows": "many"}).encode(), "damaged"),
        (lambda body: json.dumps({**body, "order": ["amount"]}).encode(), "damaged"),
    ],
)
def test_from_bytes_refuses_what_to_bytes_did_not_write(
    small: DatasetProfile, damage, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        DatasetProfile.from_bytes(damage(packed(small)))


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda array: {**array, "data": array["data"][:-3]},  # truncated base64
        lambda array: {**array, "data": base64.b64encode(b"not zlib").decode()},
        lambda array: {**array, "data": base64.b64encode(zlib.compress(b"12345")).decode()},
        lambda array: {**array, "dtype": "|O"},
        lambda array: {**array, "dtype": "no such type"},
    ],
)
def test_from_bytes_refuses_damaged_arrays(small: DatasetProfile, corrupt) -> None:
    body = packed(small)
    body["columns"]["amount"]["counts"] = corrupt(body["columns"]["amount"]["counts"])
    with pytest.raises(InvalidInput, match="damaged"):
        DatasetProfile.from_bytes(json.dumps(body).encode())


def test_from_bytes_refuses_an_unknown_column_kind(small: DatasetProfile) -> None:
    body = packed(small)
    body["columns"]["city"]["kind"] = "image"
    with pytest.raises(InvalidInput, match="unknown column kind"):
        DatasetProfile.from_bytes(json.dumps(body).encode())


def true_cdf_at_edges(values: np.ndarray, merged: NumericProfile) -> np.ndarray:
    """Count of values in the merged grid's buckets 0..k, by the grid's own bucket rule."""
    index = np.minimum(
        ((values - merged.lo) * (merged.counts.size / (merged.hi - merged.lo))).astype(np.int64),
        merged.counts.size - 1,
    )
    return np.cumsum(np.bincount(index, minlength=merged.counts.size))


@EXAMPLES
@given(
    st.integers(0, 2**32 - 1),
    st.integers(2, 3_000),
    st.integers(2, 3_000),
    st.floats(0.0, 3.0),
    st.floats(0.0, 2.0),
)
def test_merging_profiles_on_different_grids_stays_within_the_stated_bound(
    seed: int, bins_a: int, bins_b: int, shift: float, pad: float
) -> None:
    rng = np.random.default_rng(seed)
    x, y = rng.normal(0.0, 1.0, 5_000), rng.normal(shift, 1.5, 3_000)
    a = numeric_profile(x, float(x.min()) - pad, float(x.max()), bins_a)
    b = numeric_profile(y, float(y.min()), float(y.max()) + pad, bins_b)
    merged = merge_numeric(a, b)
    assert merged.exact is False
    assert merged.counts.sum() == merged.count == 8_000
    assert (merged.counts >= 0).all()
    # regrid's docstring: any CDF is off by at most the largest source bucket's count (plus
    # half a value of rounding), per merged profile.
    bound = a.counts.max() + b.counts.max() + 1.0
    truth = true_cdf_at_edges(np.r_[x, y], merged)
    assert np.abs(np.cumsum(merged.counts) - truth).max() <= bound
    assert merged.mean == pytest.approx(np.r_[x, y].mean(), rel=1e-9, abs=1e-12)
    assert merged.std == pytest.approx(np.r_[x, y].std(), rel=1e-9)


def test_dataset_profiles_on_different_grids_merge_inexactly(data: pd.DataFrame) -> None:
    first = profile(data.iloc[:20_000], bins=256)
    second = profile(data.iloc[20_000:], bins=1_024)
    merged = first.merge(second)
    assert merged.exact is False
    assert merged.columns["amount"].exact is False
    assert merged.columns["city"].exact is True
    assert merged.columns["amount"].counts.sum() == merged.columns["amount"].count == len(data)
    assert merged.rows == len(data)


def test_regrid_onto_a_finer_grid_keeps_every_value() -> None:
    rng = np.random.default_rng(6)
    x = rng.uniform(0.0, 1.0, 1_000)
    coarse = numeric_profile(x, 0.0, 1.0, 16)
    fine = regrid(coarse, 0.0, 1.0, 4_096)
    # Spread over 256 fine buckets each, a coarse bucket's 60-odd values are under half a value
    # per bucket: rounding bucket by bucket would lose them all.
    assert fine.counts.sum() == 1_000
    truth = true_cdf_at_edges(x, fine)
    assert np.abs(np.cumsum(fine.counts) - truth).max() <= coarse.counts.max() + 0.5


def test_regrid_of_a_constant_column_keeps_its_values_at_their_place() -> None:
    constant = numeric_profile(np.full(100, 5.0), 5.0, 5.0, 64)
    spread = numeric_profile(np.linspace(0.0, 10.0, 100), 0.0, 10.0, 64)
    merged = merge_numeric(constant, spread)
    # 5.0 falls in bucket 32 of 64 over [0, 10]; nothing moved to the grid's low end.
    assert merged.counts[32] >= 100
    assert merged.counts[0] == spread.counts[0]


def test_regrid_to_the_same_grid_is_the_identity_and_refuses_narrower_bounds() -> None:
    p = numeric_profile(np.linspace(0.0, 1.0, 50), 0.0, 1.0, 32)
    assert regrid(p, 0.0, 1.0, 32) is p
    with pytest.raises(InvalidInput, match="contain"):
        regrid(p, 0.2, 1.0, 32)


def test_merging_profiles_of_different_columns_is_refused(small: DatasetProfile) -> None:
    other = profile(dataset(100, 5)[["amount"]])
    with pytest.raises(InvalidInput, match="differ in columns"):
        small.merge(other)


@pytest.mark.parametrize("distinct", [10_000, 1_000_000])
def test_distinct_count_is_within_five_percent(distinct: int) -> None:
    rng = np.random.default_rng(distinct)
    values = rng.permutation(np.arange(distinct, dtype=np.float64) * 0.37 - 1_000.0)
    column = profile(pd.DataFrame({"x": values})).columns["x"]
    print(f"HLL estimate for {distinct}: {column.distinct:.0f}")
    assert column.distinct == pytest.approx(distinct, rel=0.05)


def test_distinct_count_of_merged_chunks_counts_shared_values_once() -> None:
    values = np.arange(20_000, dtype=np.float64)
    bounds = {"x": (0.0, 19_999.0)}
    first = profile(pd.DataFrame({"x": values[:15_000]}), bounds=bounds)
    second = profile(pd.DataFrame({"x": values[5_000:]}), bounds=bounds)
    assert first.merge(second).columns["x"].distinct == pytest.approx(20_000, rel=0.05)


def test_categories_past_the_cap_are_pooled_and_marked_inexact() -> None:
    labels = [f"user-{i}" for i in range(MAX_CATEGORIES + 50)]
    column = profile(pd.DataFrame({"who": labels + ["user-1"] * 5})).columns["who"]
    assert isinstance(column, CategoricalProfile)
    assert column.exact is False
    assert column.distinct == MAX_CATEGORIES
    assert column.counts[OTHER] == 51
    assert column.count == len(labels) + 5
    assert column.frequent(1) == [("user-1", 6)]


def test_a_profile_array_that_inflates_past_the_cap_is_refused():
    import base64
    import json
    import zlib

    import pandas as pd

    from perennia.errors import InvalidInput
    from perennia.monitoring.profiles import DatasetProfile, profile

    body = json.loads(profile(pd.DataFrame({"x": [1.0, 2.0, 3.0]})).to_bytes())
    bomb = base64.b64encode(zlib.compress(b"\0" * (65 * 2**20), 9)).decode()
    body["columns"]["x"]["counts"]["data"] = bomb
    with pytest.raises(InvalidInput, match="damaged"):
        DatasetProfile.from_bytes(json.dumps(body).encode())
