"""Monitors' alerts in SQL: one state row per rule, and an append-only trail of alert events.

A step (one window's alert evaluation) is one transaction that first locks the monitor's row, as
recording a window does: recorders of one monitor take turns, so looking up which of the step's
events are already stored and inserting the rest cannot race, and a monitor deleted meanwhile is
found missing instead of gaining orphan rows. The events' unique key (rule, fingerprint, status,
time) backs that lookup up in the schema.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Engine, insert, select

from perennia.clock import now_ms as clock_ms
from perennia.entities import AlertEventRecord, AlertStateRecord
from perennia.store.alert_checks import (
    check_event_filters,
    check_events,
    check_states,
    event_key,
)
from perennia.store.monitor_checks import check_monitor_name
from perennia.store.protocols.alerts import DEFAULT_EVENTS
from perennia.store.sql import schema as s
from perennia.store.sql.engine import read_transaction, write_transaction
from perennia.store.sql.monitors import _read as read_monitor
from perennia.store.sql.upsert import upsert

_EVENT_COLUMNS = (
    s.alert_events.c.rule,
    s.alert_events.c.status,
    s.alert_events.c.fingerprint,
    s.alert_events.c.time_ms,
    s.alert_events.c.event,
    s.alert_events.c.event_id,
    s.alert_events.c.recorded_ms,
)


def _json(value: dict[str, Any]) -> str:
    # The checks refused NaN and infinities already; allow_nan=False keeps it that way.
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def _event_of(monitor: str, row: Any) -> AlertEventRecord:
    """Return the AlertEventRecord an `alert_events` row (read as _EVENT_COLUMNS) holds."""
    rule, status, fingerprint, time_ms, event, event_id, recorded_ms = row
    return AlertEventRecord(
        monitor, rule, status, fingerprint, time_ms, json.loads(event), event_id, recorded_ms
    )


class SqlAlertStore:
    """The `AlertStore` protocol over SQLAlchemy Core."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get_alert_states(self, monitor: str) -> dict[str, AlertStateRecord]:
        """Return the monitor's alert states by rule name ({} when it has none)."""
        name = check_monitor_name(monitor)
        a = s.alert_states
        with read_transaction(self.engine) as conn:
            monitor_id = read_monitor(conn, name).monitor_id
            query = (
                select(a.c.rule, a.c.state, a.c.updated_ms)
                .where(a.c.monitor_id == monitor_id)
                .order_by(a.c.rule)
            )
            rows = conn.execute(query).all()
        return {
            rule: AlertStateRecord(name, rule, json.loads(state), updated_ms)
            for rule, state, updated_ms in rows
        }

    def record_alert_step(
        self,
        monitor: str,
        states: Sequence[AlertStateRecord],
        events: Sequence[AlertEventRecord],
    ) -> list[AlertEventRecord]:
        """Return `events` as stored, after upserting `states` and appending the events not
        stored yet, in one transaction (see the protocol)."""
        name = check_monitor_name(monitor)
        clean_states = check_states(name, states)
        clean_events = check_events(name, events)
        a, e = s.alert_states, s.alert_events
        with write_transaction(self.engine) as conn:
            monitor_id = read_monitor(conn, name, lock=True).monitor_id
            now = clock_ms()
            rows = [
                {
                    "monitor_id": monitor_id,
                    "rule": r.rule,
                    "state": _json(r.state),
                    "updated_ms": now,
                }
                for r in clean_states
            ]
            upsert(conn, a, rows, ("monitor_id", "rule"), ("state", "updated_ms"))
            if not clean_events:
                return []
            # Only the step's times can hold a stored copy: one indexed range on (monitor, time).
            times = sorted({event.time_ms for event in clean_events})
            query = select(*_EVENT_COLUMNS).where(
                e.c.monitor_id == monitor_id, e.c.time_ms.in_(times)
            )
            stored = {}
            for row in conn.execute(query):
                found = _event_of(name, row)
                stored[event_key(found)] = found
            new = [event for event in clean_events if event_key(event) not in stored]
            if new:
                rows = [
                    {
                        "monitor_id": monitor_id,
                        "rule": event.rule,
                        "status": event.status,
                        "fingerprint": event.fingerprint,
                        "time_ms": event.time_ms,
                        "event": _json(event.event),
                        "recorded_ms": now,
                    }
                    for event in new
                ]
                # Ids come back in the order the rows were given, so they pair with `new`.
                statement = insert(e).returning(e.c.event_id, sort_by_parameter_order=True)
                ids = conn.execute(statement, rows).scalars().all()
                for event, event_id in zip(new, ids, strict=True):
                    stored[event_key(event)] = replace(event, event_id=event_id, recorded_ms=now)
        return [stored[event_key(event)] for event in clean_events]

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
        name, rule, status, since, until, limit = check_event_filters(
            monitor, rule, status, since_ms, until_ms, limit
        )
        e, m = s.alert_events, s.monitors
        conditions = []
        if rule is not None:
            conditions.append(e.c.rule == rule)
        if status is not None:
            conditions.append(e.c.status == status)
        if since is not None:
            conditions.append(e.c.time_ms >= since)
        if until is not None:
            conditions.append(e.c.time_ms <= until)
        with read_transaction(self.engine) as conn:
            if name is not None:
                conditions.append(e.c.monitor_id == read_monitor(conn, name).monitor_id)
            query = (
                select(m.c.name, *_EVENT_COLUMNS)
                .join(m, m.c.monitor_id == e.c.monitor_id)
                .where(*conditions)
                # Equal times (a rule resolving as another fires) keep their recording order.
                .order_by(e.c.time_ms.desc(), e.c.event_id.desc())
                .limit(limit)
            )
            rows = conn.execute(query).all()
        return [_event_of(row[0], row[1:]) for row in rows]
