"""The monitoring entities: a stored monitor, and what each of its computed windows left behind.

A monitor watches one deployment (or model) against a reference profile: every `window_ms` of
served traffic it computes drift and performance values. Each window leaves a `MonitorRun` (its
summary and status) and one `MonitorPoint` per value, so the values form a time series per key
that the UI and Grafana chart. A monitor runs on demand, or every `schedule_ms` in the server,
where one replica at a time holds it (`lease_owner` until `lease_until_ms`). Its alert rules
leave an `AlertStateRecord` per rule (where the rule's state machine stands) and an
`AlertEventRecord` per firing or resolve (the audit trail of its alerts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# What a computed window came to: values, no rows in the window, or an error.
MONITOR_RUN_STATUSES = ("ok", "empty", "failed")


@dataclass(frozen=True, slots=True)
class Monitor:
    """A stored monitor: what it watches, against which reference, how often, and its progress."""

    name: str
    reference: str  # the reference profile: a URI ("datasets:/train@3") or "sha256:<hex>"
    window_ms: int  # the width of one computed window
    deployment: str | None = None  # the deployment whose prediction log it reads
    model_name: str | None = None
    model_version: int | None = None
    schedule_ms: int | None = None  # run every N ms in the server; None: on demand only
    config: dict[str, Any] = field(default_factory=dict)  # columns, thresholds, task, alerts...
    description: str = ""
    # Set by the store; the values a draft carries are ignored (next_run_ms: see create_monitor).
    created_ms: int = 0
    updated_ms: int = 0
    created_by: str | None = None
    last_window_end_ms: int | None = None  # the end of the newest window recorded
    next_run_ms: int | None = None  # when a scheduled monitor is due; None when unscheduled
    lease_owner: str | None = None  # the replica running it now, if any
    lease_until_ms: int | None = None  # when that replica's claim lapses


@dataclass(frozen=True, slots=True)
class MonitorPoint:
    """One value of one computed window: a point of the monitor's time series for `key`."""

    monitor: str
    window_start_ms: int
    window_end_ms: int
    key: str  # "drift.share_drifted", "feature.age.psi", "estimated.f1", "rows", ...
    value: float | None  # None: not computable in this window (never NaN or infinite)
    computed_ms: int


@dataclass(frozen=True, slots=True)
class MonitorRun:
    """One computed window's summary: its status, the report (JSON) and the error, if any."""

    monitor: str
    window_start_ms: int
    window_end_ms: int
    computed_ms: int
    status: str  # one of MONITOR_RUN_STATUSES
    summary: dict[str, Any] = field(default_factory=dict)  # e.g. a drift report's to_dict()
    error: str | None = None  # why a failed window failed


# What an alert event records: a rule's alert started firing, or stopped.
ALERT_EVENT_STATUSES = ("firing", "resolved")


@dataclass(frozen=True, slots=True)
class AlertStateRecord:
    """Where one alert rule of a monitor stands, kept so evaluation carries on after a restart."""

    monitor: str
    rule: str  # the alert rule's name
    state: dict[str, Any] = field(default_factory=dict)  # the state machine's AlertState.to_dict()
    updated_ms: int = 0  # set by the store when the state is written; a draft's value is ignored


@dataclass(frozen=True, slots=True)
class AlertEventRecord:
    """One firing or resolve of a monitor's alert rule, as stored in the alert audit trail.

    An event is identified by (monitor, rule, fingerprint, status, time_ms): recording it
    again (a re-run of the same window) returns the stored event instead of a second one.
    """

    monitor: str
    rule: str
    status: str  # one of ALERT_EVENT_STATUSES
    fingerprint: str  # the alert's label fingerprint: 16 lowercase hex digits
    time_ms: int  # when it fired or resolved
    event: dict[str, Any] = field(default_factory=dict)  # the event's to_dict()
    # Set by the store; the values a draft carries are ignored.
    event_id: int = 0  # increasing in the order events were first recorded
    recorded_ms: int = 0
