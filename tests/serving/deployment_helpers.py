"""Helpers for serving deployments in tests: a registry with good, broken and shifted versions,
a deployment-mode app, and threads that keep sending requests and record every answer."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import httpx

from tests.conftest import reset_tracking
from tests.serving.conftest import COLUMNS, mlflow_body, pipeline, training_frame

MODEL = "fraud"


def register_versions(tmp_path, monkeypatch) -> dict[str, int]:
    """Register versions of MODEL and return their numbers by kind.

    good: the champion; healthy: retrained on another sample; broken: raises on every
    predict (trained on a column the signature does not name, so the signature check passes
    and the model fails); shifted: answers almost always 1.
    """
    monkeypatch.setenv("PERENNIA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PERENNIA_TRACKING_URI", f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.setenv("PERENNIA_ARTIFACTS_URI", str(tmp_path / "artifacts"))
    reset_tracking()
    from perennia.models.signature import infer_signature
    from perennia.registry.packages import log_model
    from perennia.tracking import fluent

    frame, _ = training_frame()
    signature = infer_signature(frame)
    from sklearn.linear_model import LogisticRegression

    numbers = frame[COLUMNS[:3]].assign(extra=0.0)
    broken = LogisticRegression().fit(numbers, training_frame()[1])
    models = {
        "good": pipeline()[0],
        "healthy": pipeline(seed=1)[0],
        "broken": broken,
        "shifted": pipeline(shift=2.0)[0],
    }
    versions = {}
    for kind, model in models.items():
        with fluent.start_run():
            info = log_model(model, "model", signature=signature, registered_model_name=MODEL)
        versions[kind] = info.registered_version
    return versions


def deployment_config(tmp_path, name: str, **overrides):
    """Return the ServeConfig of deployment `name`, polling and analysing quickly."""
    from perennia.serving.config import ServeConfig

    options = {
        "deployment": name,
        "log_location": str(tmp_path / "predlog"),
        "poll_interval_s": 0.1,
        "analysis_interval_s": 0.3,
        **overrides,
    }
    return ServeConfig(**options)


def rows_body(n: int = 1, seed: int = 0) -> dict:
    """Return a dataframe_split request of `n` rows."""
    frame, _ = training_frame(n=max(n, 2), seed=seed)
    return mlflow_body(frame.iloc[:n])


@dataclass
class Traffic:
    """Requests sent by background threads until `stop()`, with every answer kept."""

    url: str
    threads: int = 4
    headers: dict = field(default_factory=dict)
    answers: list = field(default_factory=list)  # (status, variant, version, request id, rows)
    _stop: threading.Event = field(default_factory=threading.Event)
    _workers: list = field(default_factory=list)

    def start(self) -> Traffic:
        """Start the sending threads."""
        for index in range(self.threads):
            worker = threading.Thread(target=self._send, args=(index,), daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def _send(self, index: int) -> None:
        lock = threading.Lock()
        count = 0
        with httpx.Client(timeout=30) as client:
            while not self._stop.is_set():
                rows = 1 + (count + index) % 3
                body = rows_body(rows, seed=count % 50)
                reply = client.post(f"{self.url}/invocations", json=body, headers=self.headers)
                answer = (
                    reply.status_code,
                    reply.headers.get("perennia-variant"),
                    reply.headers.get("perennia-model-version"),
                    reply.headers.get("perennia-request-id"),
                    rows,
                )
                with lock:
                    self.answers.append(answer)
                count += 1

    def stop(self) -> list:
        """Stop sending and return every answer."""
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=30)
        return list(self.answers)


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.1):
    """Return predicate()'s first truthy value, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")
