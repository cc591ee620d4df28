"""Fixtures for the inference server: a scikit-learn package, `perennia serve`'s app on a
loopback port (uvicorn in a thread, lifespan on, so loading and shutdown run as in production),
the same app with sign-in on, a registry of deployment versions, and request bodies."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.ports import free_port

COLUMNS = ["x0", "x1", "x2", "color"]
NAME = "pipeline"  # the endpoint name the apps below serve the package as


def training_frame(n: int = 300, seed: int = 0, shift: float = 0.0):
    """Return (features, target): three numbers and one category, a learnable target (`shift`
    moves its threshold, so a model trained on it answers mostly one class)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(n, 3)), columns=COLUMNS[:3])
    frame["color"] = rng.choice(["red", "green", "blue"], size=n)
    target = ((frame["x0"] + (frame["color"] == "red")) > 0.3 - shift).astype(int)
    return frame, target


def pipeline(seed: int = 0, shift: float = 0.0):
    """Return a fitted scikit-learn pipeline (scaler + one-hot + logistic regression)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame, target = training_frame(seed=seed, shift=shift)
    prepare = ColumnTransformer(
        [("num", StandardScaler(), COLUMNS[:3]), ("cat", OneHotEncoder(), ["color"])]
    )
    model = Pipeline([("prepare", prepare), ("model", LogisticRegression())])
    return model.fit(frame, target), frame


def mlflow_body(rows) -> dict:
    """Return MLflow's dataframe_split request for the rows of a frame."""
    return {"dataframe_split": {"columns": COLUMNS, "data": rows.values.tolist()}}


def oip_inputs(rows) -> list[dict]:
    """Return an OIP infer request's inputs: one tensor per column of the rows of a frame."""
    return [
        {
            "name": c,
            "datatype": "BYTES" if c == "color" else "FP64",
            "shape": [len(rows)],
            "data": rows[c].tolist(),
        }
        for c in COLUMNS
    ]


@pytest.fixture(scope="session")
def sk_package(tmp_path_factory) -> Path:
    """Return the folder of a saved scikit-learn package with a signature."""
    import perennia.models

    model, frame = pipeline()
    folder = tmp_path_factory.mktemp("serving") / "package"
    perennia.models.save(model, folder, signature="infer", input_example=frame.iloc[:5])
    return folder


@pytest.fixture(scope="session")
def sk_model():
    """Return the fitted pipeline the package holds and its training frame."""
    return pipeline()


def wait_ready(url: str, running: Callable[[], bool], timeout: float = 60.0) -> bool:
    """Return True once `url`/v2/health/ready answers 200; False if `running()` turns false or
    `timeout` seconds pass first."""
    deadline = time.monotonic() + timeout
    # One client for every poll: a bare httpx.get builds a TLS context each time (about 50 ms).
    with httpx.Client(timeout=2) as client:
        while time.monotonic() < deadline and running():
            try:
                if client.get(f"{url}/v2/health/ready").status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.02)
    return False


class ServingApp:
    """`perennia serve`'s app for one configuration, live on 127.0.0.1 until `stop()`."""

    def __init__(self, config) -> None:
        import uvicorn

        from perennia.serving.app import create_app

        self.app = create_app(config)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, name="serving", daemon=True)

    @property
    def state(self):
        """Return the app's ServingState (pool, log, metrics)."""
        return self.app.state.serving

    def start(self) -> ServingApp:
        """Start serving; return once the model is loaded and the server ready."""
        self.thread.start()
        if not wait_ready(self.url, self.thread.is_alive):
            raise RuntimeError("the serving app stopped or did not become ready while starting")
        return self

    def stop(self) -> None:
        """Stop (finishing queued requests, flushing the log) and wait."""
        self.server.should_exit = True
        self.thread.join(timeout=60)


@pytest.fixture
def serve_app():
    """Return a factory starting ServingApps from ServeConfigs; all are stopped afterwards."""
    started: list[ServingApp] = []

    def start(config) -> ServingApp:
        app = ServingApp(config).start()
        started.append(app)
        return app

    yield start
    for app in started:
        app.stop()


@pytest.fixture
def secured(sk_package, serve_app, sqlite_uri):
    """Return (app, token) of a server requiring a bearer token of the store's users."""
    from perennia.serving.config import ServeConfig
    from perennia.store import open_store

    store = open_store(sqlite_uri)
    store.users.create_user("ana", "ana-password")
    token = store.users.create_token("ana", "serving")[1]
    store.close()
    config = ServeConfig(model_uri=str(sk_package), name=NAME, auth=True, tracking_uri=sqlite_uri)
    return serve_app(config), token


@pytest.fixture(scope="session")
def _registered_versions(tmp_path_factory) -> tuple[Path, dict[str, int]]:
    """Return (folder, versions): register_versions' store and artifacts, made once per worker.

    Saving the four packages takes seconds; `versions` gives each test a copy of the folder.
    The store keeps no absolute path (the Default experiment has no artifact location, blobs
    are found through PERENNIA_ARTIFACTS_URI), so a copy is the same registry."""
    from tests.conftest import reset_tracking
    from tests.serving.deployment_helpers import register_versions

    folder = tmp_path_factory.mktemp("registered-versions")
    with pytest.MonkeyPatch.context() as monkeypatch:
        try:
            numbers = register_versions(folder, monkeypatch)
        finally:
            reset_tracking()
    return folder, numbers


@pytest.fixture
def versions(tmp_path, monkeypatch, _registered_versions):
    """Return the registered versions of deployment_helpers.MODEL by kind (good, healthy,
    broken, shifted), tracked in a store of this test's own."""
    import shutil

    from tests.conftest import reset_tracking

    template, numbers = _registered_versions
    shutil.copytree(template, tmp_path, dirs_exist_ok=True)
    # The environment register_versions sets, on this test's copy.
    monkeypatch.setenv("PERENNIA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PERENNIA_TRACKING_URI", f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.setenv("PERENNIA_ARTIFACTS_URI", str(tmp_path / "artifacts"))
    reset_tracking()
    yield dict(numbers)
    reset_tracking()
