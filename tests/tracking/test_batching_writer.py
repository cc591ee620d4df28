"""The background writer: batches by size and by time, surfaces errors, and flushes at exit."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from perennia.entities import MetricBatch
from perennia.errors import Conflict, NotFound
from perennia.store import open_store
from perennia.tracking.writer import BatchingWriter


def _eventually(predicate, timeout: float = 15.0) -> bool:
    """Return True once `predicate()` holds, polling until `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def run_id(store) -> str:
    return store.runs.create(store.experiments.create("writer")).info.run_id


def _points(store, run_id: str) -> int:
    return len(store.metrics.history(run_id, "m"))


def test_a_full_batch_is_written_without_a_flush(store, run_id) -> None:
    writer = BatchingWriter(store, batch_size=100, flush_interval=3600)
    for step in range(250):
        writer.log_metric(run_id, "m", float(step), step, 1)
    assert _eventually(lambda: _points(store, run_id) >= 200)
    writer.flush()
    assert [p.step for p in store.metrics.history(run_id, "m")] == list(range(250))
    writer.close()


def test_a_partial_batch_is_written_after_the_flush_interval(store, run_id) -> None:
    writer = BatchingWriter(store, batch_size=1_000_000, flush_interval=0.05)
    for step in range(10):
        writer.log_metric(run_id, "m", 1.0, step, 1)
    assert _eventually(lambda: _points(store, run_id) == 10)
    writer.close()


def test_synchronous_mode_writes_before_the_call_returns(store, run_id) -> None:
    writer = BatchingWriter(store, synchronous=True)
    writer.log_metric(run_id, "m", 2.0, 0, 1)
    assert _points(store, run_id) == 1
    writer.log_params(run_id, {"p": "v"})
    assert store.runs.get(run_id).data.params == {"p": "v"}


def test_a_background_write_error_is_raised_at_the_next_call(store, run_id) -> None:
    healthy = store.runs.create(store.experiments.get_by_name("writer").experiment_id).info.run_id
    writer = BatchingWriter(store, batch_size=1, flush_interval=3600)
    writer.log_metric(healthy, "m", 1.0, 0, 1)
    writer.flush()
    store.runs.delete(run_id)
    writer.log_metric(run_id, "m", 1.0, 0, 1)  # written (and refused) by the background thread

    def next_call_raises() -> bool:
        try:
            writer.log_metric(healthy, "m", 2.0, 1, 1)
        except Conflict:
            return True
        return False

    assert _eventually(next_call_raises)
    writer.log_metric(healthy, "m", 3.0, 2, 1)  # reported once, then the writer carries on
    writer.flush()
    # Calls made before the error surfaced were queued normally; none of them is lost.
    values = [p.value for p in store.metrics.history(healthy, "m")]
    assert values[0] == 1.0 and values[-1] == 3.0 and set(values[1:-1]) <= {2.0}
    assert _points(store, run_id) == 0
    writer.close()


def test_flush_raises_the_error_and_keeps_earlier_points(store, run_id) -> None:
    writer = BatchingWriter(store, batch_size=1_000_000, flush_interval=3600)
    batch = MetricBatch()
    for step in range(5):
        batch.append("m", 0.5, step, 1)
    writer.log_metrics(run_id, batch)
    writer.flush()
    writer.log_params(run_id, {"lr": "0.1"})
    writer.flush()
    writer.log_params(run_id, {"lr": "0.2"})
    writer.log_metric(run_id, "m", 9.0, 5, 1)
    with pytest.raises(Conflict):
        writer.flush()
    assert [p.step for p in store.metrics.history(run_id, "m")] == list(range(6))
    assert store.runs.get(run_id).data.params == {"lr": "0.1"}
    writer.close()


def test_unknown_run_is_reported_not_swallowed(store) -> None:
    writer = BatchingWriter(store, batch_size=1_000_000, flush_interval=3600)
    writer.log_metric("f" * 32, "m", 1.0, 0, 1)
    with pytest.raises(NotFound):
        writer.flush()
    writer.flush()  # the error was reported once; nothing else is pending


_EXITS_WITHOUT_FLUSH = """
import sys, perennia
perennia.set_tracking_uri(sys.argv[1])
run = perennia.start_run()
for step in range(1234):
    perennia.log_metric("m", step * 1.0, step=step)
perennia.set_tag("done", "yes")
print(run.run_id)
"""


def test_points_logged_before_a_normal_exit_are_durable(store_uri: str, tmp_path: Path) -> None:
    env = dict(os.environ, PERENNIA_HOME=str(tmp_path), PERENNIA_WRITER_FLUSH_INTERVAL="3600")
    out = subprocess.run(
        [sys.executable, "-c", _EXITS_WITHOUT_FLUSH, store_uri],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    store = open_store(store_uri)
    run = store.runs.get(out.strip())
    assert len(store.metrics.history(run.info.run_id, "m")) == 1234
    assert run.data.tags["done"] == "yes"
    assert run.info.status == "FINISHED"
    store.close()
