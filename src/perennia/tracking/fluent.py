"""The fluent tracking API (`perennia.start_run`, `perennia.log_metric`, ...), named as in MLflow.

Metric, param and tag calls validate their arguments, queue them on the context's batching
writer and return; `flush()`, `end_run()` and interpreter exit make them durable.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import logging
import sys
import threading
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from perennia.clock import now_ms
from perennia.config import Settings
from perennia.entities import DatasetInput, Experiment, MetricBatch, Run, RunStatus, ViewType
from perennia.errors import AlreadyExists, Conflict, InvalidInput, NotFound, PerenniaError
from perennia.store.validation import (
    INT64_MAX,
    INT64_MIN,
    validate_int64,
    validate_key,
    validate_metric_value,
    validate_param_value,
    validate_tag_value,
)
from perennia.tracking.client import Client
from perennia.tracking.context import TrackingContext, get_context
from perennia.tracking.defaults import set_default_settings
from perennia.tracking.source import current_user, git_commit, source_name

if TYPE_CHECKING:
    import pandas as pd

    from perennia.entities import Dataset

logger = logging.getLogger(__name__)
_settings: Settings | None = None
_ctx: TrackingContext | None = None
_active_experiment_id: str | None = None
_state_lock = threading.Lock()
_local = threading.local()
_valid_keys: set[str] = set()
_last_run: Run | None = None


class ActiveRun:
    """The run `start_run` began: use it as a context manager to end it (FAILED on an exception)."""

    def __init__(self, run: Run) -> None:
        self._run = run

    @property
    def info(self):
        """Return the run's info as it was when the run started."""
        return self._run.info

    @property
    def data(self):
        """Return the run's data as it was when the run started."""
        return self._run.data

    @property
    def run_id(self) -> str:
        """Return the run id."""
        return self._run.info.run_id

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            end_run(RunStatus.FINISHED.value, run_id=self.run_id)
        else:
            error = "".join(traceback.format_exception_only(exc_type, exc)).strip()
            try:
                end_run(RunStatus.FAILED.value, run_id=self.run_id, error=error)
            except PerenniaError as end_error:
                # The user's exception must propagate; a queued write error rides along as a note.
                logger.error("while ending failed run %s: %s", self.run_id, end_error)
                if exc is not None:
                    exc.add_note(f"perennia: while ending run {self.run_id}: {end_error}")

    def __repr__(self) -> str:
        return f"<ActiveRun {self.info.run_name!r} {self.run_id}>"


def _stack() -> list[ActiveRun]:
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    return stack


# -- configuration ----------------------------------------------------------------------------


def _current_settings() -> Settings:
    global _settings
    if _settings is None:
        _settings = Settings.from_env()
    return _settings


def _context() -> TrackingContext:
    global _ctx
    context = _ctx
    if context is None:
        context = _ctx = get_context(_current_settings())
    return context


def set_tracking_uri(uri: str | Path | None) -> None:
    """Point the fluent API at a metadata store (None returns to the environment's default)."""
    global _settings, _ctx, _active_experiment_id
    base = Settings.from_env()
    with _state_lock:
        _settings = base.with_overrides(tracking_uri=str(uri)) if uri else base
        set_default_settings(_settings if uri else None)
        _ctx = None
        _active_experiment_id = None


def get_tracking_uri() -> str:
    """Return the metadata store URI the fluent API writes to."""
    return _current_settings().resolved_tracking_uri()


def set_artifacts_uri(uri: str | Path | None) -> None:
    """Set where new experiments store artifact bytes (a folder or s3://bucket/prefix)."""
    global _settings, _ctx
    with _state_lock:
        _settings = dataclasses.replace(
            _current_settings(), artifacts_uri=str(uri) if uri else None
        )
        set_default_settings(_settings)
        _ctx = None


# -- experiments ------------------------------------------------------------------------------


def set_experiment(
    experiment_name: str | None = None, experiment_id: str | None = None
) -> Experiment:
    """Make an experiment active (created if the name is new) and return it."""
    global _active_experiment_id
    client = Client(settings=_current_settings())
    if (experiment_name is None) == (experiment_id is None):
        raise InvalidInput("set_experiment needs exactly one of experiment_name or experiment_id")
    if experiment_id is not None:
        experiment = client.get_experiment(str(experiment_id))
    else:
        experiment = client.get_experiment_by_name(experiment_name)
        if experiment is None:
            with contextlib.suppress(AlreadyExists):  # another process created it first
                client.create_experiment(experiment_name)
            experiment = client.get_experiment_by_name(experiment_name)
            if experiment is None:  # pragma: no cover - deleted between the two calls
                raise NotFound(f"experiment {experiment_name!r} vanished while being created")
    if experiment.lifecycle_stage != "active":
        raise Conflict(
            f"experiment {experiment.name!r} is deleted; restore it with Client().restore_experiment()"
        )
    _active_experiment_id = experiment.experiment_id
    return experiment


def create_experiment(
    name: str, artifact_location: str | None = None, tags: dict[str, Any] | None = None
) -> str:
    """Return the id of a new experiment."""
    return Client(settings=_current_settings()).create_experiment(name, artifact_location, tags)


def get_experiment(experiment_id: str) -> Experiment:
    """Return an experiment by id."""
    return Client(settings=_current_settings()).get_experiment(experiment_id)


def get_experiment_by_name(name: str) -> Experiment | None:
    """Return an experiment by name, or None."""
    return Client(settings=_current_settings()).get_experiment_by_name(name)


# -- runs -------------------------------------------------------------------------------------


def start_run(
    run_id: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    nested: bool = False,
    tags: dict[str, Any] | None = None,
    parent_run_id: str | None = None,
) -> ActiveRun:
    """Start (or resume, given `run_id`) a run and make it active; returns a context manager."""
    global _last_run
    stack = _stack()
    if stack and not nested:
        raise Conflict(
            f"run {stack[-1].run_id} is already active; end it first or call start_run(nested=True)"
        )
    context = _context()
    if run_id is not None:
        run = context.store.runs.get(run_id)
        context.store.runs.update(run_id, status=RunStatus.RUNNING.value)
    else:
        if parent_run_id is None and nested and stack:
            parent_run_id = stack[-1].run_id
        run = context.store.runs.create(
            experiment_id or _default_experiment_id(),
            run_name=run_name,
            user_id=current_user(),
            tags={k: str(v) for k, v in (tags or {}).items()},
            parent_run_id=parent_run_id,
            source_name=source_name(),
            git_commit=git_commit(),
        )
    context.heartbeat.add(run.info.run_id)
    active = ActiveRun(run)
    stack.append(active)
    _last_run = run
    return active


def _default_experiment_id() -> str:
    return _active_experiment_id or "0"


def end_run(
    status: str = RunStatus.FINISHED.value, *, run_id: str | None = None, error: str | None = None
) -> None:
    """Flush the active run's queued data and end it with `status` (no-op when no run is active)."""
    stack = _stack()
    if not stack:
        return
    if run_id is not None and stack[-1].run_id != run_id:
        # Ending an outer run ends the nested runs still open inside it.
        while stack and stack[-1].run_id != run_id:
            end_run(RunStatus.FINISHED.value)
        if not stack:
            return
    active = stack.pop()
    context = _context()
    try:
        context.writer.flush(active.run_id)
    finally:
        context.heartbeat.remove(active.run_id)
        context.store.runs.update(active.run_id, status=status, end_time=now_ms(), error=error)


def active_run() -> ActiveRun | None:
    """Return the innermost active run of this thread, or None."""
    stack = _stack()
    return stack[-1] if stack else None


def last_active_run() -> Run | None:
    """Return the most recently started run of this process, as stored now."""
    if _last_run is None:
        return None
    return Client(settings=_current_settings()).get_run(_last_run.info.run_id)


def get_run(run_id: str) -> Run:
    """Return a run by id."""
    return Client(settings=_current_settings()).get_run(run_id)


def _run_id(run_id: str | None = None) -> str:
    if run_id is not None:
        return run_id
    stack = _stack()
    if stack:
        return stack[-1].run_id
    return start_run().run_id  # like MLflow: logging with no active run starts one


# -- logging ----------------------------------------------------------------------------------


def log_metric(
    key: str,
    value: float,
    step: int | None = None,
    timestamp: int | None = None,
    synchronous: bool | None = None,
    run_id: str | None = None,
) -> None:
    """Queue one metric point on the active run (durable at flush; at once if synchronous)."""
    if key not in _valid_keys:
        validate_key(key, "metric key")
        _valid_keys.add(key)
    if value.__class__ is not float:
        value = validate_metric_value(key, value)
    # Range-checked here, not only at the store: a bad point found at flush would sink its whole batch.
    if step is None:
        step = 0
    elif step.__class__ is not int or not INT64_MIN <= step <= INT64_MAX:
        step = validate_int64("metric step", step)
    if timestamp is None:
        timestamp = now_ms()
    elif timestamp.__class__ is not int or not INT64_MIN <= timestamp <= INT64_MAX:
        timestamp = validate_int64("metric timestamp", timestamp)
    stack = getattr(_local, "stack", None)
    rid = run_id or (stack[-1].run_id if stack else _run_id())
    writer = _context().writer
    writer.log_metric(rid, key, value, step, timestamp)
    if synchronous:
        writer.flush(rid)


def log_metrics(
    metrics: dict[str, float],
    step: int | None = None,
    timestamp: int | None = None,
    synchronous: bool | None = None,
    run_id: str | None = None,
) -> None:
    """Queue several metrics sharing one step and timestamp."""
    step = 0 if step is None else validate_int64("metric step", step)
    timestamp = now_ms() if timestamp is None else validate_int64("metric timestamp", timestamp)
    batch = MetricBatch()
    for key, value in metrics.items():
        batch.append(
            validate_key(key, "metric key"), validate_metric_value(key, value), step, timestamp
        )
    rid = _run_id(run_id)
    writer = _context().writer
    writer.log_metrics(rid, batch)
    if synchronous:
        writer.flush(rid)


def log_param(key: str, value: Any, synchronous: bool | None = None) -> Any:
    """Queue one param (immutable: a different value for the same key is a Conflict); returns value."""
    log_params({key: value}, synchronous=synchronous)
    return value


def log_params(
    params: dict[str, Any], synchronous: bool | None = None, run_id: str | None = None
) -> None:
    """Queue several params."""
    clean = {validate_key(k, "param key"): validate_param_value(k, v) for k, v in params.items()}
    rid = _run_id(run_id)
    writer = _context().writer
    writer.log_params(rid, clean)
    if synchronous:
        writer.flush(rid)


def set_tag(key: str, value: Any, synchronous: bool | None = None) -> None:
    """Queue one run tag."""
    set_tags({key: value}, synchronous=synchronous)


def set_tags(
    tags: dict[str, Any], synchronous: bool | None = None, run_id: str | None = None
) -> None:
    """Queue several run tags."""
    clean = {validate_key(k, "tag key"): validate_tag_value(k, v) for k, v in tags.items()}
    rid = _run_id(run_id)
    writer = _context().writer
    writer.set_tags(rid, clean)
    if synchronous:
        writer.flush(rid)


def delete_tag(key: str) -> None:
    """Delete a tag of the active run (after writing queued data)."""
    rid = _run_id()
    context = _context()
    context.writer.flush(rid)
    context.store.tags.delete(rid, key)


def flush() -> None:
    """Write everything queued now; raise any write error that happened in the background."""
    _context().writer.flush()


def log_input(dataset: Dataset, context: str | None = None) -> None:
    """Record a dataset the active run consumed, and how (training, evaluation, ...)."""
    _context().store.inputs.log(_run_id(), [DatasetInput(dataset, context)])


# -- search -----------------------------------------------------------------------------------


def search_runs(
    experiment_ids: Sequence[str] | None = None,
    filter_string: str = "",
    run_view_type: ViewType | str = ViewType.ACTIVE_ONLY,
    max_results: int = 100_000,
    order_by: Sequence[str] | None = None,
    output_format: str = "pandas",
    search_all_experiments: bool = False,
    experiment_names: Sequence[str] | None = None,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame | list[Run]:
    """Return runs matching an MLflow-style filter as a DataFrame (only `columns` when given)
    or a list of Run."""
    client = Client(settings=_current_settings())
    ids = list(experiment_ids or [])
    for name in experiment_names or []:
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise NotFound(f"experiment {name!r} does not exist")
        ids.append(experiment.experiment_id)
    if not ids and not search_all_experiments:
        ids = [_default_experiment_id()]
    if output_format == "pandas":
        return client.search_runs_frame(
            ids, filter_string, run_view_type, max_results, order_by, columns=columns
        )
    if output_format == "list":
        runs: list[Run] = []
        token = None
        while len(runs) < max_results:
            page = client.search_runs(
                ids,
                filter_string,
                run_view_type,
                min(1000, max_results - len(runs)),
                order_by,
                token,
            )
            runs.extend(page.items)
            token = page.next_page_token
            if token is None:
                break
        return runs
    raise InvalidInput(f"output_format {output_format!r} is not 'pandas' or 'list'")


# -- interpreter exit -------------------------------------------------------------------------

_uncaught: list[BaseException] = []
_previous_excepthook = sys.excepthook


def _record_uncaught(exc_type, exc, tb) -> None:
    _uncaught.append(exc)
    _previous_excepthook(exc_type, exc, tb)


sys.excepthook = _record_uncaught


def _end_runs_at_exit() -> None:
    status = RunStatus.FAILED.value if _uncaught else RunStatus.FINISHED.value
    error = (
        "".join(traceback.format_exception_only(type(_uncaught[0]), _uncaught[0])).strip()
        if _uncaught
        else None
    )
    stack = _stack()
    while stack:
        before = len(stack)
        try:
            end_run(status, error=error)
        except Exception:  # noqa: BLE001 - at exit there is nobody left to raise to
            logger.exception("could not end run %s at exit", stack[-1].run_id if stack else "?")
        if len(stack) == before:
            stack.pop()


atexit.register(_end_runs_at_exit)
