"""Metrics in SQL: the columnar ingest hot path, the latest-value table, and history reads.

A batch is inserted with one `executemany` (COPY on PostgreSQL) of plain tuples, skipping
SQLAlchemy's per-row parameter processing; `latest_metrics` is upserted once per key per batch.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine, select

from perennia.entities import Metric, MetricBatch
from perennia.errors import NotFound
from perennia.store.checks import check_batch
from perennia.store.sql import schema as s
from perennia.store.sql.engine import read_transaction, write_transaction
from perennia.store.sql.run_loader import metric_value
from perennia.store.sql.runs import require_run
from perennia.store.sql.upsert import upsert
from perennia.store.validation import (
    validate_run_id,
)

_COPY_THRESHOLD = 200
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
    """Append a validated batch and refresh `latest_metrics`, inside the caller's transaction."""
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
        validate_run_id(run_id)
        m = s.metrics
        with read_transaction(self.engine) as conn:
            if (
                conn.execute(select(s.runs.c.run_uuid).where(s.runs.c.run_uuid == run_id)).first()
                is None
            ):
                raise NotFound(f"run {run_id!r} does not exist")
            rows = conn.execute(
                select(m.c.key, m.c.value, m.c.timestamp, m.c.step)
                .where(m.c.run_uuid == run_id, m.c.key == key)
                .order_by(m.c.step, m.c.timestamp, m.c.id)
            ).all()
        return [Metric(k, metric_value(v), ts, st) for k, v, ts, st in rows]
