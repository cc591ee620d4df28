"""The remote SDK during an outage: retries to a deadline, the writer keeps data queued, a bound.

Everything runs against real things: the real server app on a loopback port that is stopped and
started again on the same port, a fault gate in front of it answering 503 the way a server with
a dropped database does, and a private PostgreSQL cluster that is stopped under a SQL store.
No timing is asserted; retry windows are kept small so the tests are quick.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from perennia.config import Settings
from perennia.entities import MetricBatch, Param
from perennia.errors import Conflict, StoreUnavailable
from perennia.store import open_store
from perennia.store.rest.http import HttpSession
from perennia.store.rest.store import RestStore
from perennia.tracking.writer import BatchingWriter
from tests.conftest import IN_CI
from tests.ports import free_port
from tests.private_postgres import postgres_bin, private_postgres
from tests.tracking.helpers import eventually

HOUR = 3600.0


class Server:
    """An ASGI app on a fixed loopback port that a test can stop and start again."""

    def __init__(self, app) -> None:
        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = None
        self.thread: threading.Thread | None = None

    def start(self) -> Server:
        """Serve on the port and return once it accepts connections."""
        import uvicorn

        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="error", lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="outage-server", daemon=True)
        self.thread.start()
        assert eventually(lambda: self.server.started or not self.thread.is_alive())
        assert self.server.started, f"server on port {self.port} did not start"
        return self

    def stop(self) -> None:
        """Stop serving: from now on connections to the port are refused."""
        self.server.should_exit = True
        self.thread.join(timeout=20)


class FaultGate:
    """An ASGI layer in front of the real app: `refuse(method, path, body)` picks 503 answers.

    The 503 carries the body a server with an unreachable database sends. With `lose_reply`,
    a picked request reaches the app (and is stored) but its answer is replaced by the 503,
    as when a reply is lost on the way back.
    """

    def __init__(self, app) -> None:
        self.app = app
        self.refuse: Callable[[str, str, bytes], bool] = lambda method, path, body: False
        self.lose_reply = False
        self.error_class = "StoreUnavailable"
        self.refused = 0

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks, more = [], True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay():
            nonlocal replayed
            if replayed:
                return {"type": "http.disconnect"}
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        if not self.refuse(scope["method"], scope["path"], body):
            await self.app(scope, replay, send)
            return
        self.refused += 1
        if self.lose_reply:

            async def drop(message) -> None:
                return None

            await self.app(scope, replay, drop)
        payload = json.dumps(
            {
                "error_code": "TEMPORARILY_UNAVAILABLE",
                "error_class": self.error_class,
                "message": "the database is unavailable",
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


@pytest.fixture
def served(sqlite_uri: str, tmp_path: Path) -> Iterator[tuple[Server, FaultGate, object]]:
    """Yield (server, its fault gate, the SQL store behind it): the real app over SQLite."""
    from perennia.server.app import create_app

    backing = open_store(sqlite_uri)
    settings = Settings.from_env().with_overrides(
        tracking_uri=sqlite_uri, artifacts_uri=str(tmp_path / "server-artifacts")
    )
    gate = FaultGate(create_app(backing, settings))
    server = Server(gate).start()
    try:
        yield server, gate, backing
    finally:
        with contextlib.suppress(Exception):
            server.stop()
        backing.close()


@pytest.fixture
def remote(served) -> Iterator[Callable[..., RestStore]]:
    """Return a factory of REST stores on the served app (retry window in seconds); all closed."""
    stores: list[RestStore] = []

    def make(retry_seconds: float) -> RestStore:
        store = RestStore(served[0].url, retry_seconds=retry_seconds)
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()


@pytest.fixture
def writers() -> Iterator[Callable[..., BatchingWriter]]:
    """Return a factory of writers; all are closed afterwards, errors left queued ignored."""
    made: list[BatchingWriter] = []

    def make(store, **options) -> BatchingWriter:
        writer = BatchingWriter(store, **options)
        made.append(writer)
        return writer

    yield make
    for writer in made:
        with contextlib.suppress(Exception):
            writer.close()


def _new_run(backing) -> str:
    experiment_id = backing.experiments.create(f"outage-{time.monotonic_ns()}")
    return backing.runs.create(experiment_id).info.run_id


def _points(backing, run_id: str, key: str = "m") -> list[tuple[int, float]]:
    """Return the stored (step, value) points of a metric, in history order."""
    return [(m.step, m.value) for m in backing.metrics.history(run_id, key)]


def _log(writer: BatchingWriter, run_id: str, steps: range) -> None:
    for step in steps:
        writer.log_metric(run_id, "m", step / 4, step, 1)


def _expected(steps: range) -> list[tuple[int, float]]:
    return [(step, step / 4) for step in steps]


def _logged(caplog: pytest.LogCaptureFixture, logger: str, text: str) -> int:
    """Return how many records of `logger` so far contain `text` (threads' records included)."""
    return sum(1 for r in list(caplog.records) if r.name == logger and text in r.getMessage())


_HTTP = "perennia.store.rest.http"
_WRITER = "perennia.tracking.writer"


# -- the HTTP session ---------------------------------------------------------------------------


def test_a_write_sent_while_the_server_is_down_arrives_once_when_it_returns(served, remote) -> None:
    server, _gate, backing = served
    run_id = _new_run(backing)
    store = remote(retry_seconds=60)
    server.stop()
    outcome: list[object] = []
    batch = MetricBatch(["m"] * 3, [0.0, 0.25, 0.5], [0, 1, 2], [1, 1, 1])
    call = threading.Thread(
        target=lambda: outcome.append(store.log_batch(run_id, batch)), daemon=True
    )
    call.start()
    # Longer than the fixed five retries of old, which gave up after about three seconds.
    call.join(timeout=5.0)
    assert call.is_alive()  # still retrying: a refused connection is not the end of the call
    server.start()  # the same port
    call.join(timeout=60)
    assert outcome == [None]
    assert _points(backing, run_id) == _expected(range(3))


def test_retries_stop_at_the_deadline_with_store_unavailable_naming_the_setting(
    served, remote
) -> None:
    server, _gate, _backing = served
    store = remote(retry_seconds=0.5)
    server.stop()
    with pytest.raises(StoreUnavailable, match="cannot reach.*PERENNIA_HTTP_RETRY_SECONDS"):
        store.experiments.get("0")


def test_a_503_is_retried_to_the_deadline_and_is_store_unavailable_whatever_class_it_names(
    served,
) -> None:
    server, gate, _backing = served
    # The server answers 503 naming Conflict while another attempt of the same write runs.
    gate.error_class = "Conflict"
    gate.refuse = lambda method, path, body: True
    session = HttpSession(server.url, retry_seconds=0.5, backoff=0.01)
    try:
        with pytest.raises(StoreUnavailable, match="gave up after"):
            session.request("GET", "/api/v1/experiments/0")
        assert gate.refused > 1
    finally:
        session.close()


def test_a_batch_whose_reply_is_lost_is_retried_and_stored_once(served, remote) -> None:
    _server, gate, backing = served
    run_id = _new_run(backing)
    store = remote(retry_seconds=30)
    gate.lose_reply = True
    # Only the first attempt: it reaches the store, but its answer never comes back.
    gate.refuse = lambda method, path, body: path.endswith("/batch") and gate.refused == 0
    batch = MetricBatch(["m"] * 2, [0.0, 0.25], [0, 1], [1, 1])
    store.log_batch(run_id, batch)
    assert gate.refused == 1
    assert _points(backing, run_id) == _expected(range(2))


# -- the writer -----------------------------------------------------------------------------------


def test_flush_during_an_outage_raises_store_unavailable_and_keeps_everything_queued(
    served, remote, writers
) -> None:
    server, _gate, backing = served
    run_id = _new_run(backing)
    writer = writers(remote(retry_seconds=0.5), batch_size=1_000_000, flush_interval=HOUR)
    _log(writer, run_id, range(0, 50))
    writer.flush()
    server.stop()
    _log(writer, run_id, range(50, 120))
    writer.log_params(run_id, {"lr": "0.1"})
    writer.set_tags(run_id, {"stage": "outage"})
    with pytest.raises(StoreUnavailable, match="stay queued"):
        writer.flush()
    _log(writer, run_id, range(120, 150))  # the writer still takes calls
    with pytest.raises(StoreUnavailable, match="stay queued"):
        writer.flush(run_id)
    server.start()
    writer.flush()
    assert _points(backing, run_id) == _expected(range(150))
    stored = backing.runs.get(run_id)
    assert stored.data.params == {"lr": "0.1"} and stored.data.tags["stage"] == "outage"


def test_the_background_thread_rides_out_an_outage_without_failing_logging_calls(
    served, remote, writers, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("WARNING", logger=_WRITER)
    server, _gate, backing = served
    run_id = _new_run(backing)
    # The retry window is shorter than the outage: the thread's writes fail, and are requeued.
    writer = writers(remote(retry_seconds=0.3), batch_size=20, flush_interval=0.05)
    server.stop()
    step = 0
    deadline = time.monotonic() + 60
    while _logged(caplog, _WRITER, "will be retried") < 2 or step < 300:
        assert time.monotonic() < deadline, "the writer thread never reported a failed write"
        writer.log_metric(run_id, "m", step / 4, step, 1)  # never raises: nothing is refused
        step += 1
        time.sleep(0.002)
    server.start()
    _log(writer, run_id, range(step, step + 100))
    writer.flush()
    assert _points(backing, run_id) == _expected(range(step + 100))


def test_a_full_queue_refuses_calls_with_a_clear_error_and_keeps_what_it_holds(
    served, remote, writers
) -> None:
    server, _gate, backing = served
    run_id = _new_run(backing)
    writer = writers(
        remote(retry_seconds=0.3), batch_size=1_000_000, flush_interval=HOUR, max_queued=100
    )
    server.stop()
    _log(writer, run_id, range(0, 90))
    with pytest.raises(StoreUnavailable):
        writer.flush()  # the store is now known to be unreachable
    writer.log_params(run_id, {"lr": "0.1"})
    writer.set_tags(run_id, {"a": "1"})
    _log(writer, run_id, range(90, 98))  # 90 + 1 + 1 + 8: the queue is full
    with pytest.raises(StoreUnavailable) as refused:
        _log(writer, run_id, range(98, 100))
    message = str(refused.value)
    assert "\n" not in message
    assert "PERENNIA_WRITER_MAX_QUEUED=100" in message and "unreachable" in message
    with pytest.raises(StoreUnavailable, match="PERENNIA_WRITER_MAX_QUEUED"):
        writer.log_metrics(run_id, MetricBatch(["m"], [0.0], [10**6], [1]))
    with pytest.raises(StoreUnavailable, match="PERENNIA_WRITER_MAX_QUEUED"):
        writer.log_params(run_id, {"depth": "3"})
    with pytest.raises(StoreUnavailable, match="PERENNIA_WRITER_MAX_QUEUED"):
        writer.set_tags(run_id, {"b": "2"})
    writer.set_tags(run_id, {"a": "2"})  # overwrites a queued tag: it takes no more room
    server.start()
    writer.flush()
    assert _points(backing, run_id) == _expected(range(98))
    stored = backing.runs.get(run_id)
    assert stored.data.params == {"lr": "0.1"} and stored.data.tags["a"] == "2"
    _log(writer, run_id, range(98, 190))  # room again once written
    writer.flush()
    assert _points(backing, run_id) == _expected(range(190))


def test_a_batch_in_flight_counts_against_the_bound(
    served, remote, writers, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("WARNING", logger=_HTTP)
    server, _gate, backing = served
    run_id = _new_run(backing)
    writer = writers(remote(retry_seconds=60), batch_size=60, flush_interval=HOUR, max_queued=100)
    server.stop()
    _log(writer, run_id, range(60))  # the 60th point wakes the thread, which retries them
    assert eventually(lambda: _logged(caplog, _HTTP, "retrying POST") > 0)
    _log(writer, run_id, range(60, 100))
    with pytest.raises(StoreUnavailable, match="PERENNIA_WRITER_MAX_QUEUED=100"):
        _log(writer, run_id, range(100, 101))
    server.start()
    writer.flush()
    assert _points(backing, run_id) == _expected(range(100))


def test_a_transient_failure_among_params_written_one_by_one_neither_loses_nor_duplicates(
    served, remote, writers
) -> None:
    _server, gate, backing = served
    run_id = _new_run(backing)
    backing.log_batch(run_id, params=[Param("lr", "0.1")])  # logged by "another process"
    writer = writers(remote(retry_seconds=0.3), batch_size=1_000_000, flush_interval=HOUR)
    writer.log_params(run_id, {"depth": "3"})
    _log(writer, run_id, range(5))
    writer.log_params(run_id, {"lr": "0.2", "width": "8"})
    writer.set_tags(run_id, {"stage": "dev"})
    # The database drops just as the param "width" is written on its own.
    gate.refuse = lambda method, path, body: (
        path.endswith("/batch") and b'"width"' in body and b'"lr"' not in body
    )
    with pytest.raises(Conflict, match="'0.1'.*'0.2'"):
        writer.flush()  # the refusal that already happened is reported, not lost
    with pytest.raises(StoreUnavailable, match="stay queued"):
        writer.flush()
    gate.refuse = lambda method, path, body: False
    writer.flush()
    stored = backing.runs.get(run_id)
    assert stored.data.params == {"lr": "0.1", "depth": "3", "width": "8"}
    assert stored.data.tags["stage"] == "dev"
    assert _points(backing, run_id) == _expected(range(5))


def test_a_param_queued_again_with_another_value_during_an_outage_is_a_conflict(
    served, remote, writers, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("WARNING", logger=_HTTP)
    caplog.set_level("WARNING", logger=_WRITER)
    server, _gate, backing = served
    run_id = _new_run(backing)
    writer = writers(remote(retry_seconds=2), batch_size=2, flush_interval=HOUR)
    server.stop()
    writer.log_params(run_id, {"lr": "0.1", "depth": "3"})  # a full batch: the thread takes it
    assert eventually(lambda: _logged(caplog, _HTTP, "retrying POST") > 0)
    writer.log_params(run_id, {"lr": "0.2"})  # nothing queued to compare it with, yet
    assert eventually(lambda: _logged(caplog, _WRITER, "will be retried") > 0)
    server.start()
    with pytest.raises(Conflict, match="'lr'.*'0.1' is kept"):
        writer.flush()
    writer.flush()
    assert backing.runs.get(run_id).data.params == {"lr": "0.1", "depth": "3"}


# -- a SQL store whose database goes away ---------------------------------------------------------


@pytest.fixture
def stoppable_postgres():
    """Yield a private PostgreSQL cluster the test may stop (skipped without the binaries)."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        message = "no PostgreSQL binaries under /usr/lib/postgresql"
        if IN_CI:
            pytest.fail(message + " (CI=true: outage tests must run)", pytrace=False)
        pytest.skip(message)
    with private_postgres(bin_dir) as cluster:
        yield cluster


def test_a_sql_store_whose_database_stops_keeps_the_writers_data_queued(
    stoppable_postgres, writers
) -> None:
    store = open_store(stoppable_postgres.uri)
    try:
        run_id = _new_run(store)
        writer = writers(store, batch_size=1_000_000, flush_interval=HOUR)
        _log(writer, run_id, range(10))
        writer.flush()
        stoppable_postgres.stop()
        _log(writer, run_id, range(10, 40))
        with pytest.raises(Exception) as caught:  # noqa: PT011 - the driver's own error
            writer.flush()
        assert isinstance(caught.value, OperationalError | StoreUnavailable)
        stoppable_postgres.start()
        _log(writer, run_id, range(40, 50))
        writer.flush()
        assert _points(store, run_id) == _expected(range(50))
    finally:
        store.close()
