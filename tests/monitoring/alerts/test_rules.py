"""Alert rules: validation at construction, value keys, fingerprints, and the dict form."""

from __future__ import annotations

import json
import math

import pytest

from perennia.errors import InvalidInput
from perennia.monitoring.alerts import AlertRule, fingerprint, parse_value_key
from perennia.monitoring.alerts.fingerprint import label_signature
from tests.monitoring.alerts.conftest import make_rule


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"op": "=>"}, "op '=>' is not a comparison; use one of > >= < <= == !="),
        ({"op": None}, "is not a comparison"),
        ({"threshold": math.nan}, "threshold must be finite"),
        ({"threshold": math.inf}, "threshold must be finite"),
        ({"threshold": "0.5"}, "threshold must be a number"),
        ({"threshold": True}, "threshold must be a number"),
        ({"for_ms": -1}, "for_ms must be >= 0 milliseconds"),
        ({"cooldown_ms": -5}, "cooldown_ms must be >= 0"),
        ({"keep_firing_ms": 1.5}, "keep_firing_ms must be whole milliseconds"),
        ({"for_ms": 10**13}, "for_ms is 10000000000000 ms; at most"),
        ({"name": ""}, "name must be a non-empty string"),
        ({"name": "drift high"}, "name 'drift high' is not allowed: use letters, digits and _"),
        ({"name": "9lives"}, "not starting with a digit"),
        ({"name": "drift-high"}, "is not allowed"),
        ({"name": "x" * 129}, "is not allowed"),
        ({"monitor": ""}, "monitor must be a non-empty string"),
        ({"monitor": "a/b"}, "monitor 'a/b' is not allowed"),
        ({"value": ""}, "value must not be empty"),
        ({"value": " drift"}, "must not hold tabs, newlines or edge spaces"),
        ({"value": "feature.age"}, "must look like feature.<feature>.<method>"),
        ({"value": "feature..psi"}, "must look like feature.<feature>.<method>"),
        ({"value": "estimated."}, "must look like estimated.<metric>"),
        ({"value": "realised.f-1"}, "must look like realised.<metric>"),
        ({"severity": "page"}, "severity 'page' is unknown; use one of critical, warning, info"),
        ({"labels": {"alertname": "x"}}, "labels key 'alertname' is set by the rule itself"),
        ({"labels": {"severity": "x"}}, "use the rule's severity field"),
        ({"labels": {"__name__": "x"}}, "starts with '__', which Prometheus reserves"),
        ({"labels": {"team-name": "x"}}, "labels key 'team-name' is not allowed"),
        ({"labels": {"team": 3}}, "labels['team'] must be a string"),
        ({"labels": {"team": "a\x00b"}}, "must not contain control characters"),
        ({"labels": ["team"]}, "labels must be a mapping"),
        ({"annotations": {"summary": None}}, "annotations['summary'] must be a string"),
    ],
)
def test_an_invalid_rule_is_refused_with_a_message_naming_the_field(overrides, message):
    with pytest.raises(InvalidInput) as raised:
        make_rule(**overrides)
    assert message in str(raised.value)


def test_a_valid_rule_is_normalised_and_compares_its_value():
    rule = make_rule(threshold=1, for_ms=30_000, labels={"b": "2", "a": "1"}, severity="critical")
    assert rule.threshold == 1.0 and isinstance(rule.threshold, float)
    assert list(rule.labels) == ["a", "b"]
    assert rule.alert_labels == {
        "a": "1",
        "b": "2",
        "alertname": "drift_high",
        "monitor": "fraud-daily",
        "severity": "critical",
    }
    assert rule.holds(1.5) and not rule.holds(1.0)
    assert make_rule(op="<=", threshold=1).holds(1.0)
    assert make_rule(op="!=", threshold=1).holds(math.inf)
    assert hash(rule) == hash(make_rule(threshold=1, for_ms=30_000, severity="critical"))


def test_a_rule_survives_a_json_round_trip():
    rule = make_rule(
        value="feature.*.psi",
        op=">=",
        threshold=0.2,
        for_ms=1,
        cooldown_ms=2,
        keep_firing_ms=3,
        labels={"team": "risk"},
        annotations={"summary": "PSI above 0.2", "runbook": "https://wiki/x"},
        severity="info",
    )
    again = AlertRule.from_dict(json.loads(json.dumps(rule.to_dict())))
    assert again == rule
    assert again.labels == rule.labels and again.annotations == rule.annotations


def test_from_dict_names_unknown_and_missing_keys():
    data = make_rule().to_dict()
    with pytest.raises(InvalidInput, match="unknown key 'treshold'; accepted keys are name"):
        AlertRule.from_dict({**data, "treshold": 1})
    data.pop("threshold")
    with pytest.raises(InvalidInput, match="'threshold' is required"):
        AlertRule.from_dict(data)


@pytest.mark.parametrize(
    ("key", "kind", "feature", "method", "metric"),
    [
        ("feature.age.psi", "drift", "age", "psi", None),
        ("feature.*.psi", "drift", "*", "psi", None),
        ("feature.address.zip.ks", "drift", "address.zip", "ks", None),
        ("estimated.f1", "estimated", None, None, "f1"),
        ("realised.roc_auc", "realised", None, None, "roc_auc"),
        ("realized.roc_auc", "realised", None, None, "roc_auc"),
        ("drift.share_drifted", "monitor", None, None, None),
        ("rows", "monitor", None, None, None),
    ],
)
def test_value_keys_name_their_gauge(key, kind, feature, method, metric):
    parsed = parse_value_key(key)
    assert (parsed.kind, parsed.feature, parsed.method, parsed.metric) == (
        kind,
        feature,
        method,
        metric,
    )


def test_a_wildcard_rule_sees_the_feature_that_triggers_it():
    values = {"feature.age.psi": 0.1, "feature.zip.psi": 0.4, "feature.age.ks": 9.0, "rows": 5}
    assert make_rule(value="feature.*.psi", op=">", threshold=0.2).pick(values) == 0.4
    assert make_rule(value="feature.*.psi", op="<", threshold=0.2).pick(values) == 0.1
    assert make_rule(value="feature.*.psi", op="==", threshold=0.4).pick(values) == 0.4
    assert make_rule(value="feature.*.psi").pick({"feature.age.psi": math.nan}) is None
    assert make_rule(value="feature.*.psi").pick({}) is None
    assert make_rule(value="feature.age.ks").pick(values) == 9.0
    assert make_rule(value="rows").pick(values) == 5.0
    assert make_rule(value="rows").pick({"rows": None}) is None
    with pytest.raises(InvalidInput, match="rows must be a number or None"):
        make_rule(value="rows").pick({"rows": "five"})


def test_fingerprints_match_prometheus_label_signatures():
    # Test vectors from prometheus/common model/signature_test.go (LabelsToSignature).
    assert label_signature({}) == 14695981039346656037
    labels = {"name": "garland, briggs", "fear": "love is not enough"}
    assert label_signature(labels) == 5799056148416392346
    assert label_signature({"first-label": "first-label-value"}) == 5146282821936882169
    assert fingerprint(labels) == f"{5799056148416392346:016x}"
    assert len(fingerprint({})) == 16


def test_a_rules_fingerprint_depends_on_its_name_and_labels_only():
    base = make_rule(labels={"team": "risk"})
    assert (
        base.fingerprint == make_rule(labels={"team": "risk"}, threshold=0.9, for_ms=5).fingerprint
    )
    assert base.fingerprint != make_rule(labels={"team": "ops"}).fingerprint
    assert base.fingerprint != make_rule(name="other", labels={"team": "risk"}).fingerprint
    assert base.fingerprint == fingerprint(base.alert_labels)
