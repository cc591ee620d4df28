"""Acting on pipeline runs from anywhere: cancel one (a tag the runner reads between steps, so
it works from another process or the CLI) and read one back as a PipelineRun.
"""

from __future__ import annotations

import json

from perennia.automation.pipeline import records as r
from perennia.automation.pipeline.cache import metas_of
from perennia.automation.pipeline.results import LazyOutputs, OutputRef, PipelineRun, StepResult
from perennia.entities import RunStatus, ViewType
from perennia.errors import Conflict, InvalidInput
from perennia.tracking.client import Client


def cancel(run_id: str) -> None:
    """Ask a running pipeline to stop: running steps are stopped (killed with the process and
    ray executors; the local executor finishes the current step), the rest recorded CANCELLED."""
    client = Client()
    run = client.get_run(run_id)
    if run.data.tags.get(r.KIND) != "pipeline":
        raise InvalidInput(f"run {run_id} is not a pipeline run; pass the pipeline's run id")
    if run.info.status != RunStatus.RUNNING.value:
        raise Conflict(
            f"pipeline run {run_id} already ended ({run.info.status}); nothing to cancel"
        )
    client.set_tag(run_id, r.CANCEL, "true")


def cancel_requested(client: Client, run_id: str) -> bool:
    """Return True once someone asked the pipeline run to stop."""
    return client.store.runs.get(run_id).data.tags.get(r.CANCEL) == "true"


def get_run(run_id: str) -> PipelineRun:
    """Return a stored pipeline run, with its steps as recorded (outputs load on access)."""
    client = Client()
    run = client.get_run(run_id)
    tags = run.data.tags
    if tags.get(r.KIND) != "pipeline":
        raise InvalidInput(f"run {run_id} is not a pipeline run")
    steps: dict[str, StepResult] = {}
    refs: dict[str, OutputRef] = {}
    for step_run in _step_runs(client, run.info.experiment_id, run_id):
        step_tags = step_run.data.tags
        name = step_tags.get(r.STEP, step_run.info.run_name)
        status = step_tags.get(r.STEP_STATUS) or step_run.info.status
        steps[name] = StepResult(
            name,
            "FAILED" if status in ("KILLED",) else status,
            run_id=step_run.info.run_id,
            cached_from=step_tags.get(r.CACHED_FROM),
            attempts=int(step_tags.get(r.ATTEMPTS, "0") or 0),
            error=step_tags.get(r.ERROR) or step_run.info.error,
            start_time=step_run.info.start_time,
            end_time=step_run.info.end_time,
        )
        if status == "FINISHED":
            source = step_tags.get(r.CACHED_FROM) or step_run.info.run_id
            for output, meta in metas_of(step_run).items():
                refs[output] = OutputRef(meta, source)
    for name, entry in _summary(client, run_id).items():
        if name not in steps:
            steps[name] = StepResult(name, entry.get("status", "SKIPPED"))
    status = tags.get(r.STATUS) or run.info.status
    return PipelineRun(
        run_id,
        tags.get(r.NAME, ""),
        status,
        steps,
        LazyOutputs(refs, client, None),
        error=run.info.error,
        refs=refs,
    )


def _step_runs(client: Client, experiment_id: str, run_id: str) -> list:
    runs, token = [], None
    while True:
        page = client.search_runs(
            [experiment_id],
            f"tags.`{r.PIPELINE_RUN}` = '{run_id}'",
            ViewType.ALL,
            1000,
            ["attributes.start_time ASC"],
            token,
        )
        runs.extend(page.items)
        token = page.next_page_token
        if token is None:
            return runs


def _summary(client: Client, run_id: str) -> dict:
    try:
        data = json.loads(client.read_artifact(run_id, "pipeline.json"))
    except Exception:  # noqa: BLE001 - a run still going (or killed) has no summary yet
        return {}
    return {step["name"]: step for step in data.get("steps", [])}
