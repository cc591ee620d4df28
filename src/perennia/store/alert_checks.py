"""Checks on monitors' alert states and events before anything is stored or sent.

Shared by the SQL store (the authority) and the REST client (before sending), so both refuse the
same input with the same message. Each check returns the cleaned value or raises InvalidInput
naming the field and what would be accepted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from perennia.entities.monitoring import (
    ALERT_EVENT_STATUSES,
    AlertEventRecord,
    AlertStateRecord,
)
from perennia.errors import InvalidInput
from perennia.store.monitor_checks import check_limit, check_monitor_name, check_time
from perennia.store.validation import validate_dataset_json

# The rule names monitoring's alert rules accept (monitoring/alerts/checks.py's RULE_NAME,
# repeated here because the store sits below monitoring): they become Prometheus alert names.
_RULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_FINGERPRINT = re.compile(r"[0-9a-f]{16}")
MAX_RULE = 128
# A state is a handful of times and a fingerprint; an event carries labels and annotations.
MAX_STATE_CHARS = 16_384
MAX_EVENT_CHARS = 65_536
# One step is one window's evaluation: at most one state and a few events per rule.
MAX_STATES = 1_000
MAX_EVENTS = 1_000
MAX_EVENTS_LISTED = 10_000


def check_rule(rule: Any, field: str = "rule") -> str:
    """Return a valid alert rule name ([A-Za-z_][A-Za-z0-9_]*, at most 128), or raise."""
    if not isinstance(rule, str) or not _RULE.fullmatch(rule):
        raise InvalidInput(
            f"{field} must be 1-{MAX_RULE} letters, digits or '_', not starting with a digit "
            f"(e.g. 'share_drifted'), got {rule!r:.80}"
        )
    return rule


def check_status(status: Any) -> str:
    """Return an alert event's status ('firing' or 'resolved'), or raise InvalidInput."""
    if status not in ALERT_EVENT_STATUSES:
        raise InvalidInput(
            f"status must be one of {', '.join(ALERT_EVENT_STATUSES)}, got {status!r:.40}"
        )
    return status


def check_fingerprint(fingerprint: Any) -> str:
    """Return an alert's fingerprint (16 lowercase hex digits), or raise InvalidInput."""
    if not isinstance(fingerprint, str) or not _FINGERPRINT.fullmatch(fingerprint):
        raise InvalidInput(
            f"fingerprint must be 16 lowercase hex digits (e.g. '0a1b2c3d4e5f6a7b'), "
            f"got {fingerprint!r:.80}"
        )
    return fingerprint


def _records(values: Any, kind: type, what: str, most: int) -> Sequence[Any]:
    """Return `values` if it is a list of at most `most` records of type `kind`, else raise."""
    if isinstance(values, str | bytes | dict) or not isinstance(values, Sequence):
        raise InvalidInput(f"{what} must be a list of {kind.__name__}, got {type(values).__name__}")
    if len(values) > most:
        raise InvalidInput(f"one step holds {len(values):,} {what}; at most {most:,}")
    for value in values:
        if not isinstance(value, kind):
            raise InvalidInput(f"expected an {kind.__name__}, got {type(value).__name__}")
    return values


def _same_monitor(record: Any, monitor: str, what: str) -> None:
    if record.monitor != monitor:
        raise InvalidInput(f"the {what} names monitor {record.monitor!r:.80}, not {monitor!r}")


def check_states(monitor: str, states: Any) -> list[AlertStateRecord]:
    """Return a step's checked states: each of `monitor`, each rule once, each a JSON object."""
    seen: set[str] = set()
    checked = []
    for record in _records(states, AlertStateRecord, "states", MAX_STATES):
        _same_monitor(record, monitor, "alert state")
        rule = check_rule(record.rule)
        if rule in seen:
            raise InvalidInput(f"the state of rule {rule!r} is given twice in one step")
        seen.add(rule)
        state = validate_dataset_json(record.state, "state", MAX_STATE_CHARS, dict)
        checked.append(replace(record, rule=rule, state=state, updated_ms=0))
    return checked


def event_key(event: AlertEventRecord) -> tuple[str, str, str, int]:
    """Return what identifies an event within its monitor: (rule, fingerprint, status, time)."""
    return (event.rule, event.fingerprint, event.status, event.time_ms)


def check_events(monitor: str, events: Any) -> list[AlertEventRecord]:
    """Return a step's checked events: each of `monitor`, each once, each a JSON object."""
    seen: set[tuple[str, str, str, int]] = set()
    checked = []
    for record in _records(events, AlertEventRecord, "events", MAX_EVENTS):
        _same_monitor(record, monitor, "alert event")
        clean = replace(
            record,
            rule=check_rule(record.rule),
            status=check_status(record.status),
            fingerprint=check_fingerprint(record.fingerprint),
            time_ms=check_time(record.time_ms, "time_ms"),
            event=validate_dataset_json(record.event, "event", MAX_EVENT_CHARS, dict),
            event_id=0,
            recorded_ms=0,
        )
        key = event_key(clean)
        if key in seen:
            raise InvalidInput(
                f"the {clean.status} event of rule {clean.rule!r} at time_ms {clean.time_ms} "
                "is given twice in one step"
            )
        seen.add(key)
        checked.append(clean)
    return checked


def check_event_filters(
    monitor: Any, rule: Any, status: Any, since_ms: Any, until_ms: Any, limit: Any
) -> tuple[str | None, str | None, str | None, int | None, int | None, int]:
    """Return a listing's filters checked (None: not filtered on), or raise InvalidInput."""
    since = check_time(since_ms, "since_ms", optional=True)
    until = check_time(until_ms, "until_ms", optional=True)
    if since is not None and until is not None and since > until:
        raise InvalidInput(f"since_ms {since} is after until_ms {until}; swap them")
    return (
        None if monitor is None else check_monitor_name(monitor),
        None if rule is None else check_rule(rule),
        None if status is None else check_status(status),
        since,
        until,
        check_limit(limit, MAX_EVENTS_LISTED),
    )
