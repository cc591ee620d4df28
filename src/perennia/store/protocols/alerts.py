"""The alerts part: where each of a monitor's alert rules stands, and the audit trail of its
alerts' firings and resolves.

A monitor's runner evaluates its alert rules after each window and records the outcome as one
step: the rules' new states and the events they produced, in one transaction, so the trail never
disagrees with the states a restarted runner carries on from.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from perennia.entities import AlertEventRecord, AlertStateRecord

DEFAULT_EVENTS = 100


class AlertStore(Protocol):
    """Monitors' alert states and alert events (`store.alerts`)."""

    def get_alert_states(self, monitor: str) -> dict[str, AlertStateRecord]:
        """Return the monitor's alert states by rule name ({} when it has none; NotFound when
        there is no such monitor)."""
        ...

    def record_alert_step(
        self,
        monitor: str,
        states: Sequence[AlertStateRecord],
        events: Sequence[AlertEventRecord],
    ) -> list[AlertEventRecord]:
        """Return `events` as stored, after upserting `states` and appending `events` in one
        transaction (NotFound when there is no such monitor).

        Every record must name `monitor`; a rule's state, and an event, is given once per step.
        The store sets `updated_ms`, `event_id` and `recorded_ms`. An event already stored (same
        rule, fingerprint, status and time_ms) is not stored again: the stored one is returned,
        so re-running a window never duplicates a firing.
        """
        ...

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
        between `since_ms` and `until_ms` inclusive, newest first (NotFound for an unknown
        monitor)."""
        ...
