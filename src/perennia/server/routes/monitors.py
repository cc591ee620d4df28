"""/api/v1/monitors: stored monitors, their computed windows (runs and points), and leases.

The monitor's name is always the path segment right after `/api/v1/monitors/`. Access is
server-wide (`Caller.monitor`): any signed-in user reads monitors, runs and points (what the UI
and Grafana chart); creating, changing, deleting and recording windows need editor as the
server's default role, or an administrator. Claiming and releasing scheduled monitors is what
server replicas do for themselves, so over HTTP only administrators may. Who created a monitor
is the signed-in user; only with sign-in off does the server record the `username` a client
names, as the embedded store would.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import StrictFloat, StrictInt, StrictStr

from perennia.entities import Monitor, MonitorPoint, MonitorRun, Role, decode_float
from perennia.errors import InvalidInput
from perennia.server.access import Caller, caller_of
from perennia.server.routes.common import acting_user, entity, store_of
from perennia.server.routes.registry import Acting
from perennia.server.schemas import NonFinite, Strict, exact_types
from perennia.store.base import ServerStore
from perennia.store.limits import DEFAULT_SEARCH_MAX_RESULTS
from perennia.store.protocols.monitors import DEFAULT_POINTS, DEFAULT_RUNS, LEASE_MS

router = APIRouter(tags=["monitors"])

MONITORS = "/api/v1/monitors"
MONITOR = MONITORS + "/{name}"

# Bodies carry the entities themselves, each field's JSON type checked exactly (no `true` or
# `"5"` read as a number) and unknown fields refused; the store checks the values, naming the
# field and what it accepts.


class CreateMonitor(Acting):
    monitor: Annotated[Monitor, exact_types(Monitor)]


class UpdateMonitor(Strict):
    """Only the fields present change; `schedule_ms: null` makes the monitor on demand only."""

    window_ms: StrictInt | None = None
    schedule_ms: StrictInt | None = None
    reference: StrictStr | None = None
    config: dict[str, Any] | None = None
    description: StrictStr | None = None


class RecordWindow(Strict):
    """One computed window: its run, and its points as parallel columns (each point carries
    the run's window and computed_ms, so only keys and values travel)."""

    run: Annotated[MonitorRun, exact_types(MonitorRun)]
    keys: list[StrictStr] = []
    # "NaN" and the infinities parse (as `to_dict` writes them), then the store refuses them.
    values: list[StrictInt | StrictFloat | NonFinite | None] = []
    last_window_end_ms: StrictInt | None = None


class ClaimDue(Strict):
    now_ms: StrictInt
    owner: StrictStr
    lease_ms: StrictInt = LEASE_MS
    limit: StrictInt = 10


class Release(Strict):
    owner: StrictStr
    next_run_ms: StrictInt | None = None


@router.post(MONITORS, status_code=201)
def create_monitor(
    body: CreateMonitor,
    request: Request,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Create a monitor; returns it as stored (409 if the name is taken)."""
    caller.monitor(body.monitor.name, Role.EDITOR)
    _outbound_needs_admin(caller, body.monitor.config)
    created = store.monitors.create_monitor(body.monitor, acting_user(request, body.username))
    caller.created(created.name)
    return entity(created, status_code=201)


@router.get(MONITORS)
def list_monitors(
    deployment: str | None = None,
    max_results: int = DEFAULT_SEARCH_MAX_RESULTS,
    page_token: str | None = None,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Return one page of monitors (of one deployment, when given), by name."""
    caller.signed_in()
    return entity(store.monitors.list_monitors(deployment, max_results, page_token))


@router.get(MONITOR)
def get_monitor(
    name: str, caller: Caller = Depends(caller_of), store: ServerStore = Depends(store_of)
) -> JSONResponse:
    """Return one monitor."""
    return entity(store.monitors.get_monitor(caller.monitor(name, Role.VIEWER)))


@router.patch(MONITOR)
def update_monitor(
    name: str,
    body: UpdateMonitor,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Change the fields the body names; returns the monitor as stored."""
    caller.monitor(name, Role.EDITOR)
    changes = {field: getattr(body, field) for field in body.model_fields_set}
    _outbound_needs_admin(caller, changes.get("config"))
    return entity(store.monitors.update_monitor(name, **changes))


@router.delete(MONITOR)
def delete_monitor(
    name: str, caller: Caller = Depends(caller_of), store: ServerStore = Depends(store_of)
) -> JSONResponse:
    """Delete a monitor with all its runs and points."""
    store.monitors.delete_monitor(caller.monitor(name, Role.EDITOR))
    return JSONResponse({})


@router.post(MONITOR + "/windows")
def record_window(
    name: str,
    body: RecordWindow,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Record one computed window (replacing an earlier record of the same window)."""
    caller.monitor(name, Role.EDITOR)
    if len(body.keys) != len(body.values):
        raise InvalidInput(
            f"keys and values must be parallel columns; got {len(body.keys):,} keys and "
            f"{len(body.values):,} values"
        )
    run = body.run
    points = [
        MonitorPoint(
            run.monitor,
            run.window_start_ms,
            run.window_end_ms,
            key,
            value if value is None or isinstance(value, int | float) else decode_float(value),
            run.computed_ms,
        )
        for key, value in zip(body.keys, body.values, strict=True)
    ]
    store.monitors.record_window(name, run, points, body.last_window_end_ms)
    return JSONResponse({})


@router.get(MONITOR + "/points")
def list_points(
    name: str,
    keys: list[str] | None = Query(None),
    since_ms: int | None = None,
    until_ms: int | None = None,
    limit: int = DEFAULT_POINTS,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Return the monitor's points (of `keys`, when given) by window end, then key."""
    found = store.monitors.list_points(
        caller.monitor(name, Role.VIEWER), keys, since_ms, until_ms, limit
    )
    return entity({"points": found})


@router.get(MONITOR + "/runs")
def list_runs(
    name: str,
    since_ms: int | None = None,
    until_ms: int | None = None,
    limit: int = DEFAULT_RUNS,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Return the monitor's runs, newest window end first."""
    found = store.monitors.list_runs(caller.monitor(name, Role.VIEWER), since_ms, until_ms, limit)
    return entity({"runs": found})


@router.post(MONITORS + "/claim-due")
def claim_due_monitors(
    body: ClaimDue, caller: Caller = Depends(caller_of), store: ServerStore = Depends(store_of)
) -> JSONResponse:
    """Lease the due scheduled monitors to `owner` (administrators: a replica's own call)."""
    caller.admin()
    claimed = store.monitors.claim_due_monitors(body.now_ms, body.owner, body.lease_ms, body.limit)
    return entity({"monitors": claimed})


@router.post(MONITOR + "/release")
def release_monitor(
    name: str,
    body: Release,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """End `owner`'s lease and set the next run; says whether `owner` held it (administrators)."""
    caller.admin()
    released = store.monitors.release_monitor(name, body.owner, body.next_run_ms)
    return JSONResponse({"released": released})


def _outbound_needs_admin(caller: Caller, config: Any) -> None:
    """Refuse non-admins a config whose alert channels send outside (webhook, email), and
    anyone a channel holding its secret in plain text.

    The server sends a monitor's alerts itself, so a channel's address is a request the server
    makes: as with registry webhooks, only administrators choose where (no SSRF by editors).
    Every signed-in user reads a monitor's config, so secrets are named by variable instead.
    """
    channels = config.get("channels") if isinstance(config, dict) else None
    if channels is None:
        return
    if not isinstance(channels, list) or not all(isinstance(c, dict) for c in channels):
        raise InvalidInput("config.channels must be a list of channel objects")
    for channel in channels:
        for plain in ("secret", "password"):
            if plain in channel:
                raise InvalidInput(
                    f"config.channels: {plain!r} would be readable by every user; give "
                    f"{plain}_env, the name of a PERENNIA_CHANNEL_* variable of the server"
                )
    if any(channel.get("type") != "log" for channel in channels):
        caller.admin()
