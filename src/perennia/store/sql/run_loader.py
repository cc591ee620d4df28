"""Turn run ids into `Run` entities in a handful of set-based queries (never one query per run)."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterator, Sequence

from sqlalchemy import Connection, Row, select

from perennia.entities import Dataset, DatasetInput, Run, RunData, RunInfo, RunInputs
from perennia.store.sql import schema as s

CHUNK = 900  # stays under every backend's bound-parameter limit


def chunks(items: Sequence[str], size: int = CHUNK) -> Iterator[Sequence[str]]:
    """Yield consecutive slices of at most `size` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def metric_value(value: float | None) -> float:
    """Return the stored metric value, turning the NULL that encodes NaN back into NaN."""
    return math.nan if value is None else value


def run_info(row: Row) -> RunInfo:
    """Return the RunInfo for a `runs` row."""
    return RunInfo(
        run_id=row.run_uuid,
        run_name=row.name,
        experiment_id=str(row.experiment_id),
        status=row.status,
        start_time=row.start_time,
        end_time=row.end_time,
        user_id=row.user_id,
        lifecycle_stage=row.lifecycle_stage,
        parent_run_id=row.parent_run_uuid,
        source_name=row.source_name,
        git_commit=row.git_commit,
        heartbeat_time=row.heartbeat_time,
        error=row.error,
    )


def dataset_from_row(row: Row) -> Dataset:
    """Return the Dataset for a `datasets` row."""
    return Dataset(
        name=row.name,
        digest=row.digest,
        source=row.source,
        source_type=row.source_type,
        schema=json.loads(row.schema),
        row_count=row.row_count,
        targets=json.loads(row.targets),
        profile=json.loads(row.profile),
    )


def load_inputs(conn: Connection, run_ids: Sequence[str]) -> dict[str, list[DatasetInput]]:
    """Return each run's dataset inputs."""
    inputs: dict[str, list[DatasetInput]] = defaultdict(list)
    ri, ds = s.run_inputs, s.datasets
    for part in chunks(run_ids):
        query = (
            select(ri.c.run_uuid, ri.c.context, ri.c.tags.label("input_tags"), ds)
            .join(ds, (ds.c.name == ri.c.dataset_name) & (ds.c.digest == ri.c.dataset_digest))
            .where(ri.c.run_uuid.in_(part))
            .order_by(ri.c.run_uuid, ds.c.name, ri.c.context)
        )
        for row in conn.execute(query):
            tags = json.loads(row.input_tags) if row.input_tags else {}
            inputs[row.run_uuid].append(
                DatasetInput(dataset_from_row(row), row.context or None, tags)
            )
    return inputs


def load_runs(conn: Connection, run_ids: Sequence[str]) -> list[Run]:
    """Return the runs for `run_ids` in the same order, skipping ids that do not exist."""
    if not run_ids:
        return []
    infos: dict[str, RunInfo] = {}
    metrics: dict[str, dict[str, float]] = defaultdict(dict)
    params: dict[str, dict[str, str]] = defaultdict(dict)
    tags: dict[str, dict[str, str]] = defaultdict(dict)
    for part in chunks(run_ids):
        for row in conn.execute(select(s.runs).where(s.runs.c.run_uuid.in_(part))):
            infos[row.run_uuid] = run_info(row)
        lm = s.latest_metrics
        for run_uuid, key, value in conn.execute(
            select(lm.c.run_uuid, lm.c.key, lm.c.value).where(lm.c.run_uuid.in_(part))
        ):
            metrics[run_uuid][key] = metric_value(value)
        for table, target in ((s.params, params), (s.tags, tags)):
            for run_uuid, key, value in conn.execute(
                select(table.c.run_uuid, table.c.key, table.c.value).where(
                    table.c.run_uuid.in_(part)
                )
            ):
                target[run_uuid][key] = value
    inputs = load_inputs(conn, run_ids)
    return [
        Run(
            info=infos[run_id],
            data=RunData(
                metrics=metrics.get(run_id, {}),
                params=params.get(run_id, {}),
                tags=tags.get(run_id, {}),
            ),
            inputs=RunInputs(inputs.get(run_id, [])),
        )
        for run_id in run_ids
        if run_id in infos
    ]
