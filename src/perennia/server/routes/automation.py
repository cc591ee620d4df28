"""/api/v1/schedules, /api/v1/retraining-policies, /api/v1/retrainings: automation over HTTP,
and the lifespan that runs this server's `AutomationScheduler`.

Access. A schedule or a retraining policy names code (an entrypoint) that the server itself
imports and runs, so creating, changing and deleting them is for administrators only, like
registry webhooks and monitors' outbound channels. Claiming and releasing them is what server
replicas (or `perennia scheduler`) do for themselves: administrators only. Starting and moving a
retraining drives a model towards production on the loop's behalf (it is the loop's own call,
made inside the server or by an administrator's scheduler), so it is administrators only too.
Reading: any signed-in user reads schedules (server-wide, like monitors); a policy and its
retrainings are read with the viewer role on the registered model they are about, and listings
leave out the models the caller may not read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse
from pydantic import StrictBool, StrictInt, StrictStr

from perennia.config import Settings
from perennia.entities import Page, RetrainingPolicy, Role, Schedule
from perennia.errors import InvalidInput, PermissionDenied
from perennia.server.access import Caller, caller_of
from perennia.server.routes.common import acting_user, entity, store_of
from perennia.server.routes.registry import Acting
from perennia.server.schemas import Strict, exact_types
from perennia.store.base import ServerStore
from perennia.store.limits import DEFAULT_SEARCH_MAX_RESULTS
from perennia.store.protocols.automation import DEFAULT_RETRAININGS, LEASE_MS

router = APIRouter(tags=["automation"])

SCHEDULES = "/api/v1/schedules"
SCHEDULE = SCHEDULES + "/{name}"
POLICIES = "/api/v1/retraining-policies"
POLICY = POLICIES + "/{model_name}"
RETRAININGS = "/api/v1/retrainings"
_MAX_ID = 2**63 - 1


class CreateSchedule(Acting):
    schedule: Annotated[Schedule, exact_types(Schedule)]


class UpdateSchedule(Strict):
    """Only the fields present change; `next_run_ms: null` leaves it with no next firing."""

    cron: StrictStr | None = None
    params: dict[str, Any] | None = None
    enabled: StrictBool | None = None
    description: StrictStr | None = None
    next_run_ms: StrictInt | None = None


class SetPolicy(Acting):
    policy: Annotated[RetrainingPolicy, exact_types(RetrainingPolicy)]


class ClaimDue(Strict):
    now_ms: StrictInt
    owner: StrictStr
    lease_ms: StrictInt = LEASE_MS
    limit: StrictInt = 10


class ReleaseSchedule(Strict):
    owner: StrictStr
    next_run_ms: StrictInt | None = None
    ran_ms: StrictInt | None = None
    status: StrictStr | None = None
    error: StrictStr | None = None
    run_id: StrictStr | None = None


class ReleasePolicy(Strict):
    owner: StrictStr
    next_check_ms: StrictInt
    cursor: dict[str, Any] | None = None


class StartRetraining(Strict):
    model_name: StrictStr
    trigger: dict[str, Any]
    now_ms: StrictInt
    force: StrictBool = False


class UpdateRetraining(Strict):
    state: StrictStr
    message: StrictStr
    pipeline_run_id: StrictStr | None = None
    challenger_version: StrictInt | None = None
    champion_version: StrictInt | None = None
    approval_request_id: StrictInt | None = None
    deployment: StrictStr | None = None
    reason: StrictStr | None = None
    detail: dict[str, Any] | None = None
    expected_state: StrictStr | None = None
    expected_updated_ms: StrictInt | None = None


def _may_read(caller: Caller, model_name: str) -> bool:
    """Return whether the caller may read the registered model's automation records."""
    try:
        caller.model(model_name, Role.VIEWER)
    except PermissionDenied:
        return False
    return True


# -- schedules ---------------------------------------------------------------------------------


@router.post(SCHEDULES, status_code=201)
def create_schedule(
    body: CreateSchedule,
    request: Request,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Create a schedule; returns it as stored (409 if the name is taken; administrators)."""
    caller.admin()
    created = store.schedules.create_schedule(body.schedule, acting_user(request, body.username))
    caller.created(created.name)
    return entity(created, status_code=201)


@router.get(SCHEDULES)
def list_schedules(
    max_results: int = DEFAULT_SEARCH_MAX_RESULTS,
    page_token: str | None = None,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Return one page of schedules, by name."""
    caller.signed_in()
    return entity(store.schedules.list_schedules(max_results, page_token))


@router.get(SCHEDULE)
def get_schedule(
    name: str, caller: Caller = Depends(caller_of), store: ServerStore = Depends(store_of)
) -> JSONResponse:
    """Return one schedule."""
    caller.signed_in(name)
    return entity(store.schedules.get_schedule(name))


@router.patch(SCHEDULE)
def update_schedule(
    name: str,
    body: UpdateSchedule,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Change the fields the body names; returns the schedule as stored (administrators)."""
    caller.admin()
    changes = {field: getattr(body, field) for field in body.model_fields_set}
    return entity(store.schedules.update_schedule(name, **changes))


@router.delete(SCHEDULE)
def delete_schedule(
    name: str, caller: Caller = Depends(caller_of), store: ServerStore = Depends(store_of)
) -> JSONResponse:
    """Delete a schedule (administrators)."""
    caller.admin()
    store.schedules.delete_schedule(name)
    return JSONResponse({})


@router.post(SCHEDULES + "/claim-due")
def claim_due_schedules(
    body: ClaimDue, caller: Caller = Depends(caller_of), store: ServerStore = Depends(store_of)
) -> JSONResponse:
    """Lease the due schedules to `owner` (administrators: a scheduler's own call)."""
    caller.admin()
    found = store.schedules.claim_due_schedules(body.now_ms, body.owner, body.lease_ms, body.limit)
    return entity({"schedules": found})


@router.post(SCHEDULE + "/release")
def release_schedule(
    name: str,
    body: ReleaseSchedule,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """End `owner`'s lease, recording the firing; says whether `owner` held it (administrators)."""
    caller.admin()
    released = store.schedules.release_schedule(
        name,
        body.owner,
        body.next_run_ms,
        ran_ms=body.ran_ms,
        status=body.status,
        error=body.error,
        run_id=body.run_id,
    )
    return JSONResponse({"released": released})


# -- retraining policies -----------------------------------------------------------------------


@router.put(POLICY)
def set_retraining_policy(
    model_name: str,
    body: SetPolicy,
    request: Request,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Create or replace a model's retraining policy; returns it as stored (administrators)."""
    caller.admin()
    if body.policy.model_name != model_name:
        raise InvalidInput(
            f"the policy names model {body.policy.model_name!r:.80}, the path {model_name!r:.80}"
        )
    stored = store.retraining.set_retraining_policy(
        body.policy, acting_user(request, body.username)
    )
    caller.created(stored.model_name)
    return entity(stored)


@router.get(POLICIES)
def list_retraining_policies(
    max_results: int = DEFAULT_SEARCH_MAX_RESULTS,
    page_token: str | None = None,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Return one page of the policies of models the caller may read, by model name."""
    caller.signed_in()
    page = store.retraining.list_retraining_policies(max_results, page_token)
    readable = [p for p in page.items if _may_read(caller, p.model_name)]
    return entity(Page(readable, page.next_page_token))


@router.get(POLICY)
def get_retraining_policy(
    model_name: str, caller: Caller = Depends(caller_of), store: ServerStore = Depends(store_of)
) -> JSONResponse:
    """Return one model's retraining policy."""
    return entity(store.retraining.get_retraining_policy(caller.model(model_name, Role.VIEWER)))


@router.delete(POLICY)
def delete_retraining_policy(
    model_name: str, caller: Caller = Depends(caller_of), store: ServerStore = Depends(store_of)
) -> JSONResponse:
    """Delete a model's retraining policy; its retrainings stay (administrators)."""
    caller.admin()
    store.retraining.delete_retraining_policy(model_name)
    return JSONResponse({})


@router.post(POLICIES + "/claim-due")
def claim_due_policies(
    body: ClaimDue, caller: Caller = Depends(caller_of), store: ServerStore = Depends(store_of)
) -> JSONResponse:
    """Lease the policies due for a check to `owner` (administrators)."""
    caller.admin()
    found = store.retraining.claim_due_policies(body.now_ms, body.owner, body.lease_ms, body.limit)
    return entity({"policies": found})


@router.post(POLICY + "/release")
def release_policy(
    model_name: str,
    body: ReleasePolicy,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """End `owner`'s lease on a policy; says whether `owner` held it (administrators)."""
    caller.admin()
    released = store.retraining.release_policy(
        model_name, body.owner, body.next_check_ms, body.cursor
    )
    return JSONResponse({"released": released})


# -- retrainings -------------------------------------------------------------------------------


@router.post(RETRAININGS)
def start_retraining(
    body: StartRetraining,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Start a retraining if the policy's guard allows; `retraining` is null when it does not."""
    caller.admin()
    started = store.retraining.start_retraining(
        body.model_name, body.trigger, body.now_ms, force=body.force
    )
    if started is not None:
        caller.created(str(started.id))
    return entity({"retraining": started})


@router.get(RETRAININGS)
def list_retrainings(
    model_name: str | None = None,
    limit: int = DEFAULT_RETRAININGS,
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Return retrainings (of one model, when given) the caller may read, newest first."""
    if model_name is not None:
        caller.model(model_name, Role.VIEWER)
    else:
        caller.signed_in()
    found = store.retraining.list_retrainings(model_name, limit)
    return entity({"retrainings": [r for r in found if _may_read(caller, r.model_name)]})


@router.get(RETRAININGS + "/{retraining_id}")
def get_retraining(
    retraining_id: int = Path(ge=1, le=_MAX_ID),
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Return one retraining."""
    found = store.retraining.get_retraining(retraining_id)
    caller.model(found.model_name, Role.VIEWER)
    return entity(found)


@router.patch(RETRAININGS + "/{retraining_id}")
def update_retraining(
    body: UpdateRetraining,
    retraining_id: int = Path(ge=1, le=_MAX_ID),
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Move a retraining to a state, recording one event (administrators)."""
    caller.admin()
    fields = body.model_dump(exclude={"state", "message"})
    moved = store.retraining.update_retraining(retraining_id, body.state, body.message, **fields)
    return entity(moved)


@router.get(RETRAININGS + "/{retraining_id}/events")
def list_retraining_events(
    retraining_id: int = Path(ge=1, le=_MAX_ID),
    caller: Caller = Depends(caller_of),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Return one retraining's events, oldest first."""
    caller.model(store.retraining.get_retraining(retraining_id).model_name, Role.VIEWER)
    return entity({"events": list(store.retraining.list_retraining_events(retraining_id))})


# -- the scheduler -----------------------------------------------------------------------------


def lifespan(
    store: ServerStore, settings: Settings, inner: Callable[[Any], Any]
) -> Callable[[Any], Any]:
    """Return a FastAPI lifespan running `inner`, plus this server's `AutomationScheduler`
    while the app serves (when `PERENNIA_AUTOMATION_SCHEDULING` is on)."""

    @asynccontextmanager
    async def run(app: Any) -> AsyncIterator[None]:
        async with inner(app):
            scheduler = None
            if settings.automation_scheduling:
                from perennia.automation.retraining import check_due_policies
                from perennia.automation.scheduler import AutomationScheduler

                # One thread fires due schedules and checks due retraining policies.
                scheduler = AutomationScheduler(
                    store,
                    interval=settings.automation_interval,
                    jobs=[check_due_policies],
                    settings=settings,
                ).start()
            try:
                yield
            finally:
                if scheduler is not None:
                    from starlette.concurrency import run_in_threadpool

                    # It may be mid-firing; waiting must not stall the event loop.
                    await run_in_threadpool(scheduler.stop)

    return run
