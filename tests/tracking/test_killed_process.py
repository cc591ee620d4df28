"""Acceptance: a process killed with SIGKILL keeps what it flushed, and its run turns KILLED.

The child is a real interpreter using the fluent API; heartbeats are shortened through the
environment (stamp every 0.2 s, dead after 1.5 s of silence) so the test stays short.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import perennia
from perennia.cli.main import main as cli_main
from perennia.store import open_store

FLUSHED = 3_000
HEARTBEAT = {"PERENNIA_HEARTBEAT_INTERVAL": "0.2", "PERENNIA_HEARTBEAT_TIMEOUT": "1.5"}

_CHILD = """
import sys, time, perennia
perennia.set_tracking_uri(sys.argv[1])
flushed, mode = int(sys.argv[2]), sys.argv[3]
run = perennia.start_run(run_name="victim")
for step in range(flushed):
    perennia.log_metric("loss", 1.0 / (step + 1), step=step)
perennia.flush()
print(run.run_id, flush=True)
step = flushed
if mode == "keep-logging":
    while True:  # never flushed explicitly; the parent kills us somewhere in here
        perennia.log_metric("loss", 1.0 / (step + 1), step=step)
        step += 1
else:
    time.sleep(float(mode))
    perennia.end_run()
"""


def _start_child(uri: str, home: Path, mode: str) -> tuple[subprocess.Popen, str]:
    """Return the child process and the id of the run it started and flushed."""
    env = dict(os.environ, PERENNIA_HOME=str(home), PERENNIA_ARTIFACTS_URI=str(home / "art"))
    env.update(HEARTBEAT)
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, uri, str(FLUSHED), mode],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    run_id = child.stdout.readline().strip()
    assert len(run_id) == 32, child.stderr.read()
    return child, run_id


def _status_through_client(run_id: str) -> str:
    return perennia.Client().get_run(run_id).info.status


def _wait_for(predicate, timeout: float = 20.0) -> bool:
    """Return True once `predicate()` holds, polling until `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def short_heartbeats(tracking: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Return the tracking URI, with this process's readers using the shortened heartbeat."""
    for name, value in HEARTBEAT.items():
        monkeypatch.setenv(name, value)
    return tracking


@pytest.mark.xdist_group("heavy")
def test_sigkill_keeps_every_flushed_point_and_the_run_turns_killed(
    short_heartbeats: str, tmp_path: Path
) -> None:
    child, run_id = _start_child(short_heartbeats, tmp_path, "keep-logging")
    time.sleep(0.3)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL

    store = open_store(short_heartbeats)
    history = store.metrics.history(run_id, "loss")
    steps = [m.step for m in history]
    # Everything up to the flush is there; whatever the background writer managed after it is
    # a gap-free continuation, never a duplicate or a hole.
    assert steps == list(range(len(steps))) and len(steps) >= FLUSHED
    assert [m.value for m in history] == [1.0 / (s + 1) for s in steps]
    assert store.runs.get(run_id).info.status == "RUNNING"  # the store alone does not guess

    assert _wait_for(lambda: _status_through_client(run_id) == "KILLED")
    info = store.runs.get(run_id).info
    assert info.end_time is not None and info.end_time <= int(time.time() * 1000)
    assert len(store.metrics.history(run_id, "loss")) == len(steps)
    store.close()


@pytest.mark.xdist_group("heavy")
def test_perennia_gc_marks_the_dead_run_killed(short_heartbeats: str, tmp_path: Path) -> None:
    child, run_id = _start_child(short_heartbeats, tmp_path, "keep-logging")
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    time.sleep(2.0)  # past the 1.5 s heartbeat timeout

    assert cli_main(["gc"]) == 0

    store = open_store(short_heartbeats)
    assert store.runs.get(run_id).info.status == "KILLED"
    assert len(store.metrics.history(run_id, "loss")) >= FLUSHED
    store.close()


@pytest.mark.xdist_group("heavy")
def test_a_live_process_keeps_its_run_running_past_the_timeout(
    short_heartbeats: str, tmp_path: Path
) -> None:
    child, run_id = _start_child(short_heartbeats, tmp_path, "4")
    time.sleep(2.5)  # longer than the timeout, but the child keeps stamping its heartbeat

    assert _status_through_client(run_id) == "RUNNING"
    child.wait(timeout=30)
    assert child.returncode == 0, child.stderr.read()
    assert _status_through_client(run_id) == "FINISHED"
