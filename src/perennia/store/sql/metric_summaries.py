"""The summary pyramid of metric histories: maintained on write, read for downsampled charts.

A batch's points are folded once into the finest buckets (per key), the coarser levels are
folded from those, and every touched bucket is upserted with one `executemany` whose ON CONFLICT
keeps the exact extremes (ties: the earliest step, then timestamp). A downsampled read picks the
finest level spanning at most `8 * max_points / 2` buckets over the asked range, merges its
buckets into `max_points / 2` groups and returns each group's min and max points; partial edge
buckets (when `start`/`end` cut one) are replaced by their raw points, so extremes stay exact.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, select

from perennia.entities import MetricBatch
from perennia.errors import InvalidInput
from perennia.store.sql import schema as s
from perennia.store.sql.run_loader import metric_value
from perennia.store.sql.schema_metric_summaries import SUMMARY_SHIFTS

_FINEST = SUMMARY_SHIFTS[0]
_COLUMNS = (
    "run_uuid",
    "key",
    "level",
    "bucket",
    "count",
    "min_value",
    "min_step",
    "min_timestamp",
    "max_value",
    "max_step",
    "max_timestamp",
)
# Merging a level's buckets: at most this many per output group (the levels' width factor).
_FANOUT = 1 << (SUMMARY_SHIFTS[1] - SUMMARY_SHIFTS[0])


def _better(cond: str, which: str) -> str:
    t, x = "metric_summaries", "excluded"
    return (
        f"{x}.{which}_value IS NOT NULL AND ({t}.{which}_value IS NULL"
        f" OR {x}.{which}_value {cond} {t}.{which}_value"
        f" OR ({x}.{which}_value = {t}.{which}_value AND ({x}.{which}_step < {t}.{which}_step"
        f" OR ({x}.{which}_step = {t}.{which}_step"
        f" AND {x}.{which}_timestamp < {t}.{which}_timestamp))))"
    )


def _upsert_sql(placeholder: str) -> str:
    sets = ["count = metric_summaries.count + excluded.count"]
    for which, cond in (("min", "<"), ("max", ">")):
        better = _better(cond, which)
        for part in ("value", "step", "timestamp"):
            column = f"{which}_{part}"
            sets.append(
                f"{column} = CASE WHEN {better} THEN excluded.{column}"
                f" ELSE metric_summaries.{column} END"
            )
    return (
        f"INSERT INTO metric_summaries ({', '.join(_COLUMNS)})"
        f" VALUES ({', '.join([placeholder] * len(_COLUMNS))})"
        " ON CONFLICT (run_uuid, key, level, bucket) DO UPDATE SET " + ", ".join(sets)
    )


_SQL = {"qmark": _upsert_sql("?"), "format": _upsert_sql("%s")}


def _fold(acc: dict, where: tuple, count: int, lo: tuple | None, hi: tuple | None) -> None:
    # lo/hi are (value, step, timestamp); min prefers the smaller (value, step, ts), max the
    # larger value, then the smaller (step, ts).
    current = acc.get(where)
    if current is None:
        acc[where] = [count, lo, hi]
        return
    current[0] += count
    if lo is not None and (current[1] is None or lo < current[1]):
        current[1] = lo
    if hi is not None:
        old = current[2]
        if old is None or hi[0] > old[0] or (hi[0] == old[0] and hi[1:] < old[1:]):
            current[2] = hi


def summary_rows(run_id: str, rows: Iterable[tuple]) -> list[tuple]:
    """Return the summary rows (every level) of points given as (run, key, value, step, ts)."""
    finest: dict[tuple, list] = {}
    for _, key, value, step, ts in rows:
        point = None if value is None else (value, step, ts)
        _fold(finest, (key, step >> _FINEST), 1, point, point)
    levels = [finest]
    for shift in SUMMARY_SHIFTS[1:]:
        coarse: dict[tuple, list] = {}
        for (key, bucket), (count, lo, hi) in finest.items():
            _fold(coarse, (key, bucket >> (shift - _FINEST)), count, lo, hi)
        levels.append(coarse)
    out = []
    for level, acc in enumerate(levels):
        for (key, bucket), (count, lo, hi) in acc.items():
            lo, hi = lo or (None, None, None), hi or (None, None, None)
            out.append((run_id, key, level, bucket, count, *lo, *hi))
    # Sorted so concurrent writers to one key lock summary rows in the same order.
    out.sort(key=lambda row: (row[1], row[2], row[3]))
    return out


def upsert_summaries(conn: Connection, rows: list[tuple]) -> None:
    """Fold summary rows into `metric_summaries` with one statement, in the caller's transaction."""
    if rows:
        conn.exec_driver_sql(
            _SQL["qmark" if conn.dialect.paramstyle == "qmark" else "format"], rows
        )


def rebuild_summaries(conn: Connection, chunk: int = 100_000) -> None:
    """Recompute every summary row from the stored points (for the migration and repairs)."""
    conn.exec_driver_sql("DELETE FROM metric_summaries")
    m = s.metrics
    query = select(m.c.run_uuid, m.c.key, m.c.value, m.c.step, m.c.timestamp).order_by(
        m.c.run_uuid, m.c.key
    )
    # On the statement, not the connection: Connection.execution_options changes it in place.
    result = conn.execute(query.execution_options(stream_results=True))
    while batch := result.fetchmany(chunk):
        by_run: dict[str, list] = {}
        for row in batch:
            by_run.setdefault(row[0], []).append(tuple(row))
        for run_id, rows in by_run.items():
            upsert_summaries(conn, summary_rows(run_id, rows))


def _range(table: Any, run_id: str, key: str, start: int | None, end: int | None) -> list:
    where = [table.c.run_uuid == run_id, table.c.key == key]
    if start is not None:
        where.append(table.c.step >= start)
    if end is not None:
        where.append(table.c.step <= end)
    return where


def raw_points(
    conn: Connection,
    run_id: str,
    key: str,
    start: int | None,
    end: int | None,
    limit: int | None = None,
) -> list:
    """Return up to `limit` raw (value, step, timestamp) points in the range, ordered by step."""
    m = s.metrics
    query = (
        select(m.c.value, m.c.step, m.c.timestamp)
        .where(*_range(m, run_id, key, start, end))
        .order_by(m.c.step, m.c.timestamp, m.c.id)
    )
    return conn.execute(query if limit is None else query.limit(limit)).all()


def _extent(conn: Connection, where: tuple) -> tuple[int, int] | None:
    # Two index seeks (ORDER BY step alone, LIMIT 1): never a scan, whatever the planner's stats.
    m = s.metrics
    query = select(m.c.step).where(*_range(m, *where)).limit(1)
    lo = conn.execute(query.order_by(m.c.step)).scalar()
    if lo is None:
        return None
    return lo, conn.execute(query.order_by(m.c.step.desc())).scalar_one()


def _pick_level(lo: int, hi: int, groups: int) -> int:
    for level, shift in enumerate(SUMMARY_SHIFTS):
        if (hi >> shift) - (lo >> shift) + 1 <= _FANOUT * groups:
            return level
    return len(SUMMARY_SHIFTS) - 1


def _candidates(conn: Connection, where: tuple, level: int, b0: int, b1: int) -> tuple[list, int]:
    """Return ((bucket, value, step, ts) extremes of the range's buckets, points in the range)."""
    run_id, key, start, end = where
    shift = SUMMARY_SHIFTS[level]
    t = s.metric_summaries
    rows = conn.execute(
        select(t.c.bucket, t.c.count, t.c.min_value, t.c.min_step, t.c.min_timestamp)
        .add_columns(t.c.max_value, t.c.max_step, t.c.max_timestamp)
        .where(t.c.run_uuid == run_id, t.c.key == key, t.c.level == level)
        .where(t.c.bucket >= b0, t.c.bucket <= b1)
        .order_by(t.c.bucket)
    ).all()
    cut_first = start is not None and start > b0 << shift
    cut_last = end is not None and end < ((b1 + 1) << shift) - 1
    out, total = [], 0
    for bucket, count, *extremes in rows:
        if (bucket == b0 and cut_first) or (bucket == b1 and cut_last):
            continue
        total += count
        if extremes[0] is not None:
            out.append((bucket, *extremes[:3]))
            out.append((bucket, *extremes[3:]))
    # A bucket the range cuts holds points outside it: its extremes come from its raw points.
    for bucket in sorted({b for b, cut in ((b0, cut_first), (b1, cut_last)) if cut}):
        lo, hi = bucket << shift, ((bucket + 1) << shift) - 1
        lo, hi = (
            max(lo, start if start is not None else lo),
            min(hi, end if end is not None else hi),
        )
        raw = raw_points(conn, run_id, key, lo, hi)
        total += len(raw)
        out.extend((bucket, v, st, ts) for v, st, ts in raw if v is not None)
    return out, total


def _batch(key: str, raw: list) -> MetricBatch:
    return MetricBatch(
        [key] * len(raw),
        [metric_value(v) for v, _, _ in raw],
        [int(st) for _, st, _ in raw],
        [int(ts) for _, _, ts in raw],
    )


def downsample(
    conn: Connection, where: tuple, max_points: int, method: str, lttb_limit: int
) -> MetricBatch:
    """Return at most `max_points` points of (run, key, start, end), ordered by step: all of
    them when they fit, else each step group's exact min and max (or LTTB's picks)."""
    extent = _extent(conn, where)
    if extent is None:
        return MetricBatch()
    lo, hi = extent
    groups = max(1, max_points // 2)
    level = _pick_level(lo, hi, groups)
    b0, b1 = lo >> SUMMARY_SHIFTS[level], hi >> SUMMARY_SHIFTS[level]
    found, total = _candidates(conn, where, level, b0, b1)
    run_id, key = where[:2]
    if total <= max_points or method == "lttb":
        if total > lttb_limit:
            raise InvalidInput(
                f"method: lttb reads at most {lttb_limit:,} points and this range holds "
                f"{total:,}; narrow start/end or use method=minmax"
            )
        raw = raw_points(conn, run_id, key, lo, hi)
        if len(raw) <= max_points:
            return _batch(key, raw)
        from perennia._util.downsample import lttb

        values = [metric_value(v) for v, _, _ in raw]
        return _batch(key, [raw[i] for i in lttb([r[1] for r in raw], values, max_points)])
    return _merge(key, found, groups, b0, b1)


def _merge(key: str, found: list, groups: int, b0: int, b1: int) -> MetricBatch:
    import numpy as np

    from perennia._util.downsample import group_extremes

    if not found:
        return MetricBatch()
    bucket, values, steps, stamps = (np.array(col) for col in zip(*found, strict=True))
    order = np.lexsort((stamps, steps))
    bucket, values, steps, stamps = bucket[order], values[order], steps[order], stamps[order]
    group = (bucket - b0) * groups // (b1 - b0 + 1)
    keep = group_extremes(group, values.astype(np.float64))
    return MetricBatch(
        [key] * len(keep),
        [float(v) for v in values[keep]],
        [int(v) for v in steps[keep]],
        [int(v) for v in stamps[keep]],
    )
