"""Acceptance: SIGKILL keeps every flushed point, and the dead run turns KILLED; a live one does not.

The child is a real interpreter running a script file with the fluent API. Heartbeats are
shortened through the environment (a stamp every 0.2 s, dead after 1.5 s of silence). Reads through
`perennia.Client` reap stale runs, and so does the `perennia gc` command.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import perennia
from perennia.clock import now_ms
from perennia.store import open_store
from tests.tracking.helpers import child_env, eventually, spawn

FLUSHED = 2_000
INTERVAL, TIMEOUT = "0.2", "1.5"

_CHILD = """
import pathlib, sys, time, perennia
mode, flushed = sys.argv[1], int(sys.argv[2])
perennia.set_experiment("crash")
with perennia.start_run(run_name="done-before") as finished:
    perennia.log_metric("x", 1.0)
run = perennia.start_run(run_name="victim")
perennia.log_param("lr", "0.1")
perennia.set_tag("phase", "flushed")
for step in range(flushed):
    perennia.log_metric("loss", 1.0 / (step + 1), step=step, timestamp=10_000 + step)
perennia.flush()
print("flushed", run.run_id, finished.run_id, flush=True)
step = flushed
if mode == "keep-logging":
    while True:  # never flushed explicitly: the parent kills us somewhere in here
        perennia.log_metric("loss", 1.0 / (step + 1), step=step, timestamp=10_000 + step)
        perennia.log_metric("unflushed", float(step), step=step)
        step += 1
stop = pathlib.Path(sys.argv[3])
while not stop.exists():  # alive and heartbeating, well past the timeout
    perennia.log_metric("loss", 1.0 / (step + 1), step=step, timestamp=10_000 + step)
    step += 1
    time.sleep(0.01)
perennia.end_run()
"""


@pytest.fixture
def short_heartbeats(tracking: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Return the tracking URI, with this process's readers using the shortened heartbeat too."""
    monkeypatch.setenv("PERENNIA_HEARTBEAT_INTERVAL", INTERVAL)
    monkeypatch.setenv("PERENNIA_HEARTBEAT_TIMEOUT", TIMEOUT)
    return tracking


def _env(home: Path, uri: str) -> dict[str, str]:
    """Return the child's environment: shortened heartbeats, default writer settings."""
    return child_env(home, uri, heartbeat_interval=INTERVAL, heartbeat_timeout=TIMEOUT)


def _start(tmp_path: Path, uri: str, mode: str) -> tuple[subprocess.Popen, str, str]:
    """Start the child; return it with its victim run id and its already finished run id."""
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    child = spawn(script, mode, FLUSHED, tmp_path / "stop", env=_env(tmp_path, uri))
    line = child.stdout.readline().split()
    if not line or line[0] != "flushed":
        child.kill()
        pytest.fail(f"child did not flush: {child.communicate(timeout=10)[1][-3000:]}")
    return child, line[1], line[2]


def _kill(child: subprocess.Popen) -> None:
    """SIGKILL the child after it has logged a little past its flush, and reap it."""
    time.sleep(0.2)  # let it queue unflushed points; nothing is asserted about this delay
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL


def _wait_past_timeout(store, run_id: str) -> None:
    """Sleep until the run's last stored heartbeat is older than the timeout."""
    last = store.runs.get(run_id).info.heartbeat_time
    remaining = (last + float(TIMEOUT) * 1000 - now_ms()) / 1000
    time.sleep(max(0.0, remaining) + 0.3)


def _gc(uri: str, home: Path) -> str:
    """Run `perennia gc` in its own interpreter and return its stdout."""
    done = subprocess.run(
        [sys.executable, "-m", "perennia.cli.main", "gc", "--yes"],
        env=_env(home, uri),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _check_flushed_data_survived(store, run_id: str) -> None:
    """Assert every point flushed before the kill is stored exactly, and later ones form no holes."""
    history = store.metrics.history(run_id, "loss")
    steps = [m.step for m in history]
    assert len(steps) >= FLUSHED
    # Whatever the background writer managed after the flush continues the sequence gap-free.
    assert steps == list(range(len(steps)))
    assert [(m.value, m.timestamp) for m in history] == [(1.0 / (s + 1), 10_000 + s) for s in steps]
    run = store.runs.get(run_id)
    assert run.data.params == {"lr": "0.1"} and run.data.tags["phase"] == "flushed"


def test_sigkill_keeps_flushed_points_and_readers_see_the_run_killed(
    short_heartbeats: str, tmp_path: Path
) -> None:
    child, run_id, finished_id = _start(tmp_path, short_heartbeats, "keep-logging")
    _kill(child)

    store = open_store(short_heartbeats)
    try:
        _check_flushed_data_survived(store, run_id)
        started = store.runs.get(run_id).info.start_time
        client = perennia.Client()
        assert eventually(lambda: client.get_run(run_id).info.status == "KILLED", timeout=20)
        info = store.runs.get(run_id).info
        # The last heartbeat is the last moment the run was known alive.
        assert info.status == "KILLED" and started <= info.end_time <= now_ms()
        killed = client.search_runs([info.experiment_id], "attributes.status = 'KILLED'").items
        assert [r.info.run_id for r in killed] == [run_id]
        frame = perennia.search_runs(experiment_names=["crash"])
        assert dict(zip(frame["run_id"], frame["status"], strict=True)) == {
            run_id: "KILLED",
            finished_id: "FINISHED",  # a run that ended cleanly is never reaped
        }
        _check_flushed_data_survived(store, run_id)  # reaping touched no data
    finally:
        store.close()


def test_perennia_gc_marks_the_dead_run_killed(sql_store_uri: str, tmp_path: Path) -> None:
    child, run_id, finished_id = _start(tmp_path, sql_store_uri, "keep-logging")
    _kill(child)

    store = open_store(sql_store_uri)
    try:
        assert store.runs.get(run_id).info.status == "RUNNING"  # the store alone does not guess
        _wait_past_timeout(store, run_id)
        assert store.runs.get(run_id).info.status == "RUNNING"
        out = _gc(sql_store_uri, tmp_path)
        assert "marked 1 stale runs KILLED" in out
        assert store.runs.get(run_id).info.status == "KILLED"
        assert store.runs.get(finished_id).info.status == "FINISHED"
        _check_flushed_data_survived(store, run_id)
        assert "marked 0 stale runs KILLED" in _gc(sql_store_uri, tmp_path)  # nothing left to reap
    finally:
        store.close()


def test_a_live_process_keeps_its_run_running_past_the_timeout(
    short_heartbeats: str, tmp_path: Path
) -> None:
    child, run_id, _ = _start(tmp_path, short_heartbeats, "live")
    try:
        store = open_store(short_heartbeats)
        start = store.runs.get(run_id).info.start_time
        # Wait until the run is older than the timeout: only its heartbeats keep it alive now.
        assert eventually(lambda: now_ms() - start > 2 * float(TIMEOUT) * 1000, timeout=10)
        assert perennia.Client().get_run(run_id).info.status == "RUNNING"
        assert "marked 0 stale runs KILLED" in _gc(short_heartbeats, tmp_path)
        assert store.runs.get(run_id).info.status == "RUNNING"
        assert store.runs.get(run_id).info.heartbeat_time > start
    finally:
        (tmp_path / "stop").touch()
    _, err = child.communicate(timeout=30)
    assert child.returncode == 0, err[-3000:]
    assert perennia.Client().get_run(run_id).info.status == "FINISHED"
    assert len(store.metrics.history(run_id, "loss")) > FLUSHED
    store.close()
