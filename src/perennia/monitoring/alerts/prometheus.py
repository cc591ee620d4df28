"""Prometheus alerting rules generated from Perennia's alert rules, one group per model.

Each rule becomes `<gauge selector> <op> <threshold>` over the gauges `gauges.py` exports
(see `promql.value_selector`), with `for` and `keep_firing_for` as Prometheus durations, the
rule's labels plus `monitor`, `severity` and `model`, and its annotations. `cooldown_ms` has
no Prometheus counterpart and is left out (Alertmanager's `repeat_interval` and inhibition
are the closest tools there). The output is YAML for `rule_files:`; PyYAML is not needed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from perennia.errors import InvalidInput
from perennia.monitoring.alerts.promql import check_model, duration, value_selector
from perennia.monitoring.alerts.rules import AlertRule
from perennia.monitoring.alerts.yamltext import dump_yaml


def alert_rules(model: str, rules: Iterable[AlertRule]) -> dict[str, Any]:
    """Return the Prometheus rule file for `model`'s rules as a dict ({"groups": [...]})."""
    model = check_model(model)
    chosen = list(rules)
    for rule in chosen:
        if not isinstance(rule, AlertRule):
            raise InvalidInput(f"rules must hold AlertRule objects, got {type(rule).__name__}")
    names = [rule.name for rule in chosen]
    duplicate = next((name for name in names if names.count(name) > 1), None)
    if duplicate:
        raise InvalidInput(f"rule name {duplicate!r} is used twice; alert names must be unique")
    return {
        "groups": [
            {
                "name": f"perennia-model-{model}",
                "rules": [prometheus_rule(model, r) for r in chosen],
            }
        ]
    }


def alert_rules_yaml(model: str, rules: Iterable[AlertRule]) -> str:
    """Return the Prometheus rule file for `model`'s rules as YAML text."""
    return dump_yaml(alert_rules(model, rules))


def prometheus_rule(model: str, rule: AlertRule) -> dict[str, Any]:
    """Return one Prometheus alerting rule (alert, expr, for, labels, annotations and so on)."""
    expr = f"{value_selector(model, rule.monitor, rule.value_key)} {rule.op} {rule.threshold!r}"
    entry: dict[str, Any] = {"alert": rule.name, "expr": expr}
    if rule.for_ms:
        entry["for"] = duration(rule.for_ms)
    if rule.keep_firing_ms:
        entry["keep_firing_for"] = duration(rule.keep_firing_ms)
    # The series already carry `model` except perennia_monitor_value; the rule's own labels win.
    entry["labels"] = {
        "model": model,
        **rule.labels,
        "monitor": rule.monitor,
        "severity": rule.severity,
    }
    if rule.annotations:
        entry["annotations"] = dict(rule.annotations)
    return entry
