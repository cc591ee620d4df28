"""Splitting one frame into named parts (train / validation / test) by a stated, repeatable rule.

`split_frame` returns the parts and the rule as a plain JSON-able dict (how, fractions, seed,
columns, rows per part), so the lead can register each part as a dataset version with the rule
that made it. Four ways:

- random: a seeded permutation cut at the part sizes (largest remainder, so sizes add up).
- stratified: per class of `label`, every part within one row of the exact proportion, and part
  sizes as in random (see `allocation.stratified_sizes`); rows within a class are drawn seeded.
- group: whole groups of `group` go to one part; groups are shuffled (seeded) and laid end to end,
  and each goes to the part its middle row falls in, so fractions hold by rows, approximately.
- time: rows ordered by `time`, earliest to the first part, cut at the part sizes; a cut inside a
  run of equal times moves to the nearer end of the run, so no time appears in two parts.

Rows keep their input order inside each part (a pandas part keeps its index). pandas, polars and
pyarrow frames are accepted and each part is the caller's own type. `check_no_leak` then refuses
any `key` or `group` value found in two parts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from perennia.data.prepare.allocation import part_sizes, stratified_sizes
from perennia.data.prepare.frames import (
    column_series,
    require_columns,
    row_count,
    take_rows,
    to_pandas,
)
from perennia.errors import InvalidInput

METHODS = ("random", "stratified", "group", "time")


def split_frame(
    frame: Any,
    *,
    by: str = "random",
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    names: Sequence[str] = ("train", "validation", "test"),
    seed: int = 0,
    label: str | None = None,
    group: str | None = None,
    time: str | None = None,
    key: str | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return ({part name: frame}, rule) splitting `frame` by `by`; see the module docstring."""
    fractions, names = _check_shape(by, fractions, names, seed)
    needed = {"stratified": ("label", label), "group": ("group", group), "time": ("time", time)}
    if by in needed and needed[by][1] is None:
        raise InvalidInput(f"by={by!r} needs {needed[by][0]}=<column name>")
    require_columns(frame, (label, group, time, key), "the frame to split")
    data = to_pandas(frame, "the frame to split")
    assign = _ASSIGNERS[by](data, fractions, seed, label=label, group=group, time=time)
    parts = _parts_from_assignment(frame, assign, names)
    check_no_leak(parts, key=key, group=group)
    rule: dict[str, Any] = {
        "by": by,
        "fractions": list(fractions),
        "names": list(names),
        "seed": seed,
        "label": label,
        "group": group,
        "time": time,
        "key": key,
        "rows": {name: row_count(part) for name, part in parts.items()},
    }
    if by == "time":
        rule["time_ranges"] = _time_ranges(parts, time)
    return parts, rule


def check_no_leak(
    parts: Mapping[str, Any], *, key: str | None = None, group: str | None = None
) -> None:
    """Return None if no `key` or `group` value is in two parts; else raise InvalidInput naming one."""
    import pandas as pd

    for role, column in (("key", key), ("group", group)):
        if column is None:
            continue
        seen = []
        for name, part in parts.items():
            require_columns(part, [column], f"part {name!r}")
            values = column_series(part, column).dropna().drop_duplicates()
            seen.append(pd.DataFrame({"value": values.to_numpy(), "part": name}))
        if not seen:
            continue
        table = pd.concat(seen, ignore_index=True)
        shared = table[table.duplicated("value", keep=False)]
        if len(shared):
            value = shared["value"].tolist()[0]  # a plain Python value reads well in the message
            where = shared.loc[shared["value"] == value, "part"].tolist()
            raise InvalidInput(
                f"{role} column {column!r} leaks across parts {where[0]!r} and {where[1]!r}: "
                f"value {value!r} is in both; split by='group' with group={column!r} instead"
            )


def _check_shape(
    by: str, fractions: Sequence[float], names: Sequence[str], seed: int
) -> tuple[list[float], list[str]]:
    if by not in METHODS:
        raise InvalidInput(f"by={by!r} is not a split method; use one of {', '.join(METHODS)}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidInput(f"seed={seed!r} must be a non-negative integer")
    if isinstance(fractions, str | bytes) or isinstance(names, str | bytes):
        raise InvalidInput(
            "fractions and names must be sequences, e.g. (0.8, 0.2) and ('train', 'test')"
        )
    fractions, names = list(fractions), list(names)
    if not fractions or len(fractions) != len(names):
        raise InvalidInput(
            f"{len(names)} names {names!r} and {len(fractions)} fractions {fractions!r}: "
            "give one fraction per part name"
        )
    for value in fractions:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise InvalidInput(f"fraction {value!r} must be a finite number in [0, 1]")
        if value < 0:
            raise InvalidInput(f"fraction {value!r} is negative; fractions must be in [0, 1]")
    if abs(sum(fractions) - 1.0) > 1e-9:
        raise InvalidInput(f"fractions {fractions!r} sum to {sum(fractions):g}; they must sum to 1")
    if any(not isinstance(name, str) or not name for name in names) or len(set(names)) != len(
        names
    ):
        raise InvalidInput(f"names {names!r} must be distinct, non-empty strings")
    return [float(value) for value in fractions], names


def _no_nulls(series: Any, column: str) -> None:
    missing = int(series.isna().sum())
    if missing:
        raise InvalidInput(
            f"column {column!r} has {missing} null values; fill or drop them before splitting"
        )


def _random(data: Any, fractions: list[float], seed: int, **_: Any) -> Any:
    import numpy as np

    sizes = part_sizes(len(data), fractions)
    order = np.random.default_rng(seed).permutation(len(data))
    assign = np.empty(len(data), dtype=np.int64)
    assign[order] = np.repeat(np.arange(len(sizes)), sizes)
    return assign


def _stratified(data: Any, fractions: list[float], seed: int, *, label: str, **_: Any) -> Any:
    import numpy as np

    series = data[label]
    _no_nulls(series, label)
    codes, classes = series.factorize(sort=True)
    counts = np.bincount(codes, minlength=len(classes))
    parts = len(fractions)
    if len(counts) and counts.min() < parts:
        small = classes[int(np.argmin(counts))]
        raise InvalidInput(
            f"class {small!r} of label column {label!r} has {int(counts.min())} rows, fewer than "
            f"the {parts} parts; drop or merge rare classes, or split by='random'"
        )
    sizes = stratified_sizes(counts, fractions)
    rng = np.random.default_rng(seed)
    # Visit rows class by class in a seeded random order, then deal each class's rows to parts.
    order = np.lexsort((rng.random(len(codes)), codes))
    assign = np.empty(len(codes), dtype=np.int64)
    assign[order] = np.concatenate(
        [np.repeat(np.arange(parts), row) for row in sizes] or [np.empty(0, np.int64)]
    )
    return assign


def _group(data: Any, fractions: list[float], seed: int, *, group: str, **_: Any) -> Any:
    import numpy as np

    series = data[group]
    _no_nulls(series, group)
    codes, uniques = series.factorize()
    positive = sum(1 for value in fractions if value > 0)
    if len(uniques) < positive:
        raise InvalidInput(
            f"group column {group!r} has {len(uniques)} distinct values, fewer than the "
            f"{positive} parts with a positive fraction"
        )
    sizes = np.bincount(codes, minlength=len(uniques))
    shuffled = np.random.default_rng(seed).permutation(len(uniques))
    middles = np.cumsum(sizes[shuffled]) - sizes[shuffled] / 2
    cuts = np.cumsum(part_sizes(len(data), fractions))[:-1]
    group_part = np.empty(len(uniques), dtype=np.int64)
    group_part[shuffled] = np.searchsorted(cuts, middles, side="right")
    return group_part[codes]


def _time(data: Any, fractions: list[float], seed: int, *, time: str, **_: Any) -> Any:
    import numpy as np

    series = data[time]
    _no_nulls(series, time)
    order = series.argsort(kind="stable").to_numpy()
    ordered = series.iloc[order].reset_index(drop=True)
    runs = ordered.ne(ordered.shift()).cumsum().to_numpy()  # equal times share a run number
    starts = np.r_[0, np.cumsum(part_sizes(len(data), fractions))]
    for index in range(1, len(starts) - 1):
        cut = int(starts[index])
        if 0 < cut < len(runs) and runs[cut - 1] == runs[cut]:
            # A run of equal times straddles the cut: move the cut to the run's nearer end.
            low = int(np.searchsorted(runs, runs[cut], side="left"))
            high = int(np.searchsorted(runs, runs[cut], side="right"))
            cut = low if cut - low <= high - cut else high
        starts[index] = min(max(cut, starts[index - 1]), len(runs))
    assign = np.empty(len(data), dtype=np.int64)
    assign[order] = np.repeat(np.arange(len(fractions)), np.diff(starts))
    return assign


_ASSIGNERS = {"random": _random, "stratified": _stratified, "group": _group, "time": _time}


def _parts_from_assignment(frame: Any, assign: Any, names: list[str]) -> dict[str, Any]:
    import numpy as np

    return {name: take_rows(frame, np.flatnonzero(assign == i)) for i, name in enumerate(names)}


def _time_ranges(parts: Mapping[str, Any], time: str) -> dict[str, list[str] | None]:
    ranges: dict[str, list[str] | None] = {}
    for name, part in parts.items():
        series = column_series(part, time)
        ranges[name] = None if series.empty else [str(series.min()), str(series.max())]
    return ranges
