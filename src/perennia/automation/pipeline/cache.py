"""Finding outputs to reuse: an earlier FINISHED step run with the same cache key (any pipeline
run in the experiment), or the finished steps of the run being resumed. Lookups are run
searches on tags: no table of their own.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket

from perennia.automation.pipeline import records as r
from perennia.automation.pipeline.outputs import OutputMeta
from perennia.clock import now_ms
from perennia.entities import Run, RunStatus, ViewType
from perennia.errors import Conflict, InvalidInput
from perennia.tracking.client import Client

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Reusable:
    """Outputs another run stored: the run holding the artifacts and each output's record."""

    source: str
    metas: dict[str, OutputMeta]
    key: str = ""


def metas_of(run: Run) -> dict[str, OutputMeta]:
    """Return the output records a step run's tags hold."""
    return {
        key[len(r.OUTPUT) :]: OutputMeta.from_json(value, key)
        for key, value in run.data.tags.items()
        if key.startswith(r.OUTPUT)
    }


def reusable(run: Run, outputs: tuple[str, ...], allow_pickle: bool) -> Reusable | None:
    """Return what `run` offers for a step with these outputs, or None when it cannot serve."""
    metas = metas_of(run)
    if set(metas) != set(outputs):
        return None
    if not allow_pickle and not all(m.safe for m in metas.values()):
        return None  # its model would load only by unpickling: run the step again instead
    tags = run.data.tags
    source = tags.get(r.CACHED_FROM) or run.info.run_id
    return Reusable(source, metas, tags.get(r.CACHE_KEY) or tags.get(r.KEY, ""))


def lookup(
    client: Client, experiment_id: str, key: str, outputs: tuple[str, ...], allow_pickle: bool
) -> Reusable | None:
    """Return the newest FINISHED execution with this cache key that can serve, or None."""
    page = client.search_runs(
        [experiment_id],
        f"tags.`{r.CACHE_KEY}` = '{key}' and attributes.status = 'FINISHED'",
        ViewType.ACTIVE_ONLY,
        10,
        ["attributes.start_time DESC"],
    )
    for run in page.items:
        try:
            found = reusable(run, outputs, allow_pickle)
        except InvalidInput as exc:  # a tampered or foreign record: never a cache source
            logger.warning("run %s cannot serve as a cache: %s", run.info.run_id, exc)
            continue
        if found is not None:
            return found
    return None


def resume_state(
    client: Client, run_id: str, pipeline: str, force: bool = False
) -> tuple[Run, dict[str, Run]]:
    """Return the pipeline run to resume and its latest run per step.

    Step runs left RUNNING by a process that died are marked FAILED here, and so is the
    pipeline run. A pipeline still running is a Conflict: on this host, while its process
    exists; on another host, while its heartbeat is fresh. When neither can be checked (another
    host, no heartbeat) it is a Conflict too, unless `force=True`.
    """
    run = client.get_run(run_id)
    tags = run.data.tags
    if tags.get(r.KIND) != "pipeline":
        raise InvalidInput(f"resume={run_id!r} is not a pipeline run")
    if tags.get(r.NAME) != pipeline:
        raise InvalidInput(
            f"resume={run_id!r} is a run of pipeline {tags.get(r.NAME)!r}, not {pipeline!r}"
        )
    if run.info.status == RunStatus.RUNNING.value:
        _refuse_if_running(client, run, force)
    steps: dict[str, Run] = {}
    page_token = None
    while True:
        page = client.search_runs(
            [run.info.experiment_id],
            f"tags.`{r.PIPELINE_RUN}` = '{run_id}'",
            ViewType.ALL,
            1000,
            ["attributes.start_time ASC"],
            page_token,
        )
        for step_run in page.items:
            steps[step_run.data.tags.get(r.STEP, step_run.info.run_name)] = step_run
        page_token = page.next_page_token
        if page_token is None:
            break
    died = "the process running this pipeline died before the step ended"
    for step_run in [run, *steps.values()]:
        if step_run.info.status == RunStatus.RUNNING.value:
            client.store.runs.update(
                step_run.info.run_id, status=RunStatus.FAILED.value, end_time=now_ms(), error=died
            )
    return run, steps


def _refuse_if_running(client: Client, run: Run, force: bool) -> None:
    """Raise Conflict when the RUNNING pipeline run may still have a live runner."""
    tags, run_id = run.data.tags, run.info.run_id
    host = tags.get(r.HOST, "")
    if host == socket.gethostname():
        if _alive(tags):
            raise Conflict(
                f"resume: pipeline run {run_id} is still running (process {tags.get(r.PID)}); "
                "cancel it first or wait for it to end"
            )
        return
    beat = run.info.heartbeat_time
    if beat is None:
        if not force:
            raise Conflict(
                f"resume: pipeline run {run_id} is RUNNING on host {host or 'unknown'} and has no "
                "heartbeat to tell whether it is alive; check that host, then pass force=True"
            )
        return
    timeout_ms = int(client.settings.heartbeat_timeout * 1000)
    if now_ms() - beat < timeout_ms:
        raise Conflict(
            f"resume: pipeline run {run_id} is still running on host {host} (heartbeat "
            f"{(now_ms() - beat) // 1000} s ago); cancel it first or wait for it to end"
        )


def _alive(tags: dict[str, str]) -> bool:
    """Return True when the tags name a process on this host that still exists (not this one)."""
    pid = tags.get(r.PID, "")
    if not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _not_zombie(int(pid))


def _not_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True
