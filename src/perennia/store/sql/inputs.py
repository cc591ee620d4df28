"""Dataset inputs in SQL: datasets are stored once by (name, digest) and linked to runs."""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import Engine, select

from perennia.clock import now_ms
from perennia.entities import DatasetInput, DatasetSummary
from perennia.store.checks import check_input
from perennia.store.paging import check_max_results
from perennia.store.sql import schema as s
from perennia.store.sql.engine import read_transaction, write_transaction
from perennia.store.sql.run_loader import load_inputs
from perennia.store.sql.runs import require_run
from perennia.store.sql.upsert import insert_ignore
from perennia.store.validation import validate_experiment_ids

MAX_SUMMARIES = 1000  # MLflow's own cap on dataset summaries


class SqlInputStore:
    """The `InputStore` protocol over SQLAlchemy Core."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def log(self, run_id: str, inputs: Sequence[DatasetInput]) -> None:
        """Record dataset inputs (idempotent)."""
        items = [check_input(item) for item in inputs]
        if not items:
            return
        now = now_ms()
        dataset_rows = [
            {
                "name": i.dataset.name,
                "digest": i.dataset.digest,
                "source": i.dataset.source,
                "source_type": i.dataset.source_type,
                "schema": json.dumps(i.dataset.schema),
                "row_count": i.dataset.row_count,
                "targets": json.dumps(list(i.dataset.targets)),
                "profile": json.dumps(i.dataset.profile),
                "created_time": now,
            }
            for i in items
        ]
        link_rows = [
            {
                "run_uuid": run_id,
                "dataset_name": i.dataset.name,
                "dataset_digest": i.dataset.digest,
                "context": i.context or "",
                "tags": json.dumps(i.tags) if i.tags else None,
            }
            for i in items
        ]
        with write_transaction(self.engine) as conn:
            require_run(conn, run_id)
            insert_ignore(conn, s.datasets, dataset_rows, ["name", "digest"])
            insert_ignore(
                conn,
                s.run_inputs,
                link_rows,
                ["run_uuid", "dataset_name", "dataset_digest", "context"],
            )

    def list(self, run_id: str) -> list[DatasetInput]:
        """Return the run's dataset inputs."""
        with read_transaction(self.engine) as conn:
            require_run(conn, run_id, writable=False)
            return load_inputs(conn, [run_id]).get(run_id, [])

    def summaries(
        self, experiment_ids: Sequence[str], max_results: int = MAX_SUMMARIES
    ) -> list[DatasetSummary]:
        """Return the distinct (experiment, dataset name, digest, context) uses by the
        experiments' runs, ordered by experiment, name, digest and context."""
        ids = sorted(set(validate_experiment_ids(experiment_ids)))
        check_max_results(max_results, MAX_SUMMARIES)
        ri, runs = s.run_inputs, s.runs
        columns = (runs.c.experiment_id, ri.c.dataset_name, ri.c.dataset_digest, ri.c.context)
        query = (
            select(*columns)
            .join(runs, runs.c.run_uuid == ri.c.run_uuid)
            .where(runs.c.experiment_id.in_(ids))
            .distinct()
            .order_by(*columns)
            .limit(max_results)
        )
        with read_transaction(self.engine) as conn:
            return [
                DatasetSummary(str(eid), name, digest, context or None)
                for eid, name, digest, context in conn.execute(query)
            ]
