"""Alerting on monitored values: rules, the firing/resolving state machine, channels, Prometheus.

A monitor computes values (`drift.share_drifted`, `feature.age.psi`, `estimated.f1`, ...);
an `AlertRule` watches one of them; `evaluate(rule, state, value, time_ms)` moves the rule's
`AlertState` and emits an `AlertEvent` when the alert fires or resolves; channels (webhook,
e-mail, log) deliver events and an `AlertBus` hands them to in-process subscribers such as
the retraining loop. For teams on Prometheus, `alert_rules_yaml` writes the same rules as
Prometheus alerting rules over the gauges `MonitorCollector` exports, and
`grafana_dashboard` charts them. Nothing here touches the store yet: states and events are
frozen dataclasses with `to_dict`/`from_dict`, ready for the store part that will keep them.
"""

from __future__ import annotations

from perennia.monitoring.alerts.bus import AlertBus
from perennia.monitoring.alerts.channels import (
    Channel,
    DeliveryFailed,
    DeliveryResult,
    EmailChannel,
    LogChannel,
    WebhookChannel,
    alertmanager_payload,
    channel_from_config,
)
from perennia.monitoring.alerts.evaluator import Evaluation, evaluate, replay
from perennia.monitoring.alerts.events import AlertEvent, rfc3339
from perennia.monitoring.alerts.fingerprint import fingerprint
from perennia.monitoring.alerts.gauges import (
    GaugeSample,
    MonitorCollector,
    gauge_lines,
    gauge_samples,
)
from perennia.monitoring.alerts.grafana import dashboard_uid, grafana_dashboard
from perennia.monitoring.alerts.prometheus import alert_rules, alert_rules_yaml
from perennia.monitoring.alerts.rules import OPS, SEVERITIES, AlertRule
from perennia.monitoring.alerts.state import AlertState
from perennia.monitoring.alerts.values import ValueKey, parse_value_key

__all__ = [
    "OPS",
    "SEVERITIES",
    "AlertBus",
    "AlertEvent",
    "AlertRule",
    "AlertState",
    "Channel",
    "DeliveryFailed",
    "DeliveryResult",
    "EmailChannel",
    "Evaluation",
    "GaugeSample",
    "LogChannel",
    "MonitorCollector",
    "ValueKey",
    "WebhookChannel",
    "alert_rules",
    "alert_rules_yaml",
    "alertmanager_payload",
    "channel_from_config",
    "dashboard_uid",
    "evaluate",
    "fingerprint",
    "gauge_lines",
    "gauge_samples",
    "grafana_dashboard",
    "parse_value_key",
    "replay",
    "rfc3339",
]
