"""`BatchingWriter` against real stores: size and time batches, flush, error surfacing, exit flush.

No timing is asserted: background writes are awaited by polling the store with a bounded wait.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import perennia
from perennia.config import Settings
from perennia.entities import MetricBatch, Param
from perennia.errors import Conflict, InvalidInput, NotFound
from perennia.store import open_store
from perennia.tracking.writer import BatchingWriter
from tests.tracking.helpers import child_env, eventually

HOUR = 3600.0


@pytest.fixture
def make_writer(store):
    """Return a factory of writers on the test's store; all are closed afterwards."""
    writers: list[BatchingWriter] = []

    def make(**options) -> BatchingWriter:
        writer = BatchingWriter(store, **options)
        writers.append(writer)
        return writer

    yield make
    for writer in writers:
        with contextlib.suppress(Exception):  # some tests leave an error queued on purpose
            writer.close()


@pytest.fixture
def new_run(store):
    """Return a factory of fresh RUNNING run ids in one experiment."""
    experiment_id = store.experiments.create("writer-tests")
    return lambda: store.runs.create(experiment_id).info.run_id


def _steps(store, run_id: str, key: str = "m") -> list[int]:
    """Return the stored steps of a metric, in history order."""
    return [m.step for m in store.metrics.history(run_id, key)]


# -- batching -------------------------------------------------------------------------------------


def test_full_batches_are_written_by_size_without_a_flush(store, make_writer, new_run) -> None:
    run_id = new_run()
    writer = make_writer(batch_size=50, flush_interval=HOUR)
    for step in range(200):
        writer.log_metric(run_id, "m", step / 3, step, 1)
    # Whatever is left queued is less than one batch; everything before it must reach the store.
    assert eventually(lambda: len(_steps(store, run_id)) > 200 - 50)
    written = _steps(store, run_id)
    assert written == list(range(len(written)))  # a prefix, in order, no duplicates
    writer.flush()
    assert [m.value for m in store.metrics.history(run_id, "m")] == [s / 3 for s in range(200)]


def test_a_partial_batch_is_written_when_the_interval_passes(store, make_writer, new_run) -> None:
    run_id = new_run()
    writer = make_writer(batch_size=1_000_000, flush_interval=0.05)
    for step in range(7):
        writer.log_metric(run_id, "m", 1.0, step, 1)
    writer.log_params(run_id, {"lr": "0.1"})
    writer.set_tags(run_id, {"stage": "dev"})

    def all_written() -> bool:
        run = store.runs.get(run_id)
        return (
            len(_steps(store, run_id)) == 7
            and run.data.params == {"lr": "0.1"}
            and (run.data.tags.get("stage") == "dev")
        )

    assert eventually(all_written)


def test_flush_writes_everything_and_flush_of_one_run_only_that_run(
    store, make_writer, new_run
) -> None:
    first, second = new_run(), new_run()
    writer = make_writer(batch_size=1_000_000, flush_interval=HOUR)
    batch = MetricBatch()
    for step in range(300):
        batch.append("m", float(step), step, 10 + step)
    writer.log_metrics(first, batch)
    writer.log_metric(second, "m", 5.0, 0, 1)
    # Nothing is due yet: a full hour to go and the batch far from full.
    assert _steps(store, first) == [] and _steps(store, second) == []
    writer.flush(first)
    assert store.metrics.history(first, "m") == batch.to_metrics()
    assert _steps(store, second) == []
    writer.flush()
    assert _steps(store, second) == [0]


def test_many_threads_sharing_one_writer_lose_no_point(store, make_writer, new_run) -> None:
    run_id = new_run()
    writer = make_writer(batch_size=250, flush_interval=0.05)

    def log(thread: int) -> None:
        for i in range(1_500):
            writer.log_metric(run_id, f"t{thread}", thread + i / 10, i, 1)

    threads = [threading.Thread(target=log, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.flush()
    for t in range(4):
        assert [m.value for m in store.metrics.history(run_id, f"t{t}")] == [
            t + i / 10 for i in range(1_500)
        ]


# -- errors ---------------------------------------------------------------------------------------


def test_a_param_conflict_at_flush_is_raised_once_and_valid_writes_are_kept(
    store, make_writer, new_run
) -> None:
    run_id = new_run()
    store.log_batch(run_id, params=[Param("lr", "0.1")])  # logged by "another process"
    writer = make_writer(batch_size=1_000_000, flush_interval=HOUR)
    writer.log_params(run_id, {"depth": "3"})
    writer.log_metric(run_id, "m", 1.0, 0, 1)
    writer.log_params(run_id, {"lr": "0.2", "width": "8"})
    writer.set_tags(run_id, {"stage": "dev"})
    with pytest.raises(Conflict, match="'0.1'.*'0.2'"):
        writer.flush()
    writer.flush()  # reported once: the writer carries on
    stored = store.runs.get(run_id)
    assert stored.data.params == {"lr": "0.1", "depth": "3", "width": "8"}
    assert stored.data.metrics == {"m": 1.0} and stored.data.tags["stage"] == "dev"


def test_a_background_error_surfaces_at_the_next_call_and_returned_calls_are_stored(
    store, make_writer, new_run
) -> None:
    run_id = new_run()
    store.log_batch(run_id, params=[Param("lr", "0.1")])
    writer = make_writer(batch_size=1_000_000, flush_interval=0.02)
    writer.log_params(run_id, {"lr": "0.2"})  # refused later, by the background thread
    accepted: list[int] = []

    def next_call_raises() -> bool:
        step = len(accepted) + 1_000
        try:
            writer.log_metric(run_id, "m", float(step), step, 1)
        except Conflict:
            return True
        accepted.append(step)
        return False

    assert eventually(next_call_raises)
    writer.log_metric(run_id, "m", -1.0, 10**6, 1)
    accepted.append(10**6)
    writer.flush()
    # The oracle: every call that returned normally is stored, and nothing else.
    assert _steps(store, run_id) == accepted
    assert store.runs.get(run_id).data.params == {"lr": "0.1"}


def test_a_run_deleted_behind_the_writers_back_is_reported_and_other_runs_keep_their_points(
    store, make_writer, new_run
) -> None:
    doomed, healthy = new_run(), new_run()
    writer = make_writer(batch_size=1_000_000, flush_interval=HOUR)
    writer.log_metric(doomed, "m", 1.0, 0, 1)
    writer.flush()
    store.runs.delete(doomed)
    writer.log_metric(doomed, "m", 2.0, 1, 1)
    for step in range(20):
        writer.log_metric(healthy, "m", float(step), step, 1)
    with pytest.raises(Conflict, match="deleted"):
        writer.flush()
    assert _steps(store, healthy) == list(range(20))
    assert _steps(store, doomed) == [0]
    store.runs.restore(doomed)
    writer.log_metric(doomed, "m", 3.0, 2, 1)
    writer.flush()
    assert [m.value for m in store.metrics.history(doomed, "m")] == [1.0, 3.0]


def test_an_unknown_run_is_reported_as_not_found(store, make_writer, new_run) -> None:
    healthy = new_run()
    writer = make_writer(batch_size=1_000_000, flush_interval=HOUR)
    writer.log_metric("0" * 32, "m", 1.0, 0, 1)
    writer.log_metric(healthy, "m", 1.0, 0, 1)
    with pytest.raises(NotFound):
        writer.flush()
    assert _steps(store, healthy) == [0]


# -- synchronous mode -----------------------------------------------------------------------------


def test_synchronous_writer_stores_before_returning_and_raises_at_the_call(
    store, make_writer, new_run
) -> None:
    run_id = new_run()
    writer = make_writer(synchronous=True, flush_interval=HOUR)
    writer.log_metric(run_id, "m", 2.5, 0, 1)
    assert [m.value for m in store.metrics.history(run_id, "m")] == [2.5]
    writer.log_params(run_id, {"lr": "0.1"})
    assert store.runs.get(run_id).data.params == {"lr": "0.1"}
    store.log_batch(run_id, params=[Param("depth", "3")])
    with pytest.raises(Conflict):
        writer.log_params(run_id, {"depth": "4"})
    assert store.runs.get(run_id).data.params == {"lr": "0.1", "depth": "3"}


def test_synchronous_logging_from_the_environment_reaches_the_fluent_api(
    tracking: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERENNIA_SYNCHRONOUS_LOGGING", "true")
    monkeypatch.setenv("PERENNIA_WRITER_FLUSH_INTERVAL", "3600")
    perennia.set_tracking_uri(tracking)
    other = open_store(tracking)
    try:
        with perennia.start_run() as run:
            perennia.log_metric("m", 4.0, step=3)
            perennia.set_tag("t", "v")
            assert [(m.step, m.value) for m in other.metrics.history(run.run_id, "m")] == [(3, 4.0)]
            assert other.runs.get(run.run_id).data.tags["t"] == "v"
    finally:
        other.close()


def test_writer_settings_come_from_the_environment_and_bad_values_are_refused() -> None:
    settings = Settings.from_env(
        {
            "PERENNIA_WRITER_BATCH_SIZE": "123",
            "PERENNIA_WRITER_FLUSH_INTERVAL": "0.5",
            "PERENNIA_SYNCHRONOUS_LOGGING": "yes",
        }
    )
    assert (settings.writer_batch_size, settings.writer_flush_interval, settings.synchronous) == (
        123,
        0.5,
        True,
    )
    for name, value in (
        ("WRITER_BATCH_SIZE", "0"),
        ("WRITER_BATCH_SIZE", "ten"),
        ("WRITER_FLUSH_INTERVAL", "-1"),
        ("SYNCHRONOUS_LOGGING", "maybe"),
    ):
        with pytest.raises(InvalidInput, match=f"PERENNIA_{name}"):
            Settings.from_env({f"PERENNIA_{name}": value})


def test_env_batch_size_drives_the_fluent_writer(tracking: str, monkeypatch) -> None:
    monkeypatch.setenv("PERENNIA_WRITER_BATCH_SIZE", "100")
    monkeypatch.setenv("PERENNIA_WRITER_FLUSH_INTERVAL", "3600")
    perennia.set_tracking_uri(tracking)
    other = open_store(tracking)
    try:
        run = perennia.start_run()
        for step in range(400):
            perennia.log_metric("m", float(step), step=step)
        # Only the batch size can write these before the hour-long interval.
        assert eventually(lambda: len(other.metrics.history(run.run_id, "m")) > 400 - 100)
        perennia.end_run()
        assert len(other.metrics.history(run.run_id, "m")) == 400
    finally:
        other.close()


# -- interpreter exit -----------------------------------------------------------------------------

_EXIT_CHILD = """
import sys, perennia
with_error = sys.argv[1] == "raise"
run = perennia.start_run()
print(run.run_id, flush=True)
for step in range(2_500):
    perennia.log_metric("m", step * 0.25, step=step)
perennia.log_param("p", "v")
perennia.set_tag("t", "w")
if with_error:
    raise RuntimeError("crashed on purpose")
"""


@pytest.mark.parametrize(("mode", "status"), [("normal", "FINISHED"), ("raise", "FAILED")])
def test_points_queued_before_the_interpreter_exits_are_durable(
    sql_store_uri: str, tmp_path: Path, mode: str, status: str
) -> None:
    env = child_env(
        tmp_path, sql_store_uri, writer_flush_interval="3600", writer_batch_size="1000000"
    )
    done = subprocess.run(
        [sys.executable, "-c", _EXIT_CHILD, mode],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == (0 if mode == "normal" else 1), done.stderr[-2000:]
    run_id = done.stdout.split()[0]
    store = open_store(sql_store_uri)
    try:
        run = store.runs.get(run_id)
        assert [m.value for m in store.metrics.history(run_id, "m")] == [
            s * 0.25 for s in range(2_500)
        ]
        assert run.data.params == {"p": "v"} and run.data.tags["t"] == "w"
        assert run.info.status == status
        if mode == "raise":
            assert "crashed on purpose" in run.info.error
    finally:
        store.close()
