"""split_frame and check_no_leak: sizes, stratification (sklearn as the oracle), groups, time, leaks."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perennia.data.prepare.allocation import part_sizes, stratified_sizes
from perennia.data.prepare.split import check_no_leak, split_frame
from perennia.errors import InvalidInput


def frame(n: int = 200, seed: int = 1) -> pd.DataFrame:
    """Return a frame with an id, a 3-class label, groups of 7 rows and hourly times."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "label": rng.choice(["a", "b", "c"], size=n, p=[0.6, 0.3, 0.1]),
            "user": np.arange(n) // 7,
            "at": pd.date_range("2024-01-01", periods=n, freq="h")[rng.permutation(n)],
            "x": rng.normal(size=n),
        }
    )


def ids(parts: dict) -> dict[str, set]:
    return {name: set(part["id"]) for name, part in parts.items()}


@pytest.mark.parametrize("by", ["random", "stratified", "group", "time"])
def test_every_row_lands_in_exactly_one_part(by: str) -> None:
    data = frame()
    group = "user" if by == "group" else None
    parts, rule = split_frame(data, by=by, label="label", group=group, time="at", key="id")
    assert list(parts) == ["train", "validation", "test"]
    together = pd.concat(parts.values())
    assert sorted(together["id"]) == list(range(len(data)))
    assert rule["rows"] == {name: len(part) for name, part in parts.items()}
    assert json.loads(json.dumps(rule)) == rule


@pytest.mark.parametrize("by", ["random", "stratified", "group", "time"])
def test_parts_keep_the_input_order_and_index(by: str) -> None:
    data = frame().set_index(pd.Index(np.arange(200) * 10))
    group = "user" if by == "group" else None
    parts, _ = split_frame(data, by=by, label="label", group=group, time="at")
    for part in parts.values():
        assert part.index.is_monotonic_increasing
        pd.testing.assert_frame_equal(part, data.loc[part.index])


def test_random_split_is_repeatable_for_a_seed_and_changes_with_it() -> None:
    data = frame()
    first, rule = split_frame(data, seed=7)
    again, _ = split_frame(data, seed=7)
    other, _ = split_frame(data, seed=8)
    assert ids(first) == ids(again)
    assert ids(first) != ids(other)
    assert rule["rows"] == {"train": 160, "validation": 20, "test": 20}
    assert rule["seed"] == 7 and rule["by"] == "random"


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(0, 300),
    weights=st.lists(st.integers(0, 10), min_size=1, max_size=5).filter(lambda w: sum(w) > 0),
)
def test_part_sizes_add_up_and_stay_within_one_row_of_exact(n: int, weights: list[int]) -> None:
    fractions = [w / sum(weights) for w in weights]
    sizes = part_sizes(n, fractions)
    assert sum(sizes) == n
    for size, fraction in zip(sizes, fractions, strict=True):
        assert abs(size - n * fraction) < 1


@settings(max_examples=40, deadline=None)
@given(
    counts=st.lists(st.integers(3, 60), min_size=1, max_size=12),
    weights=st.lists(st.integers(1, 10), min_size=2, max_size=3),
)
def test_stratified_sizes_keep_every_class_within_one_row_and_parts_exact(
    counts: list[int], weights: list[int]
) -> None:
    fractions = [w / sum(weights) for w in weights]
    sizes = stratified_sizes(counts, fractions)
    exact = np.asarray(counts)[:, None] * np.asarray(fractions)[None, :]
    assert (np.abs(sizes - exact) < 1 + 1e-9).all()
    assert sizes.sum(axis=1).tolist() == counts
    assert sizes.sum(axis=0).tolist() == part_sizes(sum(counts), fractions)


def test_stratified_split_matches_sklearn_class_proportions() -> None:
    from sklearn.model_selection import StratifiedShuffleSplit

    data = frame(n=997, seed=3)
    parts, _ = split_frame(
        data, by="stratified", label="label", fractions=(0.75, 0.25), names=("train", "test")
    )
    splitter = StratifiedShuffleSplit(n_splits=1, test_size=0.25, random_state=0)
    _, test_rows = next(splitter.split(data, data["label"]))
    ours = parts["test"]["label"].value_counts()
    theirs = data["label"].iloc[test_rows].value_counts()
    totals = data["label"].value_counts()
    for cls in totals.index:
        assert abs(ours[cls] - 0.25 * totals[cls]) < 1
        assert abs(ours[cls] - theirs[cls]) <= 1
    assert abs(len(parts["test"]) - len(test_rows)) <= 1


def test_stratified_split_of_many_small_classes_fills_every_part() -> None:
    data = pd.DataFrame({"label": np.repeat(np.arange(1000), 3), "id": np.arange(3000)})
    parts, rule = split_frame(data, by="stratified", label="label")
    assert rule["rows"] == {"train": 2400, "validation": 300, "test": 300}
    per_class = pd.concat(parts).reset_index(level=0).groupby(["label", "level_0"]).size()
    assert per_class.max() <= 3


def test_group_split_keeps_each_group_in_one_part_and_rows_near_the_fractions() -> None:
    data = frame(n=2000)
    parts, rule = split_frame(data, by="group", group="user", seed=4)
    check_no_leak(parts, group="user")
    owners = {user: name for name, part in parts.items() for user in set(part["user"])}
    assert len(owners) == data["user"].nunique()
    for name, fraction in zip(parts, (0.8, 0.1, 0.1), strict=True):
        assert abs(rule["rows"][name] - 2000 * fraction) <= 7  # at most one group of 7 rows off


def test_time_split_puts_the_earliest_rows_first_with_no_overlap() -> None:
    data = frame()
    parts, rule = split_frame(data, by="time", time="at")
    train, validation, test = parts.values()
    assert train["at"].max() < validation["at"].min()
    assert validation["at"].max() < test["at"].min()
    assert rule["rows"] == {"train": 160, "validation": 20, "test": 20}
    assert rule["time_ranges"]["train"][0] == str(data["at"].min())


@settings(max_examples=30, deadline=None)
@given(
    days=st.lists(st.integers(0, 6), min_size=3, max_size=60),
    tz=st.sampled_from([None, "UTC", "Europe/Paris"]),
)
def test_time_split_sends_tied_times_to_one_side(days: list[int], tz: str | None) -> None:
    times = pd.to_datetime("2024-03-01") + pd.to_timedelta(days, unit="D")
    data = pd.DataFrame({"at": times.tz_localize(tz) if tz else times, "id": range(len(days))})
    parts, _ = split_frame(data, by="time", time="at", fractions=(0.5, 0.3, 0.2))
    filled = [part for part in parts.values() if len(part)]
    for earlier, later in zip(filled, filled[1:], strict=False):
        assert earlier["at"].max() < later["at"].min()
    assert sum(len(part) for part in parts.values()) == len(days)


@pytest.mark.parametrize("kind", ["polars", "arrow"])
def test_polars_and_arrow_frames_come_back_as_their_own_type(kind: str) -> None:
    data = frame()
    given_frame = (
        pl.from_pandas(data)
        if kind == "polars"
        else pa.Table.from_pandas(data, preserve_index=False)
    )
    parts, rule = split_frame(given_frame, by="stratified", label="label", seed=2)
    expected, expected_rule = split_frame(data, by="stratified", label="label", seed=2)
    assert rule == expected_rule
    for name, part in parts.items():
        assert isinstance(part, pl.DataFrame if kind == "polars" else pa.Table)
        assert part.to_pandas()["id"].tolist() == expected[name]["id"].tolist()


def test_check_no_leak_names_the_column_the_parts_and_a_value() -> None:
    parts = {"train": pd.DataFrame({"k": [1, 2, 3]}), "test": pd.DataFrame({"k": [4, 3]})}
    with pytest.raises(InvalidInput, match=r"'k'.*'train' and 'test'.*value 3"):
        check_no_leak(parts, key="k")
    check_no_leak({"train": parts["train"], "test": pd.DataFrame({"k": [4, 5]})}, key="k")


def test_a_random_split_over_a_repeated_key_is_refused() -> None:
    data = frame()
    with pytest.raises(InvalidInput, match=r"key column 'user' leaks across parts"):
        split_frame(data, key="user")
    with pytest.raises(InvalidInput, match=r"group column 'user' leaks"):
        split_frame(data, group="user")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"fractions": (0.5, 0.4, 0.2)}, r"sum to 1\.1; they must sum to 1"),
        ({"fractions": (1.2, -0.1, -0.1)}, r"fraction -0\.1 is negative"),
        ({"fractions": (0.5, 0.5)}, r"3 names .* 2 fractions"),
        ({"names": ("a", "a", "b")}, r"distinct"),
        ({"by": "kfold"}, r"by='kfold' is not a split method; use one of random"),
        ({"by": "stratified"}, r"by='stratified' needs label="),
        ({"by": "group", "group": "nope"}, r"no column 'nope'; its columns are"),
        ({"key": "missing"}, r"no column 'missing'"),
        ({"seed": -1}, r"seed=-1"),
    ],
)
def test_bad_split_arguments_are_refused_clearly(arguments: dict, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        split_frame(frame(), **arguments)


def test_stratified_class_with_fewer_rows_than_parts_is_refused() -> None:
    data = pd.DataFrame({"label": ["a"] * 10 + ["rare"] * 2})
    with pytest.raises(
        InvalidInput,
        match=r"class 'rare' of label column 'label' has 2 rows, fewer than the 3 parts",
    ):
        split_frame(data, by="stratified", label="label")


def test_nulls_in_the_split_column_are_refused() -> None:
    data = pd.DataFrame({"label": ["a", None, "b", "a", "b", "a"]})
    with pytest.raises(InvalidInput, match=r"column 'label' has 1 null values"):
        split_frame(data, by="stratified", label="label", fractions=(0.5, 0.5), names=("a", "b"))


def test_a_non_frame_is_refused() -> None:
    with pytest.raises(
        InvalidInput, match=r"pass a pandas DataFrame, a polars DataFrame or a pyarrow Table"
    ):
        split_frame([[1, 2], [3, 4]])
