"""`perennia webhooks ...`: registry webhooks (create, list, delete, deliveries, dispatch).

Against a server (`--tracking-uri http://...`) these need an administrator's token; against
the database they act directly, as an administrator on the server's machine would.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from perennia.cli.common import state
from perennia.cli.output import console, fmt_time, table
from perennia.config import Settings
from perennia.errors import InvalidInput

if TYPE_CHECKING:
    from perennia.store.base import Store

app = typer.Typer(
    help="Registry webhooks: POST signed registry events to CI/CD.", no_args_is_help=True
)


def _store() -> Store:
    from perennia.store import open_store

    settings = Settings.from_env().with_overrides(tracking_uri=state.tracking_uri)
    return open_store(settings.resolved_tracking_uri(), token=settings.tracking_token)


@app.command("create")
def create(
    url: str = typer.Argument(..., help="Where to POST events (http or https)."),
    event: list[str] = typer.Option(
        None, "--event", help="Only this action (repeatable), e.g. set_alias. Default: all."
    ),
    model: str | None = typer.Option(None, "--model", help="Only this registered model."),
) -> None:
    """Create a webhook and print its signing secret (shown this once only)."""
    from perennia.tracking.source import current_user

    store = _store()
    try:
        webhook, secret = store.webhooks.create(
            url, events=event or (), model_name=model, username=current_user()
        )
    finally:
        store.close()
    scope = ", ".join(webhook.events) or "all events"
    console.print(
        f"webhook {webhook.webhook_id} → {webhook.url} ({scope}"
        f"{f', model {webhook.model_name}' if webhook.model_name else ''}); "
        "keep this signing secret, it is not shown again:",
        highlight=False,
        markup=False,
    )
    typer.echo(secret)


@app.command("list")
def list_webhooks() -> None:
    """List webhooks (never their secrets)."""
    store = _store()
    try:
        hooks = store.webhooks.list()
    finally:
        store.close()
    rows = [
        (
            str(w.webhook_id),
            escape(w.url),
            ", ".join(w.events) or "all",
            w.model_name or "all",
            "yes" if w.active else "no",
            w.created_by or "",
            fmt_time(w.creation_time),
        )
        for w in hooks
    ]
    headers = ["id", "url", "events", "model", "active", "by", "created"]
    console.print(table("Webhooks", headers, rows, no_wrap=1))


@app.command("delete")
def delete(webhook_id: int = typer.Argument(..., help="The webhook's id (see `list`).")) -> None:
    """Delete a webhook and its deliveries."""
    store = _store()
    try:
        store.webhooks.delete(webhook_id)
    finally:
        store.close()
    console.print(f"deleted webhook {webhook_id}")


@app.command("deliveries")
def deliveries(
    webhook_id: int | None = typer.Option(None, "--webhook", help="Only this webhook's."),
    status: str | None = typer.Option(
        None, "--status", help="pending, sending, delivered or failed."
    ),
    limit: int = typer.Option(50, "--limit", min=1, max=10_000),
) -> None:
    """List deliveries, newest first: attempts made and the last outcome."""
    store = _store()
    try:
        found = store.webhooks.deliveries(webhook_id, status, limit)
    finally:
        store.close()
    rows = [
        (
            str(d.delivery_id),
            str(d.webhook_id),
            str(d.event_id),
            d.status,
            str(d.attempts),
            "" if d.last_status_code is None else str(d.last_status_code),
            escape(d.last_error or ""),
            fmt_time(d.delivered_time)
            if d.delivered_time
            else (fmt_time(d.next_attempt_time) if d.status == "pending" else ""),
        )
        for d in found
    ]
    headers = ["id", "webhook", "event", "status", "attempts", "code", "error", "delivered/next"]
    console.print(table("Webhook deliveries", headers, rows, no_wrap=1))


@app.command("dispatch")
def dispatch(
    limit: int = typer.Option(1000, "--limit", min=1, max=1_000_000, help="At most this many."),
) -> None:
    """Send the deliveries that are due now, once (a server does this by itself)."""
    from perennia.registry.webhooks import can_dispatch, dispatch_due

    store = _store()
    try:
        if not can_dispatch(store):
            raise InvalidInput(
                "the tracking URI is a server, which sends its own webhooks; run dispatch "
                "against the database (--tracking-uri sqlite:///... or postgresql+psycopg://...)"
            )
        outcomes = dispatch_due(store, limit=limit)
    finally:
        store.close()
    console.print(
        f"delivered {outcomes['delivered']}, will retry {outcomes['pending']}, "
        f"failed {outcomes['failed']}"
    )
