"""Monitors' alerts: /api/v1/monitors/{name}/alert-states and /alert-steps, and
/api/v1/alert-events (the audit trail of firings and resolves across monitors).

Access follows the monitors' server-wide rule (`Caller.monitor`): any signed-in user reads alert
states and events (what the UI and on-call people look at); recording a step, which a monitor's
runner does after each window, needs editor as the server's default role, or an administrator.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from perennia.entities import AlertEventRecord, AlertStateRecord, Role
from perennia.server.access import Caller, caller_of
from perennia.server.routes.common import entity, store_of
from perennia.server.schemas import Strict, exact_types
from perennia.store.base import ServerStore
from perennia.store.protocols.alerts import DEFAULT_EVENTS

router = APIRouter(tags=["alerts"])

MONITOR = "/api/v1/monitors/{name}"
ALERT_EVENTS = "/api/v1/alert-events"


class RecordStep(Strict):
    """One window's alert evaluation: the rules' new states and the events they produced.

    Records carry the entities' own fields, each JSON type checked exactly (no `true` or `"5"`
    read as a number); `updated_ms`, `event_id` and `recorded_ms` are the store's to set.
    """

    states: list[Annotated[AlertStateRecord, exact_types(AlertStateRecord)]]
    events: list[Annotated[AlertEventRecord, exact_types(AlertEventRecord)]]


@router.get(MONITOR + "/alert-states")
def get_alert_states(
    name: str, caller: Caller = Depends(caller_of), store: ServerStore = Depends(store_of)
) -> JSONResponse:
    """Return the monitor's alert states, one per rule, by rule name."""
    found = store.alerts.get_alert_states(caller.monitor(name, Role.VIEWER))
    return entity({"states": list(found.values())})


@router.post(MONITOR + "/alert-steps")
def record_alert_step(
    name: str,
    body: RecordStep,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Store a step's states and new events in one transaction; returns the events as stored."""
    caller.monitor(name, Role.EDITOR)
    stored = store.alerts.record_alert_step(name, body.states, body.events)
    return entity({"events": stored})


@router.get(ALERT_EVENTS)
def list_alert_events(
    monitor: str | None = None,
    rule: str | None = None,
    status: str | None = None,
    since_ms: int | None = None,
    until_ms: int | None = None,
    limit: int = DEFAULT_EVENTS,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Return alert events (of one monitor, rule or status, when given), newest first."""
    if monitor is None:
        caller.signed_in()
    else:
        caller.monitor(monitor, Role.VIEWER)
    found = store.alerts.list_alert_events(monitor, rule, status, since_ms, until_ms, limit)
    return entity({"events": found})
