"""`perennia serve` started as users start it: a real process on a loopback port, called like
curl calls it, scraped, stopped with SIGTERM, and refused when its arguments are unsafe."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.ports import free_port
from tests.serving.conftest import mlflow_body, oip_inputs, wait_ready

pytestmark = pytest.mark.slow


def environment(home: Path) -> dict[str, str]:
    """Return the environment of a `perennia` process: its own home, no inherited server state."""
    inherited = ("PERENNIA_TRACKING_URI", "PERENNIA_SERVE_CONFIG", "PROMETHEUS_MULTIPROC_DIR")
    env = {k: v for k, v in os.environ.items() if k not in inherited}
    env["PERENNIA_HOME"] = str(home)
    return env


def run_cli(args: list[str], home: Path) -> subprocess.CompletedProcess:
    """Return the finished `perennia` process run with `args` (output captured as text)."""
    command = [sys.executable, "-m", "perennia.cli.main", *args]
    return subprocess.run(
        command, env=environment(home), capture_output=True, text=True, timeout=120
    )


class Served:
    """A `perennia serve` process answering on a loopback port."""

    def __init__(self, args: list[str], home: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.output = home / "serve.out"
        command = [
            sys.executable, "-m", "perennia.cli.main", "serve", *args, "--port", str(self.port)
        ]  # fmt: skip
        with self.output.open("w") as sink:
            self.process = subprocess.Popen(
                command, env=environment(home), stdout=sink, stderr=subprocess.STDOUT
            )
        if wait_ready(self.url, lambda: self.process.poll() is None, timeout=90):
            return
        self.process.kill()
        self.process.wait(timeout=30)
        pytest.fail(f"perennia serve did not start: {self.output.read_text()[-2000:]}")

    def terminate(self) -> int:
        """Send SIGTERM and return the exit status once the process ended."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=90)

    def kill(self) -> None:
        """Kill the process if it still runs."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


@pytest.fixture
def serve(tmp_path):
    """Return a factory of `perennia serve` processes; any still running are killed afterwards."""
    started: list[Served] = []

    def start(*args: str) -> Served:
        served = Served(list(args), tmp_path)
        started.append(served)
        return served

    yield start
    for served in started:
        served.kill()


def mlflow_call(url: str, rows) -> httpx.Response:
    """Return the answer to `curl -H 'Content-Type: application/json' -d ... /invocations`."""
    return httpx.post(f"{url}/invocations", json=mlflow_body(rows), timeout=30)


def oip_call(url: str, name: str, rows) -> httpx.Response:
    """Return the answer to an OIP infer request with one tensor per column."""
    body = {"inputs": oip_inputs(rows)}
    return httpx.post(f"{url}/v2/models/{name}/infer", json=body, timeout=30)


def test_serve_answers_both_protocols_and_sigterm_flushes_the_log(
    serve, sk_package, sk_model, tmp_path
):
    from perennia.data.predlog import read_predictions

    location = tmp_path / "predlog"
    served = serve(str(sk_package), "--log-location", str(location))
    model, frame = sk_model
    ids = []
    for start in range(0, 12, 3):
        rows = frame.iloc[start : start + 3]
        scored = mlflow_call(served.url, rows)
        assert scored.status_code == 200
        assert scored.json() == {"predictions": model.predict(rows).tolist()}
        inferred = oip_call(served.url, sk_package.name, rows)
        assert inferred.status_code == 200
        assert inferred.json()["outputs"][0]["data"] == model.predict(rows).tolist()
        ids += [r.headers["perennia-request-id"] for r in (scored, inferred)]
    assert httpx.get(f"{served.url}/ping").status_code == 200
    assert httpx.get(f"{served.url}/v2").json()["name"] == "perennia"

    assert served.terminate() == 0
    log = read_predictions(str(location))
    assert sorted(log["prediction_id"].to_pylist()) == sorted(
        f"{request_id}-{row}" for request_id in ids for row in range(3)
    )


def requests_total(text: str) -> float:
    """Return the sum of perennia_requests_total over every label set of a scrape."""
    from prometheus_client.parser import text_string_to_metric_families

    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "perennia_requests_total"
    )


def test_two_workers_share_one_metrics_view_and_both_flush_the_log(
    serve, sk_package, sk_model, tmp_path
):
    from perennia.data.predlog import read_predictions

    location = tmp_path / "predlog"
    served = serve(str(sk_package), "--workers", "2", "--log-location", str(location))
    model, frame = sk_model
    ids = []
    # A new connection per request: the kernel spreads them over both workers' accept calls.
    for index in range(40):
        rows = frame.iloc[index : index + 2]
        reply = mlflow_call(served.url, rows)
        assert reply.status_code == 200
        assert reply.json()["predictions"] == model.predict(rows).tolist()
        ids.append(reply.headers["perennia-request-id"])
    # Whichever worker answers a scrape, it reports every worker's requests.
    for _ in range(10):
        scrape = httpx.get(f"{served.url}/metrics", timeout=30)
        assert scrape.status_code == 200
        assert requests_total(scrape.text) == 40

    assert served.terminate() == 0
    log = read_predictions(str(location))
    assert sorted(log["prediction_id"].to_pylist()) == sorted(
        f"{request_id}-{row}" for request_id in ids for row in range(2)
    )


def one_line_error(result: subprocess.CompletedProcess) -> str:
    """Return the single line a refused command printed (failing if it printed more)."""
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


def test_a_public_address_without_auth_is_refused(sk_package, tmp_path):
    result = run_cli(["serve", str(sk_package), "--host", "0.0.0.0"], tmp_path)
    assert result.returncode == 1
    line = one_line_error(result)
    assert "0.0.0.0" in line and "--auth" in line and "--insecure" in line


def test_serve_needs_a_model_uri_or_a_deployment(tmp_path):
    result = run_cli(["serve"], tmp_path)
    assert result.returncode == 1
    line = one_line_error(result)
    assert "MODEL_URI" in line and "--deployment" in line


def test_serve_refuses_both_a_model_uri_and_a_deployment(sk_package, tmp_path):
    result = run_cli(["serve", str(sk_package), "--deployment", "fraud-api"], tmp_path)
    assert result.returncode == 1
    assert "exactly one" in one_line_error(result)
