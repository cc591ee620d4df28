"""Metrics in SQL: the columnar ingest hot path, the latest-value table, and history reads.

A batch is inserted with one `executemany` (COPY on PostgreSQL) of plain tuples, skipping
SQLAlchemy's per-row parameter processing; `latest_metrics` is upserted once per key per batch.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Connection, Engine, select, tuple_

from perennia.entities import Metric, MetricBatch
from perennia.errors import InvalidInput, NotFound
from perennia.store.checks import check_batch
from perennia.store.sql import schema as s
from perennia.store.sql.engine import read_transaction, write_transaction
from perennia.store.sql.metric_summaries import downsample, summary_rows, upsert_summaries
from perennia.store.sql.run_loader import metric_value
from perennia.store.sql.runs import require_run
from perennia.store.sql.upsert import upsert
from perennia.store.validation import (
    validate_run_id,
)

_COPY_THRESHOLD = 200
MAX_DOWNSAMPLED_POINTS = 100_000
LTTB_RAW_LIMIT = 1_000_000
DOWNSAMPLE_METHODS = ("minmax", "lttb")
_COLUMNS = ("run_uuid", "key", "value", "step", "timestamp")


def _rows(run_id: str, batch: MetricBatch) -> list[tuple]:
    # NaN is stored as NULL (see schema.metrics); `v != v` is the cheapest NaN test.
    return [
        (run_id, k, None if v != v else float(v), int(st), int(ts))
        for k, v, st, ts in zip(
            batch.keys, batch.values, batch.steps, batch.timestamps, strict=True
        )
    ]


def _insert_points(conn: Connection, rows: list[tuple]) -> None:
    if conn.dialect.name == "postgresql" and len(rows) >= _COPY_THRESHOLD:
        cursor = conn.connection.cursor()
        with cursor.copy(f"COPY metrics ({', '.join(_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    placeholder = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = f"INSERT INTO metrics ({', '.join(_COLUMNS)}) VALUES ({', '.join([placeholder] * len(_COLUMNS))})"
    conn.exec_driver_sql(sql, rows)


def _latest_rows(run_id: str, rows: list[tuple]) -> list[dict]:
    latest: dict[str, tuple] = {}
    for row in rows:
        current = latest.get(row[1])
        # The latest point is the one with the highest (step, timestamp); later calls win ties.
        if current is None or (row[3], row[4]) >= (current[3], current[4]):
            latest[row[1]] = row
    # Sorted by key so concurrent writers to one run lock rows in the same order (no deadlocks).
    return [
        {"run_uuid": run_id, "key": key, "value": value, "step": step, "timestamp": ts}
        for (_, key, value, step, ts) in sorted(latest.values(), key=lambda row: row[1])
    ]


def write_metrics(conn: Connection, run_id: str, batch: MetricBatch) -> None:
    """Append a validated batch, refresh `latest_metrics` and fold the batch into the summary
    pyramid, inside the caller's transaction."""
    if not len(batch):
        return
    rows = _rows(run_id, batch)
    _insert_points(conn, rows)
    upsert(
        conn,
        s.latest_metrics,
        _latest_rows(run_id, rows),
        ["run_uuid", "key"],
        ["value", "step", "timestamp"],
        where=lambda t, new: (
            (new.step > t.c.step) | ((new.step == t.c.step) & (new.timestamp >= t.c.timestamp))
        ),
    )
    upsert_summaries(conn, summary_rows(run_id, rows))


class SqlMetricStore:
    """The `MetricStore` protocol over SQLAlchemy Core."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def log(self, run_id: str, batch: MetricBatch) -> None:
        """Append a batch of points to a run in one transaction."""
        check_batch(batch)
        with write_transaction(self.engine) as conn:
            require_run(conn, run_id)
            write_metrics(conn, run_id, batch)

    def history(self, run_id: str, key: str) -> list[Metric]:
        """Return every point of one metric ordered by step, then timestamp."""
        return [point for page in self.history_pages(run_id, key) for point in page]

    def history_pages(
        self, run_id: str, key: str, page_size: int = 50_000
    ) -> Iterator[list[Metric]]:
        """Return an iterator over the history in pages of `page_size` points, ordered by step,
        then timestamp (keyset paging: memory stays bounded by one page)."""
        validate_run_id(run_id)
        m = s.metrics
        cursor: tuple | None = None
        while True:
            query = select(m.c.key, m.c.value, m.c.timestamp, m.c.step, m.c.id).where(
                m.c.run_uuid == run_id, m.c.key == key
            )
            if cursor is not None:
                query = query.where(
                    m.c.step >= cursor[0],
                    tuple_(m.c.step, m.c.timestamp, m.c.id) > tuple_(*cursor),
                )
            query = query.order_by(m.c.step, m.c.timestamp, m.c.id).limit(page_size)
            with read_transaction(self.engine) as conn:
                if cursor is None:
                    _require_run(conn, run_id)
                rows = conn.execute(query).all()
            if rows:
                yield [Metric(k, metric_value(v), ts, st) for k, v, ts, st, _ in rows]
            if len(rows) < page_size:
                return
            cursor = (rows[-1][3], rows[-1][2], rows[-1][4])

    def history_downsampled(
        self,
        run_id: str,
        key: str,
        max_points: int = 2000,
        start: int | None = None,
        end: int | None = None,
        method: str = "minmax",
    ) -> MetricBatch:
        """Return at most `max_points` points of one metric between steps `start` and `end`
        (inclusive), ordered by step: every point when they fit, else each step bucket's exact
        min and max (`minmax`) or the LTTB shape (`lttb`, ranges of up to 1,000,000 points)."""
        validate_run_id(run_id)
        _check_downsample(max_points, start, end, method)
        with read_transaction(self.engine) as conn:
            _require_run(conn, run_id)
            return downsample(conn, (run_id, key, start, end), max_points, method, LTTB_RAW_LIMIT)


def _require_run(conn: Connection, run_id: str) -> None:
    if conn.execute(select(s.runs.c.run_uuid).where(s.runs.c.run_uuid == run_id)).first() is None:
        raise NotFound(f"run {run_id!r} does not exist")


def _check_downsample(max_points: int, start: int | None, end: int | None, method: str) -> None:
    if not isinstance(max_points, int) or not 4 <= max_points <= MAX_DOWNSAMPLED_POINTS:
        raise InvalidInput(
            f"max_points must be an integer from 4 to {MAX_DOWNSAMPLED_POINTS:,}, got {max_points!r}"
        )
    if start is not None and end is not None and start > end:
        raise InvalidInput(f"start ({start}) must not exceed end ({end}); swap them")
    if method not in DOWNSAMPLE_METHODS:
        raise InvalidInput(f"method must be one of {', '.join(DOWNSAMPLE_METHODS)}, got {method!r}")
