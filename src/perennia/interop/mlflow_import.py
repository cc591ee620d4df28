"""`import_mlflow`: copy an MLflow tracking store and registry into a Perennia SQL store.

What is kept: experiment ids and names, run ids, names, status, times, lifecycle, parent, user,
source, params, tags, every metric point, dataset inputs, artifact files (re-hashed into the
content-addressed blob store), registered models, versions (numbers kept), their tags, aliases.

Resumable and idempotent without a ledger table: each run gets the tag `perennia.import.complete`
last, in the transaction that finishes it. A run that has it is skipped; a run that is present
without it was interrupted, so its partial rows are removed and it is copied again. Experiments,
registered models, versions and aliases are skipped when they already exist as imported.
Run ids and experiment ids are kept, which the store protocols do not offer, so the rows that
carry them (experiments, runs) are written with SQLAlchemy Core into the store's own tables; all
the rest goes through the store's parts (`log_batch`: metrics as columns, one transaction).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from perennia.entities import LifecycleStage, Param, RunTag
from perennia.errors import Conflict, InvalidInput, NotFound
from perennia.interop.mlflow_artifacts import local_artifacts, run_artifact_uri
from perennia.interop.mlflow_source import MlflowSource
from perennia.tracking.context import TrackingContext

logger = logging.getLogger(__name__)

COMPLETE_TAG = "perennia.import.complete"
KINDS = (
    "experiments",
    "runs",
    "params",
    "tags",
    "metric points",
    "dataset inputs",
    "artifact files",
    "registered models",
    "model versions",
    "aliases",
)
Progress = Callable[[int, int], None]


@dataclass
class ImportSummary:
    """Counts per kind of what was copied and what was already there (skipped)."""

    copied: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    skipped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))


def import_mlflow(
    source_uri: str,
    context: TrackingContext,
    *,
    artifacts_from: str | None = None,
    progress: Progress | None = None,
    batch_size: int = 200,
) -> ImportSummary:
    """Return the summary of copying the MLflow store at `source_uri` into `context`'s store;
    `progress(runs_done, runs_total)` is called after each run."""
    engine = getattr(context.store, "engine", None)
    if engine is None:
        raise InvalidInput(
            f"tracking URI {context.tracking_uri!r} is not a database; the import writes run "
            "and experiment ids as they are, so point PERENNIA_TRACKING_URI at sqlite:/// or "
            "postgresql:// (the database `perennia server` uses)"
        )
    source = MlflowSource(source_uri, batch_size=batch_size)
    try:
        summary = ImportSummary()
        _Importer(source, context, engine, summary, artifacts_from).run(progress)
        return summary
    finally:
        source.close()


class _Importer:
    def __init__(self, source, context, engine, summary, artifacts_from) -> None:
        self.source = source
        self.context = context
        self.store = context.store
        self.engine = engine
        self.summary = summary
        self.artifacts_from = artifacts_from
        self.repository = context.repository_for_location(None)

    def count(self, kind: str, copied: int = 0, skipped: int = 0) -> None:
        self.summary.copied[kind] += copied
        self.summary.skipped[kind] += skipped

    def run(self, progress: Progress | None) -> None:
        self.copy_experiments()
        self.progress, self.total, self.done = progress, self.source.count_runs(), 0
        for batch in self.source.run_batches():
            self.copy_runs(batch)
        self.copy_registry()

    def tick(self, runs: int = 1) -> None:
        """Report progress after each run (or a batch of skipped ones)."""
        self.done += runs
        if self.progress is not None and runs:
            self.progress(self.done, self.total)

    # Experiments ---------------------------------------------------------------------------
    def copy_experiments(self) -> None:
        from sqlalchemy import insert, select, text

        from perennia.store.sql import schema as s

        experiments = self.source.experiments()
        with self.engine.connect() as conn:
            by_id = {r.experiment_id: r.name for r in conn.execute(select(s.experiments))}
        fresh = []
        for exp in experiments:
            eid, name = int(exp["experiment_id"]), exp["name"]
            owner = next((i for i, n in by_id.items() if n == name), None)
            if owner == eid:
                self.count("experiments", skipped=1)
                continue
            if owner is not None or eid in by_id:
                taken = (
                    f"name {name!r} has id {owner}"
                    if owner is not None
                    else (f"id {eid} is experiment {by_id[eid]!r}")
                )
                raise Conflict(
                    f"MLflow experiment {name!r} (id {eid}) collides with Perennia: its {taken}; "
                    "rename or delete the Perennia experiment, or import into a fresh store"
                )
            fresh.append(exp)
        if not fresh:
            return
        with self.engine.begin() as conn:
            conn.execute(insert(s.experiments), [_experiment_row(e) for e in fresh])
            tags = [
                {"experiment_id": int(e["experiment_id"]), "key": k, "value": v}
                for e in fresh
                for k, v in e["tags"].items()
            ]
            if tags:
                conn.execute(insert(s.experiment_tags), tags)
            if conn.dialect.name == "postgresql":
                # Ids were given explicitly: move the sequence past them for experiments made later.
                conn.execute(
                    text(
                        "SELECT setval(pg_get_serial_sequence('experiments', 'experiment_id'), "
                        "(SELECT max(experiment_id) FROM experiments))"
                    )
                )
        self.count("experiments", copied=len(fresh))

    # Runs ----------------------------------------------------------------------------------
    def copy_runs(self, batch: list[dict[str, Any]]) -> None:
        from sqlalchemy import select

        from perennia.store.sql import schema as s

        ids = [r["run_uuid"] for r in batch]
        with self.engine.connect() as conn:
            present = {
                r[0]
                for r in conn.execute(select(s.runs.c.run_uuid).where(s.runs.c.run_uuid.in_(ids)))
            }
            complete = {
                r[0]
                for r in conn.execute(
                    select(s.tags.c.run_uuid).where(
                        s.tags.c.run_uuid.in_(ids), s.tags.c.key == COMPLETE_TAG
                    )
                )
            }
        todo = [r for r in batch if r["run_uuid"] not in complete]
        self.count("runs", skipped=len(batch) - len(todo))
        self.tick(len(batch) - len(todo))
        if not todo:
            return
        todo_ids = [r["run_uuid"] for r in todo]
        params = self.source.key_values("params", todo_ids)
        tags = self.source.key_values("tags", todo_ids)
        metrics = self.source.metrics(todo_ids)
        inputs = self.source.inputs(todo_ids)
        for run in todo:
            run_id = run["run_uuid"]
            if run_id in present:
                self._clear_partial(run_id)
            run_tags = tags.get(run_id, {})
            self._insert_run(run, run_tags)
            self._copy_run_data(run_id, params.get(run_id, {}), run_tags, metrics.get(run_id))
            if inputs.get(run_id):
                self.store.inputs.log(run_id, inputs[run_id])
                self.count("dataset inputs", copied=len(inputs[run_id]))
            self._copy_artifacts(run)
            self._finish_run(run)
            self.count("runs", copied=1)
            self.tick()

    def _clear_partial(self, run_id: str) -> None:
        """Remove what an interrupted import wrote for the run, so it is copied once, whole."""
        from sqlalchemy import delete

        from perennia.store.sql import schema as s

        with self.engine.begin() as conn:
            for table in (s.metrics, s.latest_metrics, s.params, s.tags, s.run_inputs, s.runs):
                conn.execute(delete(table).where(table.c.run_uuid == run_id))

    def _insert_run(self, run: dict[str, Any], tags: dict[str, str]) -> None:
        from sqlalchemy import insert

        from perennia.store.sql import schema as s

        name = run.get("name") or tags.get("mlflow.runName") or run["run_uuid"]
        with self.engine.begin() as conn:
            conn.execute(
                insert(s.runs),
                {
                    "run_uuid": run["run_uuid"],
                    "name": name,
                    "experiment_id": int(run["experiment_id"]),
                    "user_id": run.get("user_id") or tags.get("mlflow.user"),
                    "status": run.get("status") or "FINISHED",
                    "start_time": int(run.get("start_time") or 0),
                    "end_time": run.get("end_time"),
                    "heartbeat_time": run.get("end_time") or run.get("start_time"),
                    # Written to while active; the MLflow lifecycle is applied when it is whole.
                    "lifecycle_stage": LifecycleStage.ACTIVE.value,
                    "parent_run_uuid": tags.get("mlflow.parentRunId"),
                    "source_name": run.get("source_name") or tags.get("mlflow.source.name"),
                    "git_commit": (tags.get("mlflow.source.git.commit") or "")[:64] or None,
                },
            )

    def _copy_run_data(self, run_id, params, tags, metrics) -> None:
        """Write the run's params, tags and metric history in one transaction (columnar)."""
        self.store.log_batch(
            run_id,
            metrics,
            [Param(k, v) for k, v in params.items()],
            [RunTag(k, v) for k, v in tags.items() if k != COMPLETE_TAG],
        )
        self.count("params", copied=len(params))
        self.count("tags", copied=len(tags))
        self.count("metric points", copied=len(metrics) if metrics is not None else 0)

    def _copy_artifacts(self, run: dict[str, Any]) -> None:
        uri = run_artifact_uri(run, self.artifacts_from)
        with local_artifacts(uri) as folder:
            if folder is not None:
                entries = self.repository.log_dir(run["run_uuid"], folder)
                self.count("artifact files", copied=len(entries))

    def _finish_run(self, run: dict[str, Any]) -> None:
        """Apply the MLflow lifecycle and mark the run complete, in one transaction."""
        from sqlalchemy import insert, update

        from perennia.store.sql import schema as s

        with self.engine.begin() as conn:
            if run.get("lifecycle_stage") == LifecycleStage.DELETED.value:
                conn.execute(
                    update(s.runs)
                    .where(s.runs.c.run_uuid == run["run_uuid"])
                    .values(
                        lifecycle_stage=LifecycleStage.DELETED.value,
                        deleted_time=run.get("deleted_time") or run.get("end_time"),
                    )
                )
            conn.execute(
                insert(s.tags), {"run_uuid": run["run_uuid"], "key": COMPLETE_TAG, "value": "true"}
            )

    # The registry --------------------------------------------------------------------------
    def copy_registry(self) -> None:
        for model in self.source.registry():
            name = model["name"]
            try:
                self.store.registry.get_registered_model(name)
                self.count("registered models", skipped=1)
            except NotFound:
                self.store.registry.create_registered_model(
                    name, model.get("description") or "", tags=model["tags"]
                )
                self._set_times("registered_models", model, name=name)
                self.count("registered models", copied=1)
            for version in model["versions"]:
                self._copy_version(name, version)
            for alias, number in model["aliases"].items():
                self._copy_alias(name, alias, number)

    def _copy_version(self, name: str, version: dict[str, Any]) -> None:
        from sqlalchemy import update

        from perennia.store.sql import schema as s

        number = int(version["version"])
        try:
            self.store.versions.get_model_version(name, number)
            self.count("model versions", skipped=1)
            return
        except NotFound:
            pass
        # Numbers are kept, gaps (deleted versions) included: the next number is set first.
        rm = s.registered_models
        with self.engine.begin() as conn:
            conn.execute(update(rm).where(rm.c.name == name).values(next_version=number))
        status = version.get("status") or "READY"
        self.store.versions.create_model_version(
            name,
            version.get("source") or version.get("storage_location") or "",
            run_id=version.get("run_id") or None,
            description=version.get("description") or "",
            tags=version["tags"],
            status=status
            if status in ("READY", "PENDING_REGISTRATION", "FAILED_REGISTRATION")
            else "READY",
            username=version.get("user_id") or None,
        )
        self._set_times("model_versions", version, name=name, version=number)
        self.count("model versions", copied=1)

    def _copy_alias(self, name: str, alias: str, number: int) -> None:
        try:
            if self.store.aliases.get_version_by_alias(name, alias).version == number:
                self.count("aliases", skipped=1)
                return
        except NotFound:
            pass
        self.store.aliases.set_alias(name, alias, number)
        self.count("aliases", copied=1)

    def _set_times(self, table: str, row: dict[str, Any], **key: Any) -> None:
        """Give the copy MLflow's creation and update times instead of the import's."""
        from sqlalchemy import update

        from perennia.store.sql import schema as s

        t = getattr(s, table)
        values = {
            column: row[column]
            for column in ("creation_time", "last_updated_time")
            if row.get(column) is not None
        }
        if values:
            with self.engine.begin() as conn:
                conn.execute(
                    update(t).where(*(t.c[k] == v for k, v in key.items())).values(**values)
                )


def _experiment_row(exp: dict[str, Any]) -> dict[str, Any]:
    """Return the Perennia `experiments` row for an MLflow experiment (artifacts go to the
    store's default location: they are re-hashed into its blob store)."""
    return {
        "experiment_id": int(exp["experiment_id"]),
        "name": exp["name"],
        "artifact_location": None,
        "lifecycle_stage": exp.get("lifecycle_stage") or LifecycleStage.ACTIVE.value,
        "creation_time": int(exp.get("creation_time") or 0),
        "last_update_time": int(exp.get("last_update_time") or exp.get("creation_time") or 0),
    }
