"""Prometheus alerting rules generated from alert rules, read back with PyYAML."""

from __future__ import annotations

import re

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from perennia.errors import InvalidInput
from perennia.monitoring.alerts import alert_rules, alert_rules_yaml
from perennia.monitoring.alerts.promql import duration, string_literal
from perennia.monitoring.alerts.yamltext import dump_yaml, quote
from tests.monitoring.alerts.conftest import make_rule

PROMETHEUS_DURATION = re.compile(r"(\d+(ms|s|m|h|d))+")
ALERT_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def rules():
    return [
        make_rule(
            name="feature_drift",
            value="feature.*.psi",
            threshold=0.2,
            for_ms=30 * 60_000,
            keep_firing_ms=90_000,
            labels={"team": "risk"},
            annotations={"summary": 'PSI above 0.2 for "{{ $labels.feature }}"'},
            severity="critical",
        ),
        make_rule(name="age_drift", value="feature.age.ks", op=">=", threshold=0.3),
        make_rule(name="f1_estimate_low", value="estimated.f1", op="<", threshold=0.8),
        make_rule(name="f1_low", value="realised.f1", op="<=", threshold=0.75, for_ms=3_600_000),
        make_rule(name="share_drifted", value="drift.share_drifted", threshold=0.5),
    ]


def test_the_rule_file_parses_back_into_one_group_per_model():
    text = alert_rules_yaml("fraud", rules())
    parsed = yaml.safe_load(text)
    assert parsed == alert_rules("fraud", rules())
    (group,) = parsed["groups"]
    assert group["name"] == "perennia-model-fraud"
    assert [r["alert"] for r in group["rules"]] == [
        "feature_drift",
        "age_drift",
        "f1_estimate_low",
        "f1_low",
        "share_drifted",
    ]
    drift = group["rules"][0]
    assert drift == {
        "alert": "feature_drift",
        "expr": 'max by (feature) (perennia_drift_score{model="fraud",method="psi"}) > 0.2',
        "for": "30m",
        "keep_firing_for": "90s",
        "labels": {
            "model": "fraud",
            "team": "risk",
            "monitor": "fraud-daily",
            "severity": "critical",
        },
        "annotations": {"summary": 'PSI above 0.2 for "{{ $labels.feature }}"'},
    }


def test_each_value_kind_queries_its_gauge():
    exprs = {r["alert"]: r["expr"] for r in alert_rules("fraud", rules())["groups"][0]["rules"]}
    assert exprs["age_drift"] == (
        'max by (feature) (perennia_drift_score{model="fraud",feature="age",method="ks"}) >= 0.3'
    )
    assert exprs["f1_estimate_low"] == (
        'perennia_estimated_performance{model="fraud",metric="f1"} < 0.8'
    )
    assert exprs["f1_low"] == 'perennia_realised_performance{model="fraud",metric="f1"} <= 0.75'
    assert exprs["share_drifted"] == (
        'perennia_monitor_value{monitor="fraud-daily",value="drift.share_drifted"} > 0.5'
    )


def test_every_rule_has_the_fields_prometheus_checks():
    for rule in yaml.safe_load(alert_rules_yaml("fraud", rules()))["groups"][0]["rules"]:
        assert set(rule) <= {"alert", "expr", "for", "keep_firing_for", "labels", "annotations"}
        assert ALERT_NAME.fullmatch(rule["alert"])
        for key in ("for", "keep_firing_for"):
            if key in rule:
                assert PROMETHEUS_DURATION.fullmatch(rule[key])
        assert all(isinstance(v, str) for v in rule["labels"].values())
        assert "for" in rule or rule["alert"] not in ("feature_drift", "f1_low")


def test_zero_durations_are_left_out_and_cooldown_has_no_prometheus_field():
    (rule,) = alert_rules("m", [make_rule(cooldown_ms=60_000)])["groups"][0]["rules"]
    assert "for" not in rule and "keep_firing_for" not in rule and "annotations" not in rule
    assert "cooldown" not in alert_rules_yaml("m", [make_rule(cooldown_ms=60_000)])


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0, "0s"),
        (1, "1ms"),
        (1_500, "1500ms"),
        (90_000, "90s"),
        (1_800_000, "30m"),
        (5_400_000, "90m"),
        (7_200_000, "2h"),
        (86_400_000, "1d"),
        (90_000_000, "25h"),
    ],
)
def test_durations_use_the_largest_exact_unit(ms, text):
    assert duration(ms) == text


def test_odd_model_names_stay_inside_their_strings():
    model = 'fraud "v2"\\eu'
    parsed = yaml.safe_load(alert_rules_yaml(model, [make_rule(value="estimated.f1")]))
    (group,) = parsed["groups"]
    assert group["name"] == f"perennia-model-{model}"
    assert group["rules"][0]["labels"]["model"] == model
    assert group["rules"][0]["expr"] == (
        'perennia_estimated_performance{model="fraud \\"v2\\"\\\\eu",metric="f1"} > 0.5'
    )
    assert string_literal("a\nb") == '"a\\nb"'


def test_bad_input_is_refused():
    with pytest.raises(InvalidInput, match="rule name 'drift_high' is used twice"):
        alert_rules("fraud", [make_rule(), make_rule(threshold=0.9)])
    with pytest.raises(InvalidInput, match="rules must hold AlertRule objects"):
        alert_rules("fraud", [{"name": "x"}])
    with pytest.raises(InvalidInput, match="must be one line"):
        alert_rules("a\nb", [])
    with pytest.raises(InvalidInput, match="model must not be empty"):
        alert_rules("", [])


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_string_reads_back_unchanged(text):
    assert yaml.safe_load(quote(text)) == text
    assert yaml.safe_load(dump_yaml({text: [text, {"k": text}]})) == {text: [text, {"k": text}]}


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=20),
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=10), inner, max_size=4),
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.text(max_size=10), documents, max_size=5))
def test_any_document_reads_back_unchanged(document):
    assert yaml.safe_load(dump_yaml(document)) == (document or {})
