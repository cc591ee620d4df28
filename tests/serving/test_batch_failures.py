"""A batch that fails is split, and each request is answered and logged once with its own
outcome; a version already in memory is reused when a deployment changes, and a shadow that
predicts in its own process is never loaded by the server."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from perennia.serving.config import ServeConfig
from tests.serving.conftest import COLUMNS, training_frame


def _body(frame, i: int, color: str) -> dict:
    rows = frame.iloc[i : i + 1 + i % 2].copy()
    rows["color"] = color
    return {"dataframe_split": {"columns": COLUMNS, "data": rows.values.tolist()}}


def test_a_bad_request_in_a_batch_fails_alone_and_every_request_is_logged_once(
    sk_package, sk_model, serve_app, tmp_path
):
    from perennia.data.predlog import read_predictions

    frame = training_frame(n=80, seed=5)[0]
    app = serve_app(ServeConfig(model_uri=str(sk_package), log_location=str(tmp_path / "log")))
    # "purple" passes the signature (a string column) but the one-hot encoder never saw it.
    colors = ["purple" if i % 5 == 0 else "red" for i in range(120)]

    def one(i: int):
        with httpx.Client() as client:
            reply = client.post(f"{app.url}/invocations", json=_body(frame, i % 60, colors[i]))
        return i, reply.status_code, reply.headers.get("perennia-request-id")

    with ThreadPoolExecutor(24) as pool:
        answers = list(pool.map(one, range(120)))
    app.stop()
    assert {i for i, status, _ in answers if status == 400} == {i for i in range(120) if i % 5 == 0}
    assert all(status == 200 for i, status, _ in answers if i % 5)
    log = read_predictions(str(tmp_path / "log")).to_pandas()
    assert log["prediction_id"].is_unique
    expected_rows = sum(1 + (i % 60) % 2 for i in range(120))
    assert len(log) == expected_rows  # a failed batch's first attempt is not logged as well
    refused = {rid for _, status, rid in answers if status == 400}
    assert set(log.loc[~log["ok"], "request_id"]) == refused
    assert set(log.loc[log["ok"], "request_id"]) == {r for _, s, r in answers if s == 200}


@pytest.mark.slow
def test_a_promoted_canary_keeps_its_loaded_model_and_a_process_shadow_is_not_loaded(
    tmp_path, serve_app, monkeypatch
):
    from perennia.entities import CanaryPolicy
    from perennia.registry import deployments as sdk
    from tests.conftest import reset_tracking
    from tests.serving.deployment_helpers import (
        MODEL,
        deployment_config,
        register_versions,
        wait_for,
    )

    versions = register_versions(tmp_path, monkeypatch)
    try:
        sdk.create_deployment("fraud-api", MODEL, versions["good"])
        sdk.start_canary("fraud-api", versions["healthy"], CanaryPolicy(steps=(50.0, 100.0)))
        app = serve_app(deployment_config(tmp_path, "fraud-api", controller=False))
        canary = app.state.pool.endpoint.models["canary"].loaded
        promoted = sdk.promote("fraud-api")
        wait_for(lambda: app.state.pool.endpoint.revision == promoted.revision)
        stable = app.state.pool.endpoint.models["stable"]
        assert stable.version == versions["healthy"] and stable.loaded is canary
        shadowed = sdk.start_shadow("fraud-api", versions["good"])
        wait_for(lambda: app.state.pool.endpoint.revision == shadowed.revision)
        shadow = app.state.pool.endpoint.models["shadow"]
        assert shadow.shadow and shadow.loaded is None  # its child process holds the model
        reply = httpx.post(
            f"{app.url}/v2/models/{MODEL}/versions/{versions['good']}/infer", json={"inputs": []}
        )
        assert reply.status_code == 404  # a shadow answers nobody, even when asked by version
    finally:
        reset_tracking()
