"""`Client`: explicit, synchronous access to experiments, runs, metrics and artifacts (like MlflowClient)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from perennia.clock import now_ms
from perennia.config import Settings
from perennia.entities import (
    DatasetInput,
    Experiment,
    FileInfo,
    Metric,
    MetricBatch,
    Page,
    Param,
    Run,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from perennia.store.base import DEFAULT_SEARCH_MAX_RESULTS
from perennia.store.validation import validate_key
from perennia.tracking.context import TrackingContext, get_context
from perennia.tracking.defaults import default_settings
from perennia.tracking.source import current_user

if TYPE_CHECKING:
    import pandas as pd

    from perennia.entities import Dataset


class Client:
    """Read and write tracking data explicitly; every write is durable when the call returns."""

    def __init__(
        self,
        tracking_uri: str | None = None,
        artifacts_uri: str | None = None,
        *,
        settings: Settings | None = None,
    ) -> None:
        base = settings or default_settings()
        self.settings = base.with_overrides(tracking_uri=tracking_uri, artifacts_uri=artifacts_uri)
        self._context: TrackingContext = get_context(self.settings)
        self.store = self._context.store

    @property
    def context(self) -> TrackingContext:
        """Return the process-wide tracking context (store, writer, artifact repositories) behind this client."""
        return self._context

    @property
    def tracking_uri(self) -> str:
        """Return the metadata store URI this client talks to."""
        return self._context.tracking_uri

    def _fresh(self) -> None:
        # Queued fluent writes of this process become visible, and dead runs show as KILLED.
        self._context.writer.flush()
        self._context.reap_if_due()

    # -- experiments ------------------------------------------------------------------------

    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: dict[str, Any] | None = None
    ) -> str:
        """Return the id of a new experiment."""
        # A server decides where its artifacts live; a local store records the local default.
        remote = self.tracking_uri.startswith(("http://", "https://"))
        location = artifact_location or (None if remote else self.settings.resolved_artifacts_uri())
        return self.store.experiments.create(
            name, location, {k: str(v) for k, v in (tags or {}).items()}
        )

    def get_experiment(self, experiment_id: str) -> Experiment:
        """Return an experiment by id."""
        return self.store.experiments.get(experiment_id)

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """Return an experiment by name, or None."""
        return self.store.experiments.get_by_name(name)

    def search_experiments(
        self,
        view_type: ViewType | str = ViewType.ACTIVE_ONLY,
        max_results: int = DEFAULT_SEARCH_MAX_RESULTS,
        name_like: str | None = None,
        page_token: str | None = None,
    ) -> Page[Experiment]:
        """Return a page of experiments."""
        return self.store.experiments.search(
            ViewType(view_type), max_results, name_like, page_token
        )

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Rename an experiment."""
        self.store.experiments.rename(experiment_id, new_name)

    def delete_experiment(self, experiment_id: str) -> None:
        """Move an experiment and its runs to the trash."""
        self.store.experiments.delete(experiment_id)

    def restore_experiment(self, experiment_id: str) -> None:
        """Restore a trashed experiment and its runs."""
        self.store.experiments.restore(experiment_id)

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        """Set a tag on an experiment."""
        self.store.experiments.set_tag(experiment_id, key, str(value))

    # -- runs ---------------------------------------------------------------------------------

    def create_run(
        self,
        experiment_id: str,
        start_time: int | None = None,
        tags: dict[str, Any] | None = None,
        run_name: str | None = None,
    ) -> Run:
        """Return a new RUNNING run, kept alive by this process's heartbeat until `set_terminated`."""
        run = self.store.runs.create(
            experiment_id,
            run_name=run_name,
            user_id=current_user(),
            start_time=start_time,
            tags={k: str(v) for k, v in (tags or {}).items()},
        )
        self._context.heartbeat.add(run.info.run_id)
        return run

    def get_run(self, run_id: str) -> Run:
        """Return a run with its latest metrics, params, tags and inputs."""
        self._fresh()
        return self.store.runs.get(run_id)

    def update_run(
        self, run_id: str, status: str | None = None, name: str | None = None
    ) -> RunInfo:
        """Change a run's status or name and return its info."""
        return self.store.runs.update(run_id, status=status, run_name=name)

    def set_terminated(
        self, run_id: str, status: str = RunStatus.FINISHED.value, end_time: int | None = None
    ) -> RunInfo:
        """Flush the run's queued writes, then end it with a terminal status."""
        self._context.writer.flush(run_id)
        self._context.heartbeat.remove(run_id)
        return self.store.runs.update(run_id, status=status, end_time=end_time or now_ms())

    def delete_run(self, run_id: str) -> None:
        """Move a run to the trash."""
        self.store.runs.delete(run_id)

    def restore_run(self, run_id: str) -> None:
        """Restore a trashed run."""
        self.store.runs.restore(run_id)

    def search_runs(
        self,
        experiment_ids: Sequence[str] | str,
        filter_string: str = "",
        run_view_type: ViewType | str = ViewType.ACTIVE_ONLY,
        max_results: int = DEFAULT_SEARCH_MAX_RESULTS,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> Page[Run]:
        """Return a page of runs matching an MLflow-style filter."""
        self._fresh()
        ids = [experiment_ids] if isinstance(experiment_ids, str) else list(experiment_ids)
        return self.store.runs.search(
            ids, filter_string, ViewType(run_view_type), max_results, order_by, page_token
        )

    def search_runs_frame(
        self,
        experiment_ids: Sequence[str] | str,
        filter_string: str = "",
        run_view_type: ViewType | str = ViewType.ACTIVE_ONLY,
        max_results: int | None = None,
        order_by: Sequence[str] | None = None,
        columns: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Return matching runs as a pandas DataFrame (one row per run; only `columns`, such
        as ["run_id", "params.lr", "metrics.loss"], when given)."""
        self._fresh()
        ids = [experiment_ids] if isinstance(experiment_ids, str) else list(experiment_ids)
        return self.store.runs.search_frame(
            ids, filter_string, ViewType(run_view_type), max_results, order_by, columns=columns
        )

    # -- logging --------------------------------------------------------------------------------

    def log_metric(
        self,
        run_id: str,
        key: str,
        value: float,
        timestamp: int | None = None,
        step: int | None = None,
    ) -> None:
        """Log one metric point."""
        batch = MetricBatch()
        batch.append(
            key, value, 0 if step is None else step, now_ms() if timestamp is None else timestamp
        )
        self.store.log_batch(run_id, batch)

    def log_param(self, run_id: str, key: str, value: Any) -> None:
        """Log one param (immutable once logged)."""
        self.store.log_batch(run_id, params=[Param(key, str(value))])

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        """Set one run tag."""
        self.store.log_batch(run_id, tags=[RunTag(key, str(value))])

    def delete_tag(self, run_id: str, key: str) -> None:
        """Delete one run tag."""
        self.store.tags.delete(run_id, key)

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        """Log metrics, params and tags in one transaction."""
        batch = MetricBatch.from_metrics(list(metrics)) if metrics else None
        self.store.log_batch(run_id, batch, params, tags)

    def log_inputs(self, run_id: str, datasets: Sequence[DatasetInput]) -> None:
        """Record datasets the run consumed."""
        self.store.inputs.log(run_id, list(datasets))

    def log_input(self, run_id: str, dataset: Dataset, context: str | None = None) -> None:
        """Record one dataset the run consumed, and how (training, evaluation, ...)."""
        self.log_inputs(run_id, [DatasetInput(dataset, context)])

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Return every logged point of a metric, ordered by step then time."""
        self._fresh()
        validate_key(key, "metric key")
        return self.store.metrics.history(run_id, key)

    def get_metric_history_downsampled(
        self,
        run_id: str,
        key: str,
        max_points: int = 2000,
        start: int | None = None,
        end: int | None = None,
        method: str = "minmax",
    ) -> MetricBatch:
        """Return at most `max_points` points of a metric for a chart, downsampled by the store:
        every point when they fit, else each step bucket's exact min and max (or LTTB)."""
        self._fresh()
        validate_key(key, "metric key")
        return self.store.metrics.history_downsampled(run_id, key, max_points, start, end, method)

    # -- artifacts ------------------------------------------------------------------------------

    def log_artifact(
        self, run_id: str, local_path: str | Path, artifact_path: str | None = None
    ) -> None:
        """Store a local file as an artifact of the run."""
        self._context.repository_for_run(run_id).log_file(run_id, local_path, artifact_path)

    def log_artifacts(
        self, run_id: str, local_dir: str | Path, artifact_path: str | None = None
    ) -> None:
        """Store every file under a local folder as artifacts of the run."""
        self._context.repository_for_run(run_id).log_dir(run_id, local_dir, artifact_path)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        """Store text as an artifact file."""
        self._context.repository_for_run(run_id).log_bytes(
            run_id, text.encode("utf-8"), artifact_file
        )

    def log_dict(self, run_id: str, dictionary: dict[str, Any], artifact_file: str) -> None:
        """Store a dict as a JSON artifact file."""
        data = json.dumps(dictionary, indent=2, sort_keys=True, default=str).encode("utf-8")
        self._context.repository_for_run(run_id).log_bytes(run_id, data, artifact_file)

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        """Return the files and folders directly under `path` in the run's artifact tree."""
        return self._context.repository_for_run(run_id).list(run_id, path)

    def download_artifacts(
        self, run_id: str, path: str = "", dst_path: str | Path | None = None
    ) -> str:
        """Download an artifact file or folder (verifying digests) and return its local path."""
        destination = (
            Path(dst_path) if dst_path is not None else Path(tempfile.mkdtemp(prefix="perennia-"))
        )
        return str(self._context.repository_for_run(run_id).download(run_id, path, destination))

    def read_artifact(self, run_id: str, path: str) -> bytes:
        """Return one artifact's bytes (digest-checked)."""
        return self._context.repository_for_run(run_id).read_bytes(run_id, path)
