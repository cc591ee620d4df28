"""Point-in-time correct joins: label events get the feature values that were known at the event.

For each event row, `point_in_time_join` takes the latest feature row with the same entity key(s)
and `feature_time <= event_time` (never a later one: that would leak the future into training),
as Feast's offline store does for `get_historical_features`. With `ttl`, a feature row older than
`event_time - ttl` counts as absent, so its values come back null (Feast's TTL, boundary included).

Rules that make the answer exact and repeatable:
- every event row comes back once, in input order, duplicates included (a left join); the result
  has a fresh RangeIndex, the event columns unchanged, then the feature columns (all but the entity
  keys and the feature time);
- a null entity key or time in an event means no match; feature rows with a null key or time are
  never matched; null feature values are returned as they are;
- several feature rows of one entity at the same time: the last in input order wins;
- where an event has no match, its feature values are missing the pandas way (integers become
  float64 with NaN, as pandas' own merge_asof does);
- times must be timestamps on both sides, both naive or both time-zone aware (compared as instants).

Frames may be pandas, polars or Arrow; the result is pandas. Both engines return the same frame:
they only choose the matching feature row (see `asof_engines`), the values are taken here.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from perennia.data.prepare.asof_engines import ENGINES, MAX_FEATURE_ROWS, ordering_columns
from perennia.data.prepare.frames import require_columns, to_pandas
from perennia.errors import InvalidInput

_UNITS = ("s", "ms", "us", "ns")
_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


def point_in_time_join(
    events: Any,
    features: Any,
    *,
    entity: str | list[str] | tuple[str, ...],
    event_time: str = "event_timestamp",
    feature_time: str | None = None,
    ttl: timedelta | float | int | None = None,
    engine: str = "duckdb",
) -> Any:
    """Return a pandas DataFrame: `events` with, per row, the latest feature values at its time."""
    import numpy as np

    keys = _entity_columns(entity)
    feature_time = event_time if feature_time is None else feature_time
    if engine not in ENGINES:
        raise InvalidInput(f"engine={engine!r} is not known; use one of {', '.join(ENGINES)}")
    left_frame = to_pandas(events, "events")
    right_frame = to_pandas(features, "features")
    require_columns(left_frame, [*keys, event_time], "events")
    require_columns(right_frame, [*keys, feature_time], "features")
    if len(right_frame) > MAX_FEATURE_ROWS:
        raise InvalidInput(f"features has {len(right_frame)} rows; the limit is {MAX_FEATURE_ROWS}")
    values = [str(c) for c in right_frame.columns if c not in keys and c != feature_time]
    clash = [name for name in values if name in set(map(str, left_frame.columns))]
    if clash:
        raise InvalidInput(
            f"feature column {clash[0]!r} is also an events column; rename it in one of the frames"
        )
    (event_t, event_null), (feature_t, feature_null), unit = _times(
        left_frame[event_time], right_frame[feature_time], event_time, feature_time
    )
    max_age = _ttl_in_units(ttl, unit)
    left, right = _key_tables(
        left_frame, right_frame, keys, event_t, event_null, feature_t, feature_null
    )
    match = ENGINES[engine](left, right, len(keys))
    if max_age is not None:
        found = match >= 0
        stale = np.zeros(len(match), dtype=bool)
        stale[found] = feature_t[match[found]] < event_t[found] - max_age
        match[stale] = -1
    return _assemble(left_frame, right_frame, values, match)


def _entity_columns(entity: Any) -> list[str]:
    keys = (
        [entity]
        if isinstance(entity, str)
        else list(entity)
        if isinstance(entity, list | tuple)
        else None
    )
    if not keys or any(not isinstance(key, str) or not key for key in keys):
        raise InvalidInput(f"entity={entity!r} must be a column name or a non-empty list of them")
    if len(set(keys)) != len(keys):
        raise InvalidInput(f"entity={entity!r} names a column twice")
    return keys


def _times(left: Any, right: Any, left_name: str, right_name: str) -> tuple[Any, Any, str]:
    """Return ((event ints, null mask), (feature ints, null mask), unit): both in the finer unit."""
    import numpy as np

    left_tz, right_tz = (
        _time_zone(left, "events", left_name),
        _time_zone(right, "features", right_name),
    )
    if (left_tz is None) != (right_tz is None):
        aware, naive = (left_name, right_name) if left_tz is not None else (right_name, left_name)
        raise InvalidInput(
            f"time column {aware!r} has a time zone but {naive!r} has none; "
            "localize the naive one (Series.dt.tz_localize) so both are instants"
        )
    arrays = [_naive_utc(series) for series in (left, right)]
    unit = max((np.datetime_data(a.dtype)[0] for a in arrays), key=_UNITS.index)
    converted = []
    for array in arrays:
        array = array.astype(f"datetime64[{unit}]")
        converted.append((array.view("int64"), np.isnat(array)))
    return converted[0], converted[1], unit


def _time_zone(series: Any, frame: str, name: str) -> Any:
    import pandas as pd

    dtype = series.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        return dtype.tz
    if pd.api.types.is_datetime64_dtype(dtype):
        return None
    raise InvalidInput(
        f"time column {name!r} in {frame} is {dtype}; it must hold timestamps (datetime64, "
        "with or without a time zone): convert it with pandas.to_datetime"
    )


def _naive_utc(series: Any) -> Any:
    import pandas as pd

    if isinstance(series.dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_convert(None)  # the same instants as naive UTC
    return series.to_numpy()


def _ttl_in_units(ttl: Any, unit: str) -> int | None:
    import math

    import numpy as np
    import pandas as pd

    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, int | float | timedelta | np.timedelta64):
        raise InvalidInput(f"ttl={ttl!r} must be a timedelta or a number of seconds, or None")
    if isinstance(ttl, int | float) and not math.isfinite(ttl):
        raise InvalidInput(f"ttl={ttl!r} must be a finite age")
    age = pd.Timedelta(seconds=ttl) if isinstance(ttl, int | float) else pd.Timedelta(ttl)
    if age is pd.NaT or age < pd.Timedelta(0):
        raise InvalidInput(f"ttl={ttl!r} must be zero or more")
    # Times are whole units, so `feature >= event - age` holds exactly when it does for floor(age).
    return int(age.value // (1_000_000_000 // _PER_SECOND[unit]))


def _key_tables(
    left: Any,
    right: Any,
    keys: list[str],
    event_t: Any,
    event_null: Any,
    feature_t: Any,
    feature_null: Any,
) -> tuple[Any, Any]:
    """Return the two Arrow tables the engines join: keys k0..kn, the ordering columns, event rows."""
    import numpy as np
    import pyarrow as pa

    left_columns: dict[str, Any] = {}
    right_columns: dict[str, Any] = {}
    for index, key in enumerate(keys):
        left_key, right_key = (
            _key_array(left[key], "events", key),
            _key_array(right[key], "features", key),
        )
        if left_key[1] != right_key[1]:
            raise InvalidInput(
                f"entity column {key!r} holds {left_key[1]} in events but {right_key[1]} in features; "
                "cast one so both hold the same kind of key"
            )
        left_columns[f"k{index}"], right_columns[f"k{index}"] = left_key[0], right_key[0]
    left_order, right_order = ordering_columns(event_t, event_null, feature_t, feature_null)
    left_columns.update(left_order, row=pa.array(np.arange(len(event_t), dtype=np.int64)))
    right_columns.update(right_order)
    return pa.table(left_columns), pa.table(right_columns)


def _key_array(series: Any, frame: str, name: str) -> tuple[Any, str]:
    """Return (Arrow array, "integers" | "strings") for one entity column, normalised for joining."""
    import pyarrow as pa

    try:
        array = pa.array(series, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        raise InvalidInput(
            f"entity column {name!r} in {frame} mixes value types; entity keys must be integers or strings"
        ) from None
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    kind = array.type
    if pa.types.is_integer(kind):
        return array.cast(pa.int64()), "integers"
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return array.cast(pa.large_string()), "strings"
    if pa.types.is_null(kind):
        return array, "no values"
    raise InvalidInput(
        f"entity column {name!r} in {frame} holds {kind}; entity keys must be integers or strings"
    )


def _assemble(left: Any, right: Any, values: list[str], match: Any) -> Any:
    import pandas as pd

    result = left.reset_index(drop=True)
    if not values:
        return result
    # reindex on a RangeIndex: -1 is absent, so unmatched events get missing values, not row -1.
    taken = right[values].reset_index(drop=True).reindex(match)
    taken.index = result.index
    return pd.concat([result, taken], axis=1)
