"""The Alertmanager webhook payload (version 4), so any Alertmanager receiver understands us.

Shape, as Alertmanager's `webhook_config` POSTs it:

    {"version": "4", "groupKey": ..., "truncatedAlerts": 0, "status": "firing|resolved",
     "receiver": ..., "groupLabels": {...}, "commonLabels": {...}, "commonAnnotations": {...},
     "externalURL": ..., "alerts": [{"status", "labels", "annotations", "startsAt", "endsAt",
     "generatorURL", "fingerprint"}, ...]}

`endsAt` is Go's zero time, 0001-01-01T00:00:00Z, while an alert fires.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from perennia.monitoring.alerts.channels.base import group_status
from perennia.monitoring.alerts.events import AlertEvent, rfc3339


def alertmanager_payload(
    events: Sequence[AlertEvent],
    *,
    receiver: str,
    external_url: str = "",
    generator_url: str = "",
    group_by: Sequence[str] = ("alertname",),
) -> dict[str, Any]:
    """Return the webhook v4 JSON object for a group of events sent to `receiver`."""
    common_labels = _common([event.labels for event in events])
    group_labels = {name: common_labels[name] for name in group_by if name in common_labels}
    return {
        "version": "4",
        "groupKey": "{}:" + _label_set(group_labels),
        "truncatedAlerts": 0,
        "status": group_status(events),
        "receiver": receiver,
        "groupLabels": group_labels,
        "commonLabels": common_labels,
        "commonAnnotations": _common([event.annotations for event in events]),
        "externalURL": external_url,
        "alerts": [_alert(event, generator_url) for event in events],
    }


def _alert(event: AlertEvent, generator_url: str) -> dict[str, Any]:
    return {
        "status": event.status,
        "labels": dict(event.labels),
        "annotations": dict(event.annotations),
        "startsAt": rfc3339(event.starts_at_ms),
        "endsAt": rfc3339(event.ends_at_ms),
        "generatorURL": generator_url,
        "fingerprint": event.fingerprint,
    }


def _common(mappings: Sequence[Mapping[str, str]]) -> dict[str, str]:
    if not mappings:
        return {}
    first, *rest = mappings
    return {
        name: value
        for name, value in sorted(first.items())
        if all(other.get(name) == value for other in rest)
    }


def _label_set(labels: Mapping[str, str]) -> str:
    # Alertmanager's group key writes the group labels as a Prometheus label set.
    pairs = ", ".join(f"{name}={json.dumps(value)}" for name, value in sorted(labels.items()))
    return "{" + pairs + "}"
