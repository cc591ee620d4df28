"""Monitors end to end: a reference profile logged with the training run, predictions served by
`perennia serve`, windows run on demand and by the scheduler, labels that arrive later, and
the time series read back. Runs on SQLite and PostgreSQL (the `tracking` fixture)."""

from __future__ import annotations

import httpx
import pytest

import perennia
from perennia.data.predlog import read_predictions
from perennia.data.session import current_store
from perennia.errors import AlreadyExists, InvalidInput, NotFound
from perennia.monitoring import (
    create_monitor,
    get_monitor,
    list_monitors,
    log_reference_profile,
    monitor_values,
    run_monitor,
)
from perennia.monitoring.monitors import MonitorScheduler
from perennia.monitoring.monitors.runner import SETTLE_MS
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
def served(tracking, sk_package, serve_app, sk_model, tmp_path):  # noqa: F811
    """Return (app, log location, reference URI, the shifted frame, its labels, ids)."""
    _, train = sk_model
    with perennia.start_run():
        reference = log_reference_profile(train)
    location = str(tmp_path / "predlog")
    app = serve_app(ServeConfig(model_uri=str(sk_package), name=NAME, log_location=location))
    frame, truth = training_frame(n=400, seed=11)
    frame["x0"] = frame["x0"] + 1.0
    ids = []
    for start in range(0, len(frame), 100):
        reply = httpx.post(
            f"{app.url}/invocations", json=mlflow_body(frame.iloc[start : start + 100])
        )
        assert reply.status_code == 200
        ids += [f"{reply.headers['perennia-request-id']}-{i}" for i in range(100)]
    assert app.state.log.flush(timeout=30)
    return app, location, reference, frame, truth, ids


def _day_after(location: str) -> int:
    """Return a time by which the day of the first prediction is over and settled."""
    first = min(read_predictions(location, deployment=NAME)["time_ms"].to_pylist())
    return (first // DAY + 1) * DAY + SETTLE_MS


def test_a_monitor_records_drift_then_realised_performance_when_labels_arrive(served, sk_model):  # noqa: F811
    app, location, reference, frame, truth, ids = served
    model, _ = sk_model
    create_monitor("inputs", deployment=NAME, reference=reference, window="1d", task="binary")
    until = _day_after(location)

    windows = run_monitor("inputs", until_ms=until, location=location)
    assert [w.status for w in windows] == ["ok"]
    first = monitor_values("inputs")
    assert len(first) == 1
    assert first.loc[0, "rows"] == 400
    assert first.loc[0, "drift.drifted"] == 1.0
    assert first.loc[0, "feature.x0.effect"] > 0.5
    assert get_monitor("inputs").last_window_end_ms == until - SETTLE_MS

    # Labels arrive the next day; the same window is evaluated again, and replaced, not doubled.
    body = {
        "feedback": [
            {"prediction_id": i, "ground_truth": int(y)} for i, y in zip(ids, truth, strict=True)
        ]
    }
    assert httpx.post(f"{app.url}/feedback", json=body).json() == {"recorded": 400}
    again = run_monitor("inputs", until_ms=until + DAY, location=location)
    assert [w.status for w in again] == ["ok", "empty"]
    series = monitor_values("inputs", keys=["realised.accuracy", "rows"])
    assert len(series) == 2
    expected = float((model.predict(frame) == truth.to_numpy()).mean())
    assert series.loc[0, "realised.accuracy"] == pytest.approx(expected)
    assert series.loc[1, "rows"] == 0
    points = current_store().monitors.list_points("inputs", keys=["rows"])
    assert len(points) == 2


def test_the_scheduler_runs_a_due_monitor_once_until_its_next_run(served):
    _, location, reference, *_ = served
    create_monitor("scheduled", deployment=NAME, reference=reference, window="1h", schedule="1h")
    one = MonitorScheduler(current_store(), location=location)
    other = MonitorScheduler(current_store(), location=location)  # another replica
    assert one.run_due() == ["scheduled"]
    assert other.run_due() == []
    stored = get_monitor("scheduled")
    assert stored.next_run_ms >= stored.updated_ms + 3_000_000  # an hour on, give or take
    assert stored.lease_owner is None
    # The current hour is not over yet, so no window is complete and none is recorded.
    assert stored.last_window_end_ms is None
    assert monitor_values("scheduled").empty


def test_monitor_creation_refuses_bad_input_and_keeps_what_is_stored(served):
    _, _, reference, *_ = served
    create_monitor("kept", deployment=NAME, reference=reference)
    with pytest.raises(AlreadyExists):
        create_monitor("kept", deployment=NAME, reference=reference)
    with pytest.raises(NotFound):
        create_monitor("missing-ref", reference="runs:/0123456789abcdef0123456789abcdef/nope.json")
    with pytest.raises(InvalidInput, match="window"):
        create_monitor("bad-window", reference=reference, window="soon")
    with pytest.raises(InvalidInput, match="task"):
        create_monitor("bad-task", reference=reference, task="clustering")
    with pytest.raises(InvalidInput, match="min_wasserstein"):
        create_monitor("bad-settings", reference=reference, settings={"min_wasserstein": -1})
    assert [m.name for m in list_monitors()] == ["kept"]


def test_a_monitor_with_explain_records_each_inputs_attribution(served, sk_model):  # noqa: F811
    _, location, reference, frame, *_ = served
    model, train = sk_model
    with perennia.start_run():
        perennia.log_model(
            model, name="model", input_example=train.head(5), registered_model_name="scorer"
        )
    create_monitor(
        "explained",
        deployment=NAME,
        reference=reference,
        window="1d",
        model="models:/scorer/1",
        explain=True,
    )
    (window,) = run_monitor("explained", until_ms=_day_after(location), location=location)
    attributed = {k: v for k, v in window.values.items() if k.startswith("attribution.")}
    assert set(attributed) == {
        "attribution.x0",
        "attribution.x1",
        "attribution.x2",
        "attribution.color",
    }
    # x0 drives the target (and moved by one sd); x1 and x2 are noise to the model.
    assert attributed["attribution.x0"] > 3 * max(
        attributed["attribution.x1"], attributed["attribution.x2"]
    )
    with pytest.raises(InvalidInput, match="model="):
        create_monitor("no-model", reference=reference, explain=True)
