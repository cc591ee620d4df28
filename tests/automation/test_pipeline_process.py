"""The process executor (one child per step) and a pipeline process killed outright:
SIGKILL is recorded as a failure and resumable, timeouts kill, cancellation kills."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from perennia.automation.pipeline import cancel
from perennia.entities import ViewType
from perennia.tracking.client import Client
from tests.automation.pipelines_for_tests import counting, executions, gated, resumable, slow

pytestmark = [
    pytest.mark.slow,  # each step starts a Python interpreter
    pytest.mark.parametrize("sql_store_uri", ["sqlite"], indirect=True),
]


def test_process_executor_caches_like_the_local_one(tracking: str, tmp_path: Path) -> None:
    log = str(tmp_path / "log")
    first = counting.run({"log": log}, executor="process", max_workers=2)
    assert first.status == "FINISHED", first.error
    assert sorted(executions(log)) == ["features", "labels", "raw", "summarize"]
    local = counting.run({"log": log})  # same keys, whichever executor made them
    assert len(executions(log)) == 4
    assert local.outputs["summary"] == first.outputs["summary"]


def test_sigkilled_step_fails_with_the_signal_and_resumes(tracking: str, tmp_path: Path) -> None:
    log, flag = str(tmp_path / "log"), tmp_path / "flag"
    flag.write_text("kill")
    first = resumable.run({"log": log, "flag": str(flag)}, executor="process")
    assert first.status == "FAILED"
    fragile = first.steps["fragile"]
    assert fragile.error == "the step's process died (signal 9)"
    assert Client().get_run(fragile.run_id).info.status == "FAILED"
    assert first.steps["after"].status == "SKIPPED"

    flag.unlink()
    resumed = resumable.run(resume=first.run_id, executor="process", cache=False)
    assert resumed.status == "FINISHED", resumed.error
    assert executions(log) == ["raw", "features", "fragile", "fragile", "after"]
    assert resumed.steps["features"].cached_from == first.steps["features"].run_id


def test_process_timeout_kills_the_step(tracking: str, tmp_path: Path) -> None:
    log = str(tmp_path / "log")
    result = slow.run({"log": log, "seconds": 60.0}, executor="process")
    assert result.status == "FAILED"
    assert result.steps["sleepy"].error == (
        "TimeoutError: step 'sleepy' exceeded its timeout of 1 s; its process was killed"
    )
    assert result.steps["after_sleepy"].status == "SKIPPED"


def test_cancel_kills_the_running_step_process(tracking: str, tmp_path: Path) -> None:
    log, flag = str(tmp_path / "log"), tmp_path / "never"

    def cancel_when_running(run_id: str) -> None:
        def act() -> None:
            while "gate" not in executions(log):
                time.sleep(0.05)
            cancel(run_id)

        threading.Thread(target=act).start()

    result = gated.run(
        {"log": log, "flag": str(flag)}, executor="process", on_start=cancel_when_running
    )
    assert result.status == "CANCELLED"
    assert {n: s.status for n, s in result.steps.items()} == {
        "gate": "CANCELLED",
        "second": "CANCELLED",
        "third": "CANCELLED",
    }
    assert Client().get_run(result.steps["gate"].run_id).info.status == "KILLED"


def test_pipeline_process_killed_mid_step_is_resumable(tracking: str, tmp_path: Path) -> None:
    """The local executor runs steps in the pipeline's own process: SIGKILL takes it all down,
    leaving runs RUNNING; a resume marks them FAILED and reruns from the dead step."""
    log, flag = str(tmp_path / "log"), tmp_path / "flag"
    flag.write_text("kill")
    script = tmp_path / "run_it.py"
    script.write_text(
        textwrap.dedent(
            f"""
            from tests.automation.pipelines_for_tests import resumable
            resumable.run({{"log": {log!r}, "flag": {str(flag)!r}}})
            """
        )
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    done = subprocess.run([sys.executable, str(script)], env=env, cwd=os.getcwd(), check=False)
    assert done.returncode == -9
    assert executions(log) == ["raw", "features", "fragile"]
    client = Client()
    parent = client.search_runs(
        [], "tags.`perennia.pipeline.kind` = 'pipeline'", ViewType.ALL
    ).items
    assert len(parent) == 1 and parent[0].info.status == "RUNNING"
    run_id = parent[0].info.run_id

    flag.unlink()
    resumed = resumable.run(resume=run_id)
    assert resumed.status == "FINISHED", resumed.error
    assert executions(log)[3:] == ["fragile", "after"]
    assert client.get_run(run_id).info.status == "FAILED"
    dead = client.search_runs(
        [], f"tags.`perennia.pipeline.run` = '{run_id}' and tags.`perennia.step.name` = 'fragile'"
    ).items[0]
    assert dead.info.status == "FAILED"
    assert "died" in dead.info.error
