"""The Ray executor on the session's local Ray: steps run as Ray tasks, results and cache keys
match the in-process executor's, failures and timeouts are recorded."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.automation.pipelines_for_tests import counting, executions, resumable, slow

pytestmark = [
    pytest.mark.slow,  # a Ray node starts once per session (about 5 s)
    pytest.mark.xdist_group("ray"),  # ... on one worker only
    pytest.mark.filterwarnings("ignore::DeprecationWarning:ray"),
    pytest.mark.parametrize("sql_store_uri", ["sqlite"], indirect=True),
]


def test_ray_executor_runs_the_steps_and_shares_the_cache(
    ray_session, tracking: str, tmp_path: Path
) -> None:
    log = str(tmp_path / "log")
    first = counting.run({"log": log}, executor="ray")
    assert first.status == "FINISHED", first.error
    assert sorted(executions(log)) == ["features", "labels", "raw", "summarize"]
    local = counting.run({"log": log}, cache=False)
    assert local.outputs["summary"] == first.outputs["summary"]
    again = counting.run({"log": log}, executor="ray")
    assert len(executions(log)) == 8  # the ray run reused everything
    assert all(s.cached_from for s in again.steps.values())


def test_ray_failure_and_timeout_are_recorded(ray_session, tracking: str, tmp_path: Path) -> None:
    log, flag = str(tmp_path / "log"), tmp_path / "flag"
    flag.write_text("raise")
    failed = resumable.run({"log": log, "flag": str(flag)}, executor="ray")
    assert failed.status == "FAILED"
    assert "fragile step failed on purpose" in failed.steps["fragile"].error
    flag.unlink()
    resumed = resumable.run(resume=failed.run_id, executor="ray")
    assert resumed.status == "FINISHED", resumed.error

    timed_out = slow.run({"log": log, "seconds": 60.0}, executor="ray")
    assert timed_out.steps["sleepy"].error.startswith("TimeoutError: step 'sleepy' exceeded")
    assert timed_out.steps["after_sleepy"].status == "SKIPPED"
