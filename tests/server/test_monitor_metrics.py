"""GET /metrics on `perennia server`: every monitor's latest window as Prometheus gauges."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from perennia.entities.monitoring import Monitor, MonitorPoint, MonitorRun

HOUR = 3_600_000


def _record(store, name: str, start: int, values: dict) -> None:
    end = start + HOUR
    run = MonitorRun(name, start, end, end, "ok", {}, None)
    points = [MonitorPoint(name, start, end, k, v, end) for k, v in values.items()]
    store.monitors.record_window(name, run, points, end)


def _samples(text: str) -> dict[tuple, float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_the_latest_window_of_each_monitor_is_exported_as_gauges(live_server):
    url, store = live_server
    store.monitors.create_monitor(
        Monitor("fraud-inputs", "runs:/x/p.json", HOUR, deployment="fraud")
    )
    store.monitors.create_monitor(Monitor("idle", "runs:/x/p.json", HOUR))
    _record(store, "fraud-inputs", 0, {"feature.age.psi": 0.9, "realised.f1": 0.5})
    _record(
        store,
        "fraud-inputs",
        HOUR,
        {"feature.age.psi": 0.31, "realised.f1": 0.82, "drift.share_drifted": 0.25, "rows": None},
    )
    reply = httpx.get(f"{url}/metrics")
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/plain")
    samples = _samples(reply.text)
    drift = ("perennia_drift_score", (("feature", "age"), ("method", "psi"), ("model", "fraud")))
    assert samples[drift] == 0.31
    assert (
        samples[("perennia_realised_performance", (("metric", "f1"), ("model", "fraud")))] == 0.82
    )
    share = (
        "perennia_monitor_value",
        (("monitor", "fraud-inputs"), ("value", "drift.share_drifted")),
    )
    assert samples[share] == 0.25
    # A value not computable in the latest window is left out, not exported as 0.
    assert not any(labels and ("value", "rows") in labels for _, labels in samples)


def test_metrics_need_a_token_when_sign_in_is_on(rest_server):
    url, _, token = rest_server
    assert httpx.get(f"{url}/metrics").status_code == 401
    reply = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 200


def test_keys_prometheus_cannot_name_are_left_out_and_flags_are_monitor_values(live_server):
    url, store = live_server
    store.monitors.create_monitor(Monitor("cells", "runs:/x/p.json", HOUR, deployment="lab"))
    values = {
        "feature.mean radius.effect": 0.2,
        "alert.realised.f1": 1.0,
        "estimated.f1.lower.bound": 0.5,  # not a shape the gauges know: left out
        "rows": 40.0,
    }
    _record(store, "cells", 0, values)
    reply = httpx.get(f"{url}/metrics")
    assert reply.status_code == 200
    samples = _samples(reply.text)
    flag = ("perennia_monitor_value", (("monitor", "cells"), ("value", "alert.realised.f1")))
    assert samples[flag] == 1.0
    drift = (
        "perennia_drift_score",
        (("feature", "mean radius"), ("method", "effect"), ("model", "lab")),
    )
    assert samples[drift] == 0.2
    assert not any("lower" in str(labels) for _, labels in samples)
    assert samples[("perennia_monitor_value", (("monitor", "cells"), ("value", "rows")))] == 40.0
