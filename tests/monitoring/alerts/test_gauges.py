"""The monitoring gauges: a prometheus_client collector and the text it renders, parsed back."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from perennia.errors import InvalidInput
from perennia.monitoring.alerts import (
    GaugeSample,
    MonitorCollector,
    alert_rules,
    gauge_lines,
    gauge_samples,
)
from tests.monitoring.alerts.conftest import make_rule

GAUGES = {
    "perennia_drift_score",
    "perennia_estimated_performance",
    "perennia_realised_performance",
    "perennia_monitor_value",
}


def parse(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Return metric name -> [(labels, value)] from exposition text."""
    return {
        family.name: [(s.labels, s.value) for s in family.samples]
        for family in text_string_to_metric_families(text)
    }


def test_a_monitors_values_become_the_four_gauges():
    values = {
        "feature.age.psi": 0.31,
        "feature.address.zip.ks": 0.12,
        "estimated.f1": 0.84,
        "realised.f1": 0.8,
        "drift.share_drifted": 0.25,
        "feature.income.psi": None,  # not computable: no sample
        "rows": math.nan,
    }
    text = gauge_lines(gauge_samples("fraud", "fraud-daily", values))
    assert parse(text) == {
        "perennia_drift_score": [
            ({"model": "fraud", "feature": "age", "method": "psi"}, 0.31),
            ({"model": "fraud", "feature": "address.zip", "method": "ks"}, 0.12),
        ],
        "perennia_estimated_performance": [({"model": "fraud", "metric": "f1"}, 0.84)],
        "perennia_realised_performance": [({"model": "fraud", "metric": "f1"}, 0.8)],
        "perennia_monitor_value": [
            ({"monitor": "fraud-daily", "value": "drift.share_drifted"}, 0.25)
        ],
    }
    for name in GAUGES:
        assert f"# TYPE {name} gauge\n" in text and f"# HELP {name} " in text


def test_the_collector_reads_its_source_on_every_scrape():
    current = {"feature.age.psi": 0.1}
    registry = CollectorRegistry()
    registry.register(MonitorCollector(lambda: gauge_samples("fraud", "m", current)))
    assert (
        registry.get_sample_value(
            "perennia_drift_score", {"model": "fraud", "feature": "age", "method": "psi"}
        )
        == 0.1
    )
    current["feature.age.psi"] = 0.4
    families = parse(generate_latest(registry).decode())
    assert families["perennia_drift_score"] == [
        ({"model": "fraud", "feature": "age", "method": "psi"}, 0.4)
    ]


def test_registering_does_not_call_the_source():
    calls = []
    CollectorRegistry().register(MonitorCollector(lambda: calls.append(1) or []))
    assert calls == []


def test_a_repeated_series_keeps_its_last_value():
    labels = {"model": "m", "metric": "f1"}
    samples = [
        GaugeSample("perennia_estimated_performance", labels, 0.5),
        GaugeSample("perennia_estimated_performance", labels, 0.7),
    ]
    assert parse(gauge_lines(samples))["perennia_estimated_performance"] == [(labels, 0.7)]


def test_special_values_and_characters_survive_the_text_format():
    labels = {"model": 'fraud "eu"\\2\nnew', "feature": "âge", "method": "psi"}
    samples = [
        GaugeSample("perennia_drift_score", labels, math.inf),
        GaugeSample("perennia_monitor_value", {"monitor": "m", "value": "x"}, -0.0),
    ]
    text = gauge_lines(samples)
    assert 'model="fraud \\"eu\\"\\\\2\\nnew"' in text
    families = parse(text)
    assert families["perennia_drift_score"] == [(labels, math.inf)]


# Any text but control codes (refused as label values), plus the two allowed ones.
label_text = st.text(
    st.one_of(st.characters(codec="utf-8", exclude_categories=("Cc",)), st.sampled_from("\n\t")),
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(model=label_text, feature=label_text, value=st.floats(allow_nan=False))
def test_any_label_value_round_trips(model, feature, value):
    sample = GaugeSample(
        "perennia_drift_score", {"model": model, "feature": feature, "method": "psi"}, value
    )
    (found,) = parse(gauge_lines([sample]))["perennia_drift_score"]
    assert found == ({"model": model, "feature": feature, "method": "psi"}, value)


def test_the_alert_expressions_select_the_exported_series():
    # The rule generator and the exporter must agree on names and labels.
    samples = gauge_samples("fraud", "fraud-daily", {"estimated.f1": 0.7, "drift.rows": 3})
    exported = {(s.metric, tuple(sorted(s.labels.items()))) for s in samples}
    rules = [
        make_rule(name="a", value="estimated.f1", op="<", threshold=0.8),
        make_rule(name="b", value="drift.rows", op=">", threshold=1),
    ]
    exprs = [r["expr"] for r in alert_rules("fraud", rules)["groups"][0]["rules"]]
    for (metric, labels), expr in zip(sorted(exported), sorted(exprs), strict=True):
        assert expr.startswith(metric + "{")
        for name, value in labels:
            assert f'{name}="{value}"' in expr


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("perennia_drift", {}, 1.0), "metric 'perennia_drift' is unknown"),
        (("perennia_drift_score", {"model": "m"}, 1.0), "takes exactly the labels model, feature"),
        (("perennia_monitor_value", {"monitor": "m", "value": 1}, 1.0), "must be a string"),
        (("perennia_monitor_value", {"monitor": "m", "value": "v"}, "1"), "must be a number"),
    ],
)
def test_a_bad_sample_is_refused(arguments, message):
    with pytest.raises(InvalidInput, match=message):
        GaugeSample(*arguments)


def test_bad_monitor_output_is_refused():
    with pytest.raises(InvalidInput, match="'\\*' names no feature"):
        gauge_samples("m", "mon", {"feature.*.psi": 0.1})
    with pytest.raises(InvalidInput, match="must look like feature.<feature>.<method>"):
        gauge_samples("m", "mon", {"feature.age": 0.1})
    with pytest.raises(InvalidInput, match="must be a number or None"):
        gauge_samples("m", "mon", {"rows": "many"})
    with pytest.raises(InvalidInput, match="source returned str, not GaugeSample"):
        gauge_lines(["perennia_drift_score 1"])
