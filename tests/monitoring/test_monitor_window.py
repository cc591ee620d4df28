"""A monitor's window over a real prediction log written by `perennia serve`, with feedback
that arrives later: quality, drift against the training profile, realised performance."""

from __future__ import annotations

import json

import httpx
import numpy as np
import pytest

from perennia.data.predlog import read_feedback, read_predictions
from perennia.monitoring.monitors import evaluate_window
from perennia.monitoring.profiles import profile
from perennia.serving.config import ServeConfig
from tests.serving.conftest import (  # noqa: F401 (fixtures)
    NAME,
    mlflow_body,
    serve_app,
    sk_model,
    sk_package,
    training_frame,
)

DAY = 86_400_000


@pytest.fixture
def served_log(sk_package, serve_app, tmp_path):  # noqa: F811
    """Return (app, log location) of a server keeping a prediction log."""
    location = str(tmp_path / "predlog")
    app = serve_app(ServeConfig(model_uri=str(sk_package), name=NAME, log_location=location))
    return app, location


def _send(app, frame) -> list[str]:
    ids = []
    for start in range(0, len(frame), 100):
        rows = frame.iloc[start : start + 100]
        reply = httpx.post(f"{app.url}/invocations", json=mlflow_body(rows), timeout=30)
        assert reply.status_code == 200
        request_id = reply.headers["perennia-request-id"]
        ids += [f"{request_id}-{i}" for i in range(len(rows))]
    return ids


def test_a_window_of_served_predictions_reports_drift_and_delayed_performance(
    served_log,
    sk_model,  # noqa: F811
):
    app, location = served_log
    model, train = sk_model
    reference = profile(train)
    shifted, truth = training_frame(n=600, seed=7)
    shifted["x0"] = shifted["x0"] + 1.0  # the input moved by one standard deviation
    ids = _send(app, shifted)
    assert app.state.log.flush(timeout=30)
    log = read_predictions(location, deployment=NAME)
    start = (min(log["time_ms"].to_pylist()) // DAY) * DAY
    end = start + DAY

    before_labels = evaluate_window(
        log, start, end, reference, feedback=None, config={"task": "binary"}
    )
    assert before_labels.status == "ok"
    assert before_labels.values["rows"] == 600
    assert before_labels.values["errors.share"] == 0.0
    assert before_labels.values["drift.drifted"] == 1.0
    assert before_labels.values["feature.x0.effect"] > 0.5
    assert before_labels.values["feature.x1.effect"] < 0.2
    assert "realised.accuracy" not in before_labels.values

    # Labels arrive later for half the predictions, through the server's /feedback.
    labelled = list(zip(ids[:300], truth.iloc[:300].tolist(), strict=True))
    body = {"feedback": [{"prediction_id": i, "ground_truth": int(y)} for i, y in labelled]}
    assert httpx.post(f"{app.url}/feedback", json=body).json() == {"recorded": 300}
    after = evaluate_window(
        log, start, end, reference, feedback=read_feedback(location), config={"task": "binary"}
    )
    assert after.values["labels.coverage"] == pytest.approx(0.5)
    predicted = model.predict(shifted.iloc[:300])
    expected = float(np.mean(predicted == truth.iloc[:300].to_numpy()))
    assert after.values["realised.accuracy"] == pytest.approx(expected)
    json.dumps(after.summary, allow_nan=False)


def test_an_empty_window_is_marked_empty_with_values_not_computable(served_log, sk_model):  # noqa: F811
    app, location = served_log
    _, train = sk_model
    _send(app, train.iloc[:10])
    assert app.state.log.flush(timeout=30)
    log = read_predictions(location, deployment=NAME)
    empty = log.slice(0, 0)
    result = evaluate_window(empty, 0, DAY, profile(train))
    assert result.status == "empty"
    assert result.values["rows"] == 0
    assert result.values["drift.drifted"] is None
