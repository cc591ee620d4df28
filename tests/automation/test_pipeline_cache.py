"""Caching, lineage, retries, resume, timeouts and cancellation with the in-process executor.

Executions are counted from a log file the steps append to, never from timings.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from perennia.automation.pipeline import Pipeline, cancel, get_run, step
from perennia.errors import Conflict
from perennia.tracking.client import Client
from tests.automation.pipelines_for_tests import (
    counting,
    executions,
    flaky_pipeline,
    gated,
    note,
    resumable,
    slow,
)


def test_second_run_with_nothing_changed_runs_no_step(tracking: str, tmp_path: Path) -> None:
    log = str(tmp_path / "log")
    first = counting.run({"log": log})
    assert first.status == "FINISHED"
    assert sorted(executions(log)) == ["features", "labels", "raw", "summarize"]

    second = counting.run({"log": log})
    assert second.status == "FINISHED"
    assert len(executions(log)) == 4  # nothing ran again
    for name, result in second.steps.items():
        assert result.cached_from == first.steps[name].run_id
    assert second.outputs["summary"] == first.outputs["summary"]
    pd.testing.assert_frame_equal(second.outputs["features"], first.outputs["features"])


def test_changing_a_param_reruns_exactly_the_dependent_steps(tracking: str, tmp_path: Path) -> None:
    log = str(tmp_path / "log")
    counting.run({"log": log})
    Path(log).unlink()

    rerun = counting.run({"log": log, "scale": 2.0})
    assert sorted(executions(log)) == ["features", "summarize"]
    assert rerun.steps["raw"].cached_from and rerun.steps["labels"].cached_from
    assert rerun.steps["features"].cached_from is None
    Path(log).unlink()

    counting.run({"log": log, "n": 40, "scale": 2.0})  # new raw data: everything downstream
    assert sorted(executions(log)) == ["features", "labels", "raw", "summarize"]


def test_upstream_output_with_the_same_content_keeps_downstream_cached(
    tracking: str, tmp_path: Path
) -> None:
    @step
    def source(log: str, k: int) -> pd.DataFrame:
        note(log, "source")
        return pd.DataFrame({"v": [k // 10] * 3})

    @step
    def consume(source: pd.DataFrame, log: str) -> int:
        note(log, "consume")
        return int(source["v"].sum())

    pipe = Pipeline("content", [source, consume])
    log = str(tmp_path / "log")
    pipe.run({"log": log, "k": 11})
    pipe.run({"log": log, "k": 12})  # a new param, but the same frame comes out
    assert executions(log) == ["source", "consume", "source"]
    pipe.run({"log": log, "k": 25})
    assert executions(log)[-2:] == ["source", "consume"]


def test_cache_can_be_turned_off_per_run_and_per_step(tracking: str, tmp_path: Path) -> None:
    log = str(tmp_path / "log")
    counting.run({"log": log})
    counting.run({"log": log}, cache=False)
    assert len(executions(log)) == 8

    @step(cache=False)
    def always(log: str) -> int:
        note(log, "always")
        return 1

    @step
    def once(always: int, log: str) -> int:
        note(log, "once")
        return always

    pipe = Pipeline("partial", [always, once])
    pipe.run({"log": log})
    second = pipe.run({"log": log})
    assert executions(log)[8:] == ["always", "once", "always"]
    assert second.steps["once"].cached_from is not None  # same output, so the key matches


def test_runs_record_nesting_params_lineage_metrics_and_artifacts(
    tracking: str, tmp_path: Path
) -> None:
    log = str(tmp_path / "log")
    result = counting.run({"log": log, "n": 12}, experiment="pipelines")
    client = Client()
    parent = client.get_run(result.run_id)
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["perennia.pipeline.name"] == "counting"
    assert parent.data.tags["perennia.pipeline.status"] == "FINISHED"
    assert client.get_experiment(parent.info.experiment_id).name == "pipelines"

    raw_id = result.steps["raw"].run_id
    features = client.get_run(result.steps["features"].run_id)
    assert features.info.parent_run_id == result.run_id
    assert features.data.params == {"log": log, "scale": "1.0"}
    assert features.data.tags["perennia.input.raw.from"] == raw_id
    assert features.data.tags["perennia.input.raw.hash"] == result.refs["raw"].meta.hash
    assert "perennia.step.cache_key" in features.data.tags
    summary = client.get_run(result.steps["summarize"].run_id)
    assert summary.data.metrics == {
        "rows": 12.0,
        "positives": result.outputs["summary"]["positives"],
    }
    paths = {f.path for f in client.list_artifacts(raw_id, "outputs")}
    assert paths == {"outputs/raw.parquet"}

    cached = counting.run({"log": log, "n": 12}, experiment="pipelines")
    again = client.get_run(cached.steps["features"].run_id)
    assert again.data.tags["perennia.step.cached_from"] == features.info.run_id
    assert again.data.tags["perennia.input.raw.from"] == raw_id  # lineage to the stored bytes


def test_cache_does_not_cross_experiments(tracking: str, tmp_path: Path) -> None:
    log = str(tmp_path / "log")
    counting.run({"log": log}, experiment="a")
    counting.run({"log": log}, experiment="b")
    assert len(executions(log)) == 8


def test_retries_succeed_after_two_failures_and_record_the_attempts(
    tracking: str, tmp_path: Path
) -> None:
    log = str(tmp_path / "log")
    result = flaky_pipeline(retries=2).run({"log": log})
    assert result.status == "FINISHED"
    assert result.outputs["calls"] == 3
    assert result.steps["flaky"].attempts == 3
    tags = Client().get_run(result.steps["flaky"].run_id).data.tags
    assert tags["perennia.step.attempts"] == "3"
    assert "flaky failure number 1" in tags["perennia.step.attempt.1.error"]
    assert "flaky failure number 2" in tags["perennia.step.attempt.2.error"]


def test_one_retry_is_not_enough_for_two_failures(tracking: str, tmp_path: Path) -> None:
    log = str(tmp_path / "log")
    result = flaky_pipeline(retries=1).run({"log": log})
    assert result.status == "FAILED"
    assert executions(log) == ["flaky", "flaky"]
    flaky = result.steps["flaky"]
    assert flaky.status == "FAILED" and flaky.attempts == 2
    assert flaky.error.startswith("ConnectionError: flaky failure number 2")
    run = Client().get_run(flaky.run_id)
    assert run.info.status == "FAILED"
    assert "ConnectionError: flaky failure number 2" in run.data.tags["perennia.step.error"]
    assert "flaky_function" in run.data.tags["perennia.step.error"]  # the traceback's tail
    assert result.error.startswith("step 'flaky' failed: ConnectionError")


def test_resume_reruns_only_the_failed_step_and_its_dependents(
    tracking: str, tmp_path: Path
) -> None:
    log, flag = str(tmp_path / "log"), tmp_path / "flag"
    flag.write_text("raise")
    first = resumable.run({"log": log, "flag": str(flag)})
    assert first.status == "FAILED"
    assert first.steps["fragile"].status == "FAILED"
    assert first.steps["after"].status == "SKIPPED"
    assert "fragile step failed on purpose" in first.error
    assert executions(log) == ["raw", "features", "fragile"]

    flag.unlink()
    resumed = resumable.run(resume=first.run_id, cache=False)  # params come from the first run
    assert resumed.status == "FINISHED"
    assert executions(log)[3:] == ["fragile", "after"]
    assert resumed.steps["raw"].cached_from == first.steps["raw"].run_id
    assert resumed.steps["features"].cached_from == first.steps["features"].run_id
    assert resumed.outputs["after"] == 60
    tags = Client().get_run(resumed.run_id).data.tags
    assert tags["perennia.pipeline.resumed_from"] == first.run_id


def test_local_timeout_fails_the_step_and_skips_downstream(tracking: str, tmp_path: Path) -> None:
    log = str(tmp_path / "log")
    result = slow.run({"log": log, "seconds": 3.0})
    assert result.status == "FAILED"
    assert result.steps["sleepy"].error.startswith("TimeoutError: step 'sleepy' did not finish")
    assert result.steps["after_sleepy"].status == "SKIPPED"
    assert "after_sleepy" not in executions(log)


def test_cancel_from_another_thread_stops_before_the_next_step(
    tracking: str, tmp_path: Path
) -> None:
    log, flag = str(tmp_path / "log"), tmp_path / "go"

    def cancel_then_release(run_id: str) -> None:
        def act() -> None:
            # Cancel while `gate` runs: a cancel seen before the first step runs nothing at all.
            deadline = time.monotonic() + 60
            while "gate" not in executions(log) and time.monotonic() < deadline:
                time.sleep(0.01)
            cancel(run_id)
            flag.touch()

        threading.Thread(target=act).start()

    result = gated.run({"log": log, "flag": str(flag)}, on_start=cancel_then_release)
    assert result.status == "CANCELLED"
    assert executions(log) == ["gate"]
    assert result.steps["gate"].status == "FINISHED"
    assert result.steps["second"].status == "CANCELLED"
    assert result.steps["third"].status == "CANCELLED"
    parent = Client().get_run(result.run_id)
    assert parent.info.status == "KILLED"
    assert parent.data.tags["perennia.pipeline.status"] == "CANCELLED"
    with pytest.raises(Conflict, match="already ended"):
        cancel(result.run_id)

    stored = get_run(result.run_id)
    assert stored.status == "CANCELLED"
    assert {n: s.status for n, s in stored.steps.items()} == {
        "gate": "FINISHED",
        "second": "CANCELLED",
        "third": "CANCELLED",
    }
