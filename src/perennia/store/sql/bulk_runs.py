"""Bulk loading of finished runs with their params, tags and metrics, straight into the tables.

For benchmarks and imports: rows go in batches through SQLAlchemy Core `executemany` on SQLite
and through `COPY ... FROM STDIN` on PostgreSQL, one transaction per batch, so a million runs
take minutes, not hours. Each metric is written as one history point (its step and timestamp)
and as the run's latest value; NaN is stored as NULL like every other write path.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, insert

from perennia.entities import LifecycleStage, RunStatus
from perennia.errors import InvalidInput
from perennia.store.sql import schema as s
from perennia.store.sql.engine import write_transaction
from perennia.store.sql.metric_summaries import summary_rows, upsert_summaries

BATCH = 20_000


@dataclass
class BulkRun:
    """One finished run to load: its info and its params, tags and latest metrics."""

    name: str
    start_time: int
    end_time: int | None = None
    status: str = RunStatus.FINISHED.value
    user_id: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    step: int = 0
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)


def _batches(runs: Iterable[BulkRun], size: int) -> Iterator[list[BulkRun]]:
    batch: list[BulkRun] = []
    for run in runs:
        batch.append(run)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _rows(experiment_id: int, batch: list[BulkRun]) -> dict[str, list[tuple]]:
    """Return the rows of each table for one batch, as tuples in the tables' column order."""
    active = LifecycleStage.ACTIVE.value
    runs, params, tags, metrics, latest = [], [], [], [], []
    for r in batch:
        runs.append(
            (r.run_id, r.name, experiment_id, r.user_id, r.status, r.start_time, r.end_time, active)
        )
        params.extend((r.run_id, k, v) for k, v in r.params.items())
        tags.extend((r.run_id, k, v) for k, v in r.tags.items())
        for k, v in r.metrics.items():
            value = None if v is None or math.isnan(v) else float(v)
            metrics.append((r.run_id, k, value, r.step, r.start_time))
            latest.append((r.run_id, k, value, r.step, r.start_time))
    return {"runs": runs, "params": params, "tags": tags, "metrics": metrics, "latest": latest}


_COLUMNS = {
    "runs": (
        "run_uuid",
        "name",
        "experiment_id",
        "user_id",
        "status",
        "start_time",
        "end_time",
        "lifecycle_stage",
    ),
    "params": ("run_uuid", "key", "value"),
    "tags": ("run_uuid", "key", "value"),
    "metrics": ("run_uuid", "key", "value", "step", "timestamp"),
    "latest": ("run_uuid", "key", "value", "step", "timestamp"),
}
_TABLES = {
    "runs": s.runs,
    "params": s.params,
    "tags": s.tags,
    "metrics": s.metrics,
    "latest": s.latest_metrics,
}


def _copy(conn: Connection, name: str, rows: list[tuple]) -> None:
    """Write rows with PostgreSQL's COPY (psycopg 3), the fastest path into a table."""
    cursor = conn.connection.driver_connection.cursor()
    columns = ", ".join(f'"{c}"' for c in _COLUMNS[name])
    with cursor.copy(f"COPY {_TABLES[name].name} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _executemany(conn: Connection, name: str, rows: list[tuple]) -> None:
    """Write rows through one DBAPI executemany of a Core INSERT (plain tuples, no dicts)."""
    statement = insert(_TABLES[name]).compile(
        dialect=conn.dialect, column_keys=list(_COLUMNS[name])
    )
    order = statement.positiontup or list(_COLUMNS[name])
    assert tuple(order) == _COLUMNS[name], order
    conn.exec_driver_sql(str(statement), rows)


def bulk_load_runs(
    engine: Engine, experiment_id: str, runs: Iterable[BulkRun], batch_size: int = BATCH
) -> int:
    """Return how many runs were written into `experiment_id` (which must exist), in batches."""
    if not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidInput(f"batch_size must be a positive integer, got {batch_size!r}")
    write = _copy if engine.dialect.name == "postgresql" else _executemany
    total = 0
    for batch in _batches(runs, batch_size):
        rows = _rows(int(experiment_id), batch)
        with write_transaction(engine) as conn:
            for name in ("runs", "params", "tags", "metrics", "latest"):
                if rows[name]:
                    write(conn, name, rows[name])
            # Charts read long histories from the summaries every write path keeps.
            upsert_summaries(conn, _summaries(rows["metrics"]))
        total += len(batch)
    return total


def _summaries(points: list[tuple]) -> list[tuple]:
    """Return the metric summary rows of (run, key, value, step, ts) points of many runs."""
    by_run: dict[str, list[tuple]] = {}
    for point in points:
        by_run.setdefault(point[0], []).append(point)
    return [row for run_id, rows in by_run.items() for row in summary_rows(run_id, rows)]
