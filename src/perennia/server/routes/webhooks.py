"""/api/v1/webhooks and /api/v1/webhook-deliveries: admin-only webhook subscriptions.

A webhook makes the server POST to a URL of the caller's choosing, so only administrators may
see or change them (the access layer says so too; the check here keeps it true regardless).
The signing secret is returned once, by the create call, and never again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from perennia.config import Settings
from perennia.entities import to_dict
from perennia.server.access import Caller, caller_of
from perennia.server.routes.common import store_of
from perennia.server.schemas import Strict
from perennia.store.base import ServerStore

_MAX_ID = 2**31 - 1


def require_admin(caller: Caller = Depends(caller_of)) -> None:
    """Raise PermissionDenied unless the caller is an administrator (sign-in off: anyone)."""
    caller.admin()


router = APIRouter(tags=["webhooks"], dependencies=[Depends(require_admin)])


class CreateWebhook(Strict):
    url: str
    events: list[str] = []
    model_name: str | None = None
    secret: str | None = None  # generated when omitted


def _username(request: Request) -> str | None:
    user = getattr(request.state, "user", None)
    return None if user is None else user.username


@router.post("/api/v1/webhooks", status_code=201)
def create_webhook(
    body: CreateWebhook, request: Request, store: ServerStore = Depends(store_of)
) -> JSONResponse:
    """Create a webhook; returns it with its signing secret (shown this once only)."""
    webhook, secret = store.webhooks.create(
        body.url,
        events=body.events,
        model_name=body.model_name,
        secret=body.secret,
        username=_username(request),
    )
    return JSONResponse({"webhook": to_dict(webhook), "secret": secret}, status_code=201)


@router.get("/api/v1/webhooks")
def list_webhooks(store: ServerStore = Depends(store_of)) -> JSONResponse:
    """Return every webhook (never their secrets)."""
    return JSONResponse({"webhooks": to_dict(store.webhooks.list())})


@router.delete("/api/v1/webhooks/{webhook_id}")
def delete_webhook(
    request: Request,
    webhook_id: int = Path(ge=1, le=_MAX_ID),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Delete a webhook and its deliveries."""
    store.webhooks.delete(webhook_id, username=_username(request))
    return JSONResponse({})


@router.get("/api/v1/webhooks/{webhook_id}/deliveries")
def webhook_deliveries(
    webhook_id: int = Path(ge=1, le=_MAX_ID),
    status: str | None = None,
    limit: int = Query(100, ge=1, le=10_000),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Return one webhook's deliveries, newest first."""
    return JSONResponse(
        {"deliveries": to_dict(store.webhooks.deliveries(webhook_id, status, limit))}
    )


@router.get("/api/v1/webhook-deliveries")
def all_deliveries(
    webhook_id: int | None = Query(None, ge=1, le=_MAX_ID),
    status: str | None = None,
    limit: int = Query(100, ge=1, le=10_000),
    store: ServerStore = Depends(store_of),
) -> JSONResponse:
    """Return deliveries of every webhook (or one), newest first."""
    return JSONResponse(
        {"deliveries": to_dict(store.webhooks.deliveries(webhook_id, status, limit))}
    )


def lifespan(store: ServerStore, settings: Settings) -> Callable[[Any], Any]:
    """Return a FastAPI lifespan running the background threads while the app serves: the
    webhook dispatcher and the monitor scheduler (each when its setting is on)."""

    @asynccontextmanager
    async def run(_app: Any) -> AsyncIterator[None]:
        from perennia.registry.webhooks import WebhookDispatcher, can_dispatch

        threads = []
        if settings.webhook_dispatch and can_dispatch(store):
            threads.append(WebhookDispatcher(store).start())
        if settings.monitor_scheduling:
            threads.append(_monitor_scheduler(store, settings).start())
        try:
            yield
        finally:
            from starlette.concurrency import run_in_threadpool

            for thread in threads:
                # It may be mid-send or mid-window; waiting must not stall the event loop.
                await run_in_threadpool(thread.stop)

    return run


def _monitor_scheduler(store: ServerStore, settings: Settings) -> Any:
    """Return the scheduler of this server's monitors, reading its own store and artifacts."""
    from perennia.data.predlog import default_location
    from perennia.monitoring.monitors.scheduler import MonitorScheduler

    return MonitorScheduler(store, location=default_location(settings), settings=settings)
