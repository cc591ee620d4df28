"""PostgreSQL stopped behind a running `perennia server`: clients are told to retry, and lose nothing.

A private PostgreSQL cluster (tests/private_postgres.py) is stopped and started again; the shared
server on 5432 that other tests use is never touched. The acceptance test runs the real server
as a process with two workers, and logs from Perennia's SDK and from the real `mlflow` client,
each in its own process, across a 30 s outage: every point must arrive exactly once.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from perennia.config import Settings
from perennia.store import open_store
from tests.conftest import IN_CI
from tests.live_server import LiveServer
from tests.private_postgres import PrivatePostgres, postgres_bin, private_postgres
from tests.server_process import start_server

OUTAGE_SECONDS = 30
SDK_STEPS, SDK_PAUSE = 4_000, 0.01  # about 40 s of logging: before, during and after the outage
MLFLOW_STEPS, MLFLOW_PAUSE = 400, 0.002  # blocked while its retries wait, then carries on
READY_AT = 100  # each logger says "ready" after this many steps; the outage starts then


def _value(key: str, step: int) -> float:
    return step * 0.5 if key == "a" else -float(step)


# Both loggers log keys "a" and "b" at each step with the values `_value` gives.
_SDK_LOGGER = """
import sys, time, perennia
steps, pause, ready = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
perennia.set_experiment("outage-sdk")
with perennia.start_run() as run:
    print(run.run_id, flush=True)
    for step in range(steps):
        perennia.log_metric("a", step * 0.5, step=step)
        perennia.log_metric("b", -float(step), step=step)
        if step == ready:
            print("ready", flush=True)
        time.sleep(pause)
print("done", flush=True)
"""

_MLFLOW_LOGGER = """
import sys, time, mlflow
steps, pause, ready = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
mlflow.set_experiment("outage-mlflow")
with mlflow.start_run() as run:
    print(run.info.run_id, flush=True)
    for step in range(steps):
        mlflow.log_metric("a", step * 0.5, step=step)
        mlflow.log_metric("b", -float(step), step=step)
        if step == ready:
            print("ready", flush=True)
        time.sleep(pause)
print("done", flush=True)
"""


@pytest.fixture
def stoppable_postgres() -> Iterator[PrivatePostgres]:
    """Yield a started private PostgreSQL cluster (skipped without the binaries, except in CI)."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        message = "no PostgreSQL binaries under /usr/lib/postgresql"
        if IN_CI:
            pytest.fail(message + " (CI=true: the outage fault tests must run)", pytrace=False)
        pytest.skip(message)
    with private_postgres(bin_dir) as cluster:
        yield cluster


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:] if path.exists() else ""


class _Child:
    """A child process whose stdout is read line by line on a thread and stderr goes to a file.

    Reading on a thread lets the test wait for a line with a timeout; a file for stderr means
    a chatty child (retry warnings) can never block on a full pipe.
    """

    def __init__(self, command: list[str], env: dict[str, str], stderr: Path) -> None:
        self.stderr = stderr
        with stderr.open("w") as sink:
            self.process = subprocess.Popen(
                command, env=env, stdout=subprocess.PIPE, stderr=sink, text=True
            )
        self.lines: queue.Queue[str] = queue.Queue()
        self.pump = threading.Thread(target=self._pump, daemon=True)
        self.pump.start()

    def _pump(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line.strip())

    def next(self, timeout: float) -> str:
        """Return the next line of output, failing with the child's stderr if none comes."""
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            self.process.kill()
            pytest.fail(f"no output in {timeout}s: {_tail(self.stderr)}")

    def expect(self, line: str) -> None:
        """Fail unless `line` is among what the child has printed and not yet read."""
        self.pump.join(timeout=10)  # the child has exited: its output ends
        rest = []
        while not self.lines.empty():
            rest.append(self.lines.get())
        assert line in rest, rest

    def running(self) -> bool:
        """Return whether the child has not exited yet."""
        return self.process.poll() is None

    def finish(self, timeout: float) -> None:
        """Wait for the child, failing with its stderr when it is late or exits non-zero."""
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            pytest.fail(f"still running after {timeout}s: {_tail(self.stderr)}")
        assert self.process.returncode == 0, _tail(self.stderr)

    def kill(self) -> None:
        """Kill the child if it still runs."""
        if self.running():
            self.process.kill()
            self.process.wait(timeout=30)


def _spawn(code: str, env: dict[str, str], steps: int, pause: float, stderr: Path) -> _Child:
    command = [sys.executable, "-c", code, str(steps), str(pause), str(READY_AT)]
    return _Child(command, env, stderr)


def _start_server(uri: str, home: Path) -> tuple[subprocess.Popen, str]:
    home.mkdir(parents=True, exist_ok=True)
    args = ["--backend-store-uri", uri, "--workers", "2"]
    return start_server(args, home, log=home / "server.log")


def _assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["error_class"] == "StoreUnavailable"


def test_a_server_whose_database_is_down_answers_503_store_unavailable_and_recovers(
    stoppable_postgres: PrivatePostgres, tmp_path: Path
) -> None:
    from perennia.server.app import create_app

    uri = stoppable_postgres.uri
    backing = open_store(uri)
    settings = Settings.from_env().with_overrides(
        tracking_uri=uri, artifacts_uri=str(tmp_path / "artifacts")
    )
    server = LiveServer(create_app(backing, settings)).start()
    try:
        api = httpx.Client(base_url=server.url, timeout=30)
        experiment_id = api.post("/api/v1/experiments", json={"name": "before"}).json()[
            "experiment_id"
        ]
        stoppable_postgres.stop()
        # Reads and writes, native and MLflow's, with and without an Idempotency-Key.
        _assert_unavailable(api.get(f"/api/v1/experiments/{experiment_id}"))
        _assert_unavailable(
            api.get("/api/2.0/mlflow/experiments/get", params={"experiment_id": experiment_id})
        )
        _assert_unavailable(api.get("/health"))
        _assert_unavailable(api.post("/api/v1/experiments", json={"name": "during"}))
        _assert_unavailable(
            api.post(
                "/api/v1/experiments",
                json={"name": "during-keyed"},
                headers={"Idempotency-Key": "outage-key-0001"},
            )
        )
        _assert_unavailable(
            api.post("/api/2.0/mlflow/experiments/create", json={"name": "during-mlflow"})
        )
        stoppable_postgres.start()
        assert api.get("/health").status_code == 200
        # The refused writes were not applied; the keyed one goes through once retried.
        created = api.post(
            "/api/v1/experiments",
            json={"name": "during-keyed"},
            headers={"Idempotency-Key": "outage-key-0001"},
        )
        assert created.is_success, created.text
        names = {e.name for e in backing.experiments.search().items}
        assert {"during", "during-mlflow"}.isdisjoint(names) and "during-keyed" in names
        api.close()
    finally:
        server.stop()
        backing.close()


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_a_30s_postgresql_outage_loses_no_point_from_the_sdk_or_the_mlflow_client(
    stoppable_postgres: PrivatePostgres, tmp_path: Path
) -> None:
    server, url = _start_server(stoppable_postgres.uri, tmp_path / "server")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PERENNIA_", "MLFLOW_"))}
    sdk_env = dict(
        base,
        PERENNIA_HOME=str(tmp_path / "sdk"),
        PERENNIA_TRACKING_URI=url,
        PERENNIA_ARTIFACTS_URI=str(tmp_path / "sdk" / "artifacts"),
        # The default, stated: requests are retried this long, well past the outage.
        PERENNIA_HTTP_RETRY_SECONDS="120",
        PERENNIA_WRITER_BATCH_SIZE="500",
    )
    # mlflow retries 503 by default: 7 retries, backoff factor 2, so sleeps of 4, 8, 16, 32, 64
    # and 120 s, about four minutes in all. Factor 1 still covers two minutes (2, 4, ... 64 s);
    # a jitter of up to 3 s a sleep moves the attempt due 30 s after the first failure past the
    # restart, so the test need not wait for the one due at 62 s.
    mlflow_env = dict(
        base,
        MLFLOW_TRACKING_URI=url,
        MLFLOW_ENABLE_ASYNC_LOGGING="false",
        MLFLOW_HTTP_REQUEST_MAX_RETRIES="7",
        MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR="1",
        MLFLOW_HTTP_REQUEST_BACKOFF_JITTER="3",
        MLFLOW_HTTP_REQUEST_TIMEOUT="60",
    )
    tmp_path.joinpath("logs").mkdir()
    loggers = {
        "sdk": _spawn(_SDK_LOGGER, sdk_env, SDK_STEPS, SDK_PAUSE, tmp_path / "logs" / "sdk"),
        "mlflow": _spawn(
            _MLFLOW_LOGGER, mlflow_env, MLFLOW_STEPS, MLFLOW_PAUSE, tmp_path / "logs" / "mlflow"
        ),
    }
    try:
        run_ids = {name: child.next(timeout=60) for name, child in loggers.items()}
        for child in loggers.values():
            assert child.next(timeout=60) == "ready"

        stoppable_postgres.stop()
        stopped = time.monotonic()
        assert all(child.running() for child in loggers.values()), "a logger finished too early"
        _assert_unavailable(httpx.get(f"{url}/health", timeout=10))
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - stopped)))
        # Both loggers are still at work: each has been logging into the outage.
        assert all(child.running() for child in loggers.values())
        stoppable_postgres.start()

        for child in loggers.values():
            child.finish(timeout=100)
            child.expect("done")
        # The SDK met the outage: the server told it to retry, and it did.
        assert "HTTP 503" in loggers["sdk"].stderr.read_text(errors="replace")
    finally:
        for child in loggers.values():
            child.kill()
        server.terminate()
        server.wait(timeout=30)

    store = open_store(stoppable_postgres.uri)
    try:
        for name, steps in (("sdk", SDK_STEPS), ("mlflow", MLFLOW_STEPS)):
            run_id = run_ids[name]
            for key in ("a", "b"):
                stored = sorted((m.step, m.value) for m in store.metrics.history(run_id, key))
                expected = [(step, _value(key, step)) for step in range(steps)]
                assert len(stored) == len(expected), f"{name} {key}: {len(stored)} points"
                assert stored == expected, f"{name} {key}: points differ"
            assert store.runs.get(run_id).info.status == "FINISHED"
    finally:
        store.close()
