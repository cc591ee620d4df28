"""What a pipeline run writes to the tracking store: the parent run, one nested run per step,
their tags (names, cache keys, output records, lineage), params, metrics, dataset inputs and
outputs as artifacts. Only the process that runs the pipeline calls this module.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from perennia.automation.pipeline.outputs import OutputMeta
from perennia.clock import now_ms
from perennia.entities import Metric, Param, Run, RunStatus, RunTag
from perennia.store.limits import PARAM_VALUE_LENGTH, TAG_VALUE_LENGTH
from perennia.tracking.client import Client

KIND = "perennia.pipeline.kind"  # "pipeline" on the parent, "step" on each step run
NAME = "perennia.pipeline.name"
STATUS = "perennia.pipeline.status"  # the parent's FINISHED / FAILED / CANCELLED
PARAMS = "perennia.pipeline.params"  # the parent's params as JSON, so a resume can reuse them
CANCEL = "perennia.pipeline.cancel_requested"
RESUMED_FROM = "perennia.pipeline.resumed_from"
EXECUTOR = "perennia.pipeline.executor"
HOST = "perennia.pipeline.host"
PID = "perennia.pipeline.pid"
PIPELINE_RUN = "perennia.pipeline.run"  # on a step run: its pipeline run's id
STEP = "perennia.step.name"
CACHE_KEY = "perennia.step.cache_key"  # only on runs that executed: the cache looks these up
CACHE_OFF = "perennia.step.cache_off"  # why a step has no cache key (it runs every time)
KEY = "perennia.step.key"  # the key of a step that reused outputs (not a cache source itself)
CACHED_FROM = "perennia.step.cached_from"
ATTEMPTS = "perennia.step.attempts"
ERROR = "perennia.step.error"
STEP_STATUS = "perennia.step.status"  # FINISHED / FAILED / CANCELLED, as the pipeline saw it
OUTPUT = "perennia.output."  # + name: the OutputMeta JSON
INPUT = "perennia.input."  # + name + ".hash" / ".from" (the run holding the producing output)


def error_text(exc: BaseException, tail: int = 12) -> str:
    """Return 'Type: message' and the last lines of the traceback, for tags and results."""
    head = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    lines = "".join(traceback.format_tb(exc.__traceback__)).rstrip().splitlines()
    return head + ("\n" + "\n".join(lines[-tail:]) if lines else "")


def clip(text: str, limit: int = TAG_VALUE_LENGTH) -> str:
    """Return `text` shortened to fit a tag (or param) value."""
    return text if len(text) <= limit else text[: limit - 20] + " …[truncated]"


class Recorder:
    """Writes one pipeline run and its step runs through a tracking Client."""

    def __init__(self, client: Client, experiment_id: str, pipeline: str) -> None:
        self.client = client
        self.store = client.store
        self.experiment_id = experiment_id
        self.pipeline = pipeline
        self.run_id = ""

    def start_pipeline(
        self, params: Mapping[str, str], executor: str, parent: str | None, resumed_from: str | None
    ) -> Run:
        """Return the new RUNNING pipeline run."""
        tags = {
            KIND: "pipeline",
            NAME: self.pipeline,
            STATUS: RunStatus.RUNNING.value,
            PARAMS: clip(json.dumps(dict(params), sort_keys=True)),
            EXECUTOR: executor,
            HOST: socket.gethostname(),
            PID: str(os.getpid()),
        }
        if resumed_from:
            tags[RESUMED_FROM] = resumed_from
        run = self._create(self.pipeline, tags, parent)
        self.run_id = run.info.run_id
        return run

    def finish_pipeline(self, status: str, error: str | None) -> None:
        """End the pipeline run; a cancelled pipeline is KILLED in tracking terms."""
        tracking = RunStatus.KILLED.value if status == "CANCELLED" else status
        self._tags(self.run_id, {STATUS: status})
        self._end(self.run_id, tracking, error)

    def start_step(
        self,
        name: str,
        key: str,
        params: Mapping[str, str],
        inputs: Mapping[str, tuple[str, str]],
        cache_off: str = "",
    ) -> Run:
        """Return the RUNNING run of a step about to execute, with its params and input lineage.

        A step without a cache key (`key=""`) gets the reason in its cache_off tag instead.
        """
        tags = {KIND: "step", NAME: self.pipeline, PIPELINE_RUN: self.run_id, STEP: name}
        if key:
            tags[CACHE_KEY] = key
        if cache_off:
            tags[CACHE_OFF] = cache_off
        tags.update(_input_tags(inputs))
        run = self._create(name, tags, self.run_id)
        if params:
            self.client.log_batch(
                run.info.run_id,
                params=[Param(k, clip(v, PARAM_VALUE_LENGTH)) for k, v in params.items()],
            )
        return run

    def cached_step(
        self,
        name: str,
        key: str,
        source: str,
        metas: Mapping[str, OutputMeta],
        inputs: Mapping[str, tuple[str, str]],
    ) -> Run:
        """Return a FINISHED run recording that a step reused `source`'s outputs."""
        tags = {KIND: "step", NAME: self.pipeline, PIPELINE_RUN: self.run_id, STEP: name}
        tags.update({KEY: key, CACHED_FROM: source, STEP_STATUS: "FINISHED", ATTEMPTS: "0"})
        tags.update(_input_tags(inputs))
        tags.update({OUTPUT + m.name: m.to_json() for m in metas.values()})
        run = self._create(name, tags, self.run_id)
        self._end(run.info.run_id, RunStatus.FINISHED.value, None)
        return run

    def log_dataset_inputs(self, run_id: str, versions: list[Any]) -> None:
        """Record DatasetVersion inputs on a step run, as `perennia.data.load` would."""
        from perennia.data.versions import SOURCE_TYPE
        from perennia.entities import Dataset, DatasetInput

        datasets = [
            DatasetInput(
                Dataset(
                    name=v.name,
                    digest=v.digest,
                    source=v.ref,
                    source_type=SOURCE_TYPE,
                    schema=[dict(c) for c in v.schema],
                    row_count=v.row_count if v.row_count is not None else v.file_count,
                ),
                "pipeline",
            )
            for v in versions
        ]
        if datasets:
            self.client.log_inputs(run_id, datasets)

    def step_succeeded(
        self,
        run_id: str,
        folder: Path,
        metas: Mapping[str, OutputMeta],
        metrics: Mapping[str, float],
        attempts: int,
    ) -> None:
        """Store a step's outputs as artifacts under outputs/, its metrics, and end it FINISHED."""
        if any(folder.iterdir()):
            self.client.log_artifacts(run_id, folder, "outputs")
        tags = {OUTPUT + m.name: m.to_json() for m in metas.values()}
        tags.update({ATTEMPTS: str(attempts), STEP_STATUS: "FINISHED"})
        stamp = now_ms()
        self.client.log_batch(
            run_id,
            metrics=[Metric(k, float(v), stamp, 0) for k, v in metrics.items()],
            tags=[RunTag(k, v) for k, v in tags.items()],
        )
        self._end(run_id, RunStatus.FINISHED.value, None)

    def attempt_failed(self, run_id: str, number: int, error: str) -> None:
        """Record the error of failed attempt `number` (1-based) of a step run."""
        self._tags(run_id, {f"perennia.step.attempt.{number}.error": clip(error, 2000)})

    def step_failed(self, run_id: str, error: str, attempts: int) -> None:
        """End a step run FAILED with its error as a tag (and as the run's error)."""
        tags = {ERROR: clip(error), ATTEMPTS: str(attempts), STEP_STATUS: "FAILED"}
        tags[f"perennia.step.attempt.{attempts}.error"] = clip(error, 2000)
        self._tags(run_id, tags)
        self._end(run_id, RunStatus.FAILED.value, error)

    def step_cancelled(self, run_id: str) -> None:
        """End a step run that was stopped by a cancellation."""
        self._tags(run_id, {STEP_STATUS: "CANCELLED", ERROR: "cancelled"})
        self._end(run_id, RunStatus.KILLED.value, "cancelled")

    def log_summary(self, summary: dict[str, Any]) -> None:
        """Store the run's step table as pipeline.json on the pipeline run."""
        self.client.log_dict(self.run_id, summary, "pipeline.json")

    def _create(self, name: str, tags: dict[str, str], parent: str | None) -> Run:
        from perennia.tracking.source import current_user, git_commit, source_name

        run = self.store.runs.create(
            self.experiment_id,
            run_name=name,
            user_id=current_user(),
            tags={k: clip(v) for k, v in tags.items()},
            parent_run_id=parent,
            source_name=source_name(),
            git_commit=git_commit(),
        )
        self.client.context.heartbeat.add(run.info.run_id)
        return run

    def _tags(self, run_id: str, tags: dict[str, str]) -> None:
        self.client.log_batch(run_id, tags=[RunTag(k, clip(v)) for k, v in tags.items()])

    def _end(self, run_id: str, status: str, error: str | None) -> None:
        self.client.context.heartbeat.remove(run_id)
        self.store.runs.update(run_id, status=status, end_time=now_ms(), error=error)


def _input_tags(inputs: Mapping[str, tuple[str, str]]) -> dict[str, str]:
    tags = {}
    for name, (digest, source) in inputs.items():
        tags[f"{INPUT}{name}.hash"] = digest
        if source:
            tags[f"{INPUT}{name}.from"] = source
    return tags


@contextlib.contextmanager
def active_step(run: Run) -> Iterator[None]:
    """Make the step run this thread's active fluent run, so the step's own logging (and
    `perennia.data.load`'s lineage) lands on it; its status stays the runner's to set."""
    from perennia.tracking import fluent

    run_id = run.info.run_id
    stack = fluent._stack()
    stack.append(fluent.ActiveRun(run))
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            fluent._context().writer.flush(run_id)
        if stack and stack[-1].run_id == run_id:
            stack.pop()
