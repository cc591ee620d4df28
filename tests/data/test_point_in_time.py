"""point_in_time_join against a brute-force oracle (a loop over events), on both engines."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perennia.data.prepare.asof_engines import ordering_columns
from perennia.data.prepare.point_in_time import point_in_time_join
from perennia.errors import InvalidInput

ENGINES = ["duckdb", "polars"]
START = pd.Timestamp("2024-05-01 00:00:00")
FAR_FUTURE = pd.Timestamp("2261-12-31 23:59:59.999999999")


def oracle_position(event, features, keys, event_time, feature_time, ttl) -> int:
    """Return the position of the feature row one event must get (-1 for none), by a plain loop."""
    if any(pd.isna(event[k]) for k in keys) or pd.isna(event[event_time]):
        return -1
    best = -1
    for j in range(len(features)):
        row = features.iloc[j]
        if pd.isna(row[feature_time]) or any(pd.isna(row[k]) for k in keys):
            continue
        same = all(row[k] == event[k] for k in keys)
        # ">=" on equal times: the last row in input order wins a tie.
        later = best == -1 or row[feature_time] >= features[feature_time].iloc[best]
        if same and row[feature_time] <= event[event_time] and later:
            best = j
    too_old = ttl is not None and best >= 0
    if too_old and features[feature_time].iloc[best] < event[event_time] - ttl:
        return -1
    return best


def oracle_positions(events, features, keys, event_time, feature_time, ttl) -> list[int]:
    """Return, per event, the position of the feature row the join must pick (-1 for none)."""
    return [
        oracle_position(event, features, keys, event_time, feature_time, ttl)
        for _, event in events.iterrows()
    ]


def expected_frame(events, features, keys, feature_time, positions) -> pd.DataFrame:
    """Return the events with the oracle's feature rows attached (missing values where -1)."""
    values = [c for c in features.columns if c not in keys and c != feature_time]
    left = events.reset_index(drop=True)
    right = features[values].reset_index(drop=True).reindex(positions).set_axis(left.index)
    return pd.concat([left, right], axis=1)


@st.composite
def join_case(draw):
    """Draw small events and features frames: int or string keys, one or two of them, tz or not."""
    n_keys = draw(st.sampled_from([1, 2]))
    as_text = draw(st.booleans())
    entity_value = (
        st.one_of(st.none(), st.integers(0, 2)) if draw(st.booleans()) else st.integers(0, 2)
    )
    last = draw(st.sampled_from([3, 12]))  # few distinct hours make ties common
    hour = (
        st.one_of(st.none(), st.integers(0, last)) if draw(st.booleans()) else st.integers(0, last)
    )

    def rows(size: int, with_values: bool) -> pd.DataFrame:
        data = {}
        for k in range(n_keys):
            raw = draw(st.lists(entity_value, min_size=size, max_size=size))
            column = [None if v is None else (f"e{v}" if as_text else v) for v in raw]
            data[f"key{k}"] = pd.array(column, dtype="str" if as_text else "Int64")
        hours = draw(st.lists(hour, min_size=size, max_size=size))
        data["ts"] = pd.to_datetime(
            [None if h is None else START + pd.Timedelta(hours=h) for h in hours]
        )
        if with_values:
            data["rate"] = draw(
                st.lists(st.one_of(st.none(), st.floats(-5, 5)), min_size=size, max_size=size)
            )
            data["count"] = np.arange(size, dtype=np.int64)
        return pd.DataFrame(data)

    events = rows(draw(st.integers(0, 10)), False)
    events["label"] = np.arange(len(events)) % 2
    features = rows(draw(st.integers(0, 14)), True)
    zones = draw(
        st.sampled_from([(None, None), ("UTC", "UTC"), ("Asia/Tokyo", "America/New_York")])
    )
    if zones[0]:
        events["ts"] = events["ts"].dt.tz_localize("UTC").dt.tz_convert(zones[0])
        features["ts"] = features["ts"].dt.tz_localize("UTC").dt.tz_convert(zones[1])
    events["ts"] = events["ts"].dt.as_unit(draw(st.sampled_from(["s", "us", "ns"])))
    features["ts"] = features["ts"].dt.as_unit(draw(st.sampled_from(["s", "us", "ns"])))
    if len(features) and draw(st.booleans()):
        # One feature row in 2261 at nanosecond resolution: times too far apart to pack into one
        # int64 with the row position, so the engines join on the (time, position) pair instead.
        features["ts"] = features["ts"].dt.as_unit("ns")
        far = features.iloc[[0]].assign(
            ts=FAR_FUTURE.tz_localize(zones[1]) if zones[1] else FAR_FUTURE
        )
        features = pd.concat([features, far], ignore_index=True).astype(features.dtypes.to_dict())
        features["count"] = np.arange(len(features), dtype=np.int64)
    if not as_text and not draw(st.booleans()):
        for k in range(n_keys):  # plain int64 keys when there are no nulls to hold
            if events[f"key{k}"].notna().all() and features[f"key{k}"].notna().all():
                events[f"key{k}"] = events[f"key{k}"].astype("int64")
                features[f"key{k}"] = features[f"key{k}"].astype("int64")
    ttl = draw(st.one_of(st.none(), st.integers(0, 5).map(lambda h: timedelta(hours=h))))
    return events, features, [f"key{k}" for k in range(n_keys)], ttl


@pytest.mark.parametrize("engine", ENGINES)
@settings(max_examples=30, deadline=None)
@given(case=join_case())
def test_join_matches_the_brute_force_oracle(engine: str, case) -> None:
    events, features, keys, ttl = case
    result = point_in_time_join(
        events, features, entity=keys, event_time="ts", ttl=ttl, engine=engine
    )
    positions = oracle_positions(events, features, keys, "ts", "ts", ttl)
    pd.testing.assert_frame_equal(result, expected_frame(events, features, keys, "ts", positions))


@settings(max_examples=25, deadline=None)
@given(case=join_case())
def test_both_engines_return_the_same_frame(case) -> None:
    events, features, keys, ttl = case
    by_duckdb = point_in_time_join(events, features, entity=keys, event_time="ts", ttl=ttl)
    by_polars = point_in_time_join(
        events, features, entity=keys, event_time="ts", ttl=ttl, engine="polars"
    )
    pd.testing.assert_frame_equal(by_duckdb, by_polars)


def test_times_too_far_apart_to_pack_are_joined_on_the_time_and_position_pair() -> None:
    events = pd.DataFrame(
        {"k": [1, 1], "event_timestamp": pd.to_datetime(["2024-01-02", "2262-01-01"])}
    )
    features = pd.DataFrame(
        {
            "k": [1, 1, 1],
            "event_timestamp": pd.to_datetime(["2024-01-01", "2024-01-01", "1700-01-01"]).as_unit(
                "ns"
            )
            + pd.to_timedelta([0, 0, 1], unit="ns"),
            "v": [1, 2, 3],
        }
    )
    left, right = ordering_columns(
        *(np.asarray(c.to_numpy().view("int64")) for c in (events["event_timestamp"],)),
        np.zeros(2, bool),
        features["event_timestamp"].to_numpy().view("int64"),
        np.zeros(3, bool),
    )
    assert set(right) == {"t", "pos"}
    for engine in ENGINES:
        result = point_in_time_join(events, features, entity="k", engine=engine)
        assert result["v"].tolist() == [2, 2]


def drivers() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return a hand-checked example: events in shuffled order, one duplicated, one too early."""
    events = pd.DataFrame(
        {
            "driver": [7, 8, 7, 7, 9, 7],
            "event_timestamp": pd.to_datetime(
                ["2024-01-03", "2024-01-03", "2024-01-01", "2024-01-03", "2024-01-02", "2023-12-31"]
            ),
            "label": [1, 0, 1, 1, 0, 1],
        },
        index=[50, 40, 30, 20, 10, 0],
    )
    features = pd.DataFrame(
        {
            "driver": [7, 7, 7, 8, 7, 9],
            "feature_ts": pd.to_datetime(
                ["2024-01-01", "2024-01-03", "2024-01-04", "2024-01-02", "2024-01-03", "2024-01-02"]
            ),
            "conv_rate": [0.1, 0.3, 0.9, 0.5, 0.35, None],
            "trips": [10, 30, 90, 50, 35, 1],
        }
    )
    return events, features


@pytest.mark.parametrize("engine", ENGINES)
def test_each_event_gets_the_latest_value_known_at_its_time(engine: str) -> None:
    events, features = drivers()
    result = point_in_time_join(
        events, features, entity="driver", feature_time="feature_ts", engine=engine
    )
    assert list(result.columns) == ["driver", "event_timestamp", "label", "conv_rate", "trips"]
    assert result.index.equals(pd.RangeIndex(6))
    pd.testing.assert_frame_equal(
        result[["driver", "event_timestamp", "label"]], events.reset_index(drop=True)
    )
    # Row 0 and 3 tie at 2024-01-03 for driver 7 (0.3 then 0.35): the later input row wins;
    # the 2024-01-04 row (0.9) is after every event and never leaks in.
    assert result["conv_rate"].tolist()[:4] == [0.35, 0.5, 0.1, 0.35]
    assert np.isnan(result["conv_rate"][4])  # a null feature value comes back null
    assert result["trips"].tolist()[:5] == [35.0, 50.0, 10.0, 35.0, 1.0]
    assert np.isnan(result["conv_rate"][5]) and np.isnan(
        result["trips"][5]
    )  # before any feature row


@pytest.mark.parametrize("engine", ENGINES)
def test_ttl_turns_values_older_than_the_age_into_nulls_with_the_boundary_kept(engine: str) -> None:
    events, features = drivers()
    joined = point_in_time_join(
        events,
        features,
        entity="driver",
        feature_time="feature_ts",
        ttl=timedelta(days=1),
        engine=engine,
    )
    # driver 8 at 01-03 sees 01-02: exactly one day old, still valid; driver 7 at 01-01 sees 01-01.
    assert joined["trips"].tolist()[:4] == [35.0, 50.0, 10.0, 35.0]
    in_seconds = point_in_time_join(
        events, features, entity="driver", feature_time="feature_ts", ttl=86399, engine=engine
    )
    assert np.isnan(in_seconds["trips"][1])


@pytest.mark.parametrize("kind", ["polars", "arrow"])
def test_polars_and_arrow_inputs_give_the_pandas_answer(kind: str) -> None:
    events, features = drivers()
    events = events.reset_index(drop=True)
    convert = (
        pl.from_pandas
        if kind == "polars"
        else (lambda f: pa.Table.from_pandas(f, preserve_index=False))
    )
    expected = point_in_time_join(events, features, entity="driver", feature_time="feature_ts")
    result = point_in_time_join(
        convert(events), convert(features), entity="driver", feature_time="feature_ts"
    )
    pd.testing.assert_frame_equal(result, expected, check_dtype=False)


def test_a_matched_row_with_all_matches_keeps_integer_types() -> None:
    events = pd.DataFrame({"k": ["a", "b"], "event_timestamp": pd.to_datetime(["2024-02-01"] * 2)})
    features = pd.DataFrame(
        {"k": ["b", "a"], "event_timestamp": pd.to_datetime(["2024-01-01"] * 2), "n": [2, 1]}
    )
    result = point_in_time_join(events, features, entity="k")
    assert result["n"].dtype == np.int64 and result["n"].tolist() == [1, 2]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"entity": "rider"}, r"events has no column 'rider'"),
        ({"entity": []}, r"entity=\[\] must be a column name"),
        ({"engine": "spark"}, r"engine='spark' is not known; use one of duckdb, polars"),
        ({"ttl": -5}, r"ttl=-5 must be zero or more"),
        ({"ttl": "1d"}, r"ttl='1d' must be a timedelta or a number of seconds"),
        ({"feature_time": "nope"}, r"features has no column 'nope'"),
    ],
)
def test_bad_arguments_are_refused_clearly(change: dict, message: str) -> None:
    events, features = drivers()
    arguments = {"entity": "driver", "feature_time": "feature_ts", **change}
    with pytest.raises(InvalidInput, match=message):
        point_in_time_join(events, features, **arguments)


def test_a_time_zone_on_one_side_only_is_refused() -> None:
    events, features = drivers()
    events["event_timestamp"] = events["event_timestamp"].dt.tz_localize("UTC")
    with pytest.raises(
        InvalidInput, match=r"'event_timestamp' has a time zone but 'feature_ts' has none"
    ):
        point_in_time_join(events, features, entity="driver", feature_time="feature_ts")


def test_a_time_column_that_is_not_timestamps_is_refused() -> None:
    events, features = drivers()
    events["event_timestamp"] = events["event_timestamp"].astype("int64")
    with pytest.raises(
        InvalidInput,
        match=r"time column 'event_timestamp' in events is int64; it must hold timestamps",
    ):
        point_in_time_join(events, features, entity="driver", feature_time="feature_ts")


def test_entity_keys_of_different_kinds_are_refused() -> None:
    events, features = drivers()
    events["driver"] = events["driver"].astype(str)
    with pytest.raises(
        InvalidInput, match=r"'driver' holds strings in events but integers in features"
    ):
        point_in_time_join(events, features, entity="driver", feature_time="feature_ts")


def test_a_feature_column_named_like_an_event_column_is_refused() -> None:
    events, features = drivers()
    features["label"] = 1
    with pytest.raises(InvalidInput, match=r"feature column 'label' is also an events column"):
        point_in_time_join(events, features, entity="driver", feature_time="feature_ts")
