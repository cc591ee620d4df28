"""The `AlertStore` protocol over the native REST API (`/api/v1/monitors/{name}/alert-states`,
`/alert-steps`, and `/api/v1/alert-events`).

Everything is checked here before it is sent (the same checks the SQL store runs), so bad input
costs no round trip and a name can never become a different URL path; the server checks
everything again, and decides who acts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from perennia.entities import AlertEventRecord, AlertStateRecord, from_dict, to_dict
from perennia.store.alert_checks import check_event_filters, check_events, check_states
from perennia.store.monitor_checks import check_monitor_name
from perennia.store.protocols.alerts import DEFAULT_EVENTS
from perennia.store.rest.http import HttpSession
from perennia.store.rest.monitors import monitor_path

ALERT_EVENTS = "/api/v1/alert-events"


class RestAlertStore:
    """Monitors' alerts through the server (reads need sign-in, recording a step editor)."""

    def __init__(self, http: HttpSession) -> None:
        self.http = http

    def get_alert_states(self, monitor: str) -> dict[str, AlertStateRecord]:
        """Return the monitor's alert states by rule name ({} when it has none)."""
        found = self.http.request("GET", monitor_path(monitor, "/alert-states"))["states"]
        return {r.rule: r for r in from_dict(list[AlertStateRecord], found)}

    def record_alert_step(
        self,
        monitor: str,
        states: Sequence[AlertStateRecord],
        events: Sequence[AlertEventRecord],
    ) -> list[AlertEventRecord]:
        """Return `events` as stored, after upserting `states` and appending the events not
        stored yet, in one transaction (see the protocol)."""
        path = monitor_path(monitor, "/alert-steps")
        name = check_monitor_name(monitor)
        body = {
            "states": to_dict(check_states(name, states)),
            "events": to_dict(check_events(name, events)),
        }
        found = self.http.request("POST", path, json=body)["events"]
        return from_dict(list[AlertEventRecord], found)

    def list_alert_events(
        self,
        monitor: str | None = None,
        rule: str | None = None,
        status: str | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int = DEFAULT_EVENTS,
    ) -> list[AlertEventRecord]:
        """Return alert events (of one monitor, rule or status, when given) whose time_ms is
        between `since_ms` and `until_ms` inclusive, newest first."""
        checked = check_event_filters(monitor, rule, status, since_ms, until_ms, limit)
        names = ("monitor", "rule", "status", "since_ms", "until_ms", "limit")
        params: dict[str, Any] = {
            k: v for k, v in zip(names, checked, strict=True) if v is not None
        }
        found = self.http.request("GET", ALERT_EVENTS, params=params)["events"]
        return from_dict(list[AlertEventRecord], found)
