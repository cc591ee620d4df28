"""Resuming a pipeline run left RUNNING by another host: alive while its heartbeat is fresh,
resumable once it is stale, and only with force=True when there is no heartbeat at all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import update

from perennia.automation.pipeline import records as r
from perennia.clock import now_ms
from perennia.errors import Conflict, InvalidInput
from perennia.store.sql import schema
from perennia.tracking import fluent
from perennia.tracking.client import Client
from tests.automation.pipelines_for_tests import counting, executions


def _left_running_by_another_host(log: str) -> tuple[str, str]:
    """Return (pipeline run id, step run id) as a runner on host 'elsewhere' leaves them."""
    client = Client()
    experiment_id = fluent._default_experiment_id()
    elsewhere = {r.NAME: "counting", r.HOST: "elsewhere.example", r.PID: "4242"}
    parent = client.store.runs.create(
        experiment_id,
        run_name="counting",
        tags={
            **elsewhere,
            r.KIND: "pipeline",
            r.STATUS: "RUNNING",
            r.PARAMS: json.dumps({"log": log}),
        },
    )
    parent_id = parent.info.run_id
    step_run = client.store.runs.create(
        experiment_id,
        run_name="raw",
        parent_run_id=parent_id,
        tags={**elsewhere, r.KIND: "step", r.PIPELINE_RUN: parent_id, r.STEP: "raw"},
    )
    return parent_id, step_run.info.run_id


def test_another_hosts_run_with_a_fresh_heartbeat_is_not_resumed(
    tracking: str, tmp_path: Path
) -> None:
    log = str(tmp_path / "log")
    parent_id, step_id = _left_running_by_another_host(log)
    with pytest.raises(Conflict, match="still running on host elsewhere.example"):
        counting.run(resume=parent_id)
    with pytest.raises(Conflict):  # force is for runs whose liveness cannot be checked
        counting.run(resume=parent_id, force=True)
    client = Client()
    assert client.get_run(parent_id).info.status == "RUNNING"
    assert client.get_run(step_id).info.status == "RUNNING"
    assert executions(log) == []


def test_another_hosts_run_with_a_stale_heartbeat_is_resumed(tracking: str, tmp_path: Path) -> None:
    log = str(tmp_path / "log")
    parent_id, step_id = _left_running_by_another_host(log)
    client = Client()
    timeout_ms = int(client.settings.heartbeat_timeout * 1000)
    client.store.runs.heartbeat([parent_id, step_id], now_ms() - 2 * timeout_ms)

    resumed = counting.run(resume=parent_id)
    assert resumed.status == "FINISHED", resumed.error
    assert sorted(executions(log)) == ["features", "labels", "raw", "summarize"]
    assert client.get_run(parent_id).info.status != "RUNNING"
    assert client.get_run(step_id).info.status != "RUNNING"


def test_another_hosts_run_without_heartbeat_needs_force(tracking: str, tmp_path: Path) -> None:
    log = str(tmp_path / "log")
    parent_id, step_id = _left_running_by_another_host(log)
    client = Client()
    with client.store.runs.engine.begin() as conn:  # a store that never recorded a heartbeat
        conn.execute(
            update(schema.runs)
            .where(schema.runs.c.run_uuid.in_([parent_id, step_id]))
            .values(heartbeat_time=None)
        )
    with pytest.raises(Conflict, match="no heartbeat .* pass force=True"):
        counting.run(resume=parent_id)
    assert client.get_run(parent_id).info.status == "RUNNING"
    with pytest.raises(InvalidInput, match="force must be True or False"):
        counting.run(resume=parent_id, force="yes")

    resumed = counting.run(resume=parent_id, force=True)
    assert resumed.status == "FINISHED", resumed.error
    assert client.get_run(parent_id).info.status == "FAILED"
    dead = client.get_run(step_id)
    assert dead.info.status == "FAILED" and "died" in dead.info.error
