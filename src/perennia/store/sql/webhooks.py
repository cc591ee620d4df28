"""Webhooks in SQL: subscriptions, and the deliveries each registry event queues for them.

`enqueue_deliveries` runs in the event's own transaction (an outbox), so a delivery exists
exactly when its event does; `webhook_outbox.py` holds the claims senders make on them.
"""

from __future__ import annotations

import json
import secrets as secrets_module
from collections.abc import Sequence
from urllib.parse import urlsplit

from sqlalchemy import Connection, Engine, delete, insert, or_, select

from perennia.clock import now_ms
from perennia.entities import Webhook, WebhookDelivery
from perennia.errors import InvalidInput, NotFound
from perennia.store.deployment_checks import ACTION
from perennia.store.sql import schema as s
from perennia.store.sql.engine import read_transaction, write_transaction

MAX_URL_LENGTH = 2048
BACKOFF_BASE_MS = 10_000  # 10 s, 20 s, 40 s, 80 s between the five attempts
BACKOFF_CAP_MS = 3_600_000
STATUSES = ("pending", "sending", "delivered", "failed")
_MAX_ID = 2**31 - 1
MAX_EVENTS = 100  # deployment actions are open-ended, so a subscription's list is bounded
ACTIONS = frozenset(
    {
        "create_registered_model",
        "update_registered_model",
        "rename_registered_model",
        "delete_registered_model",
        "set_registered_model_tag",
        "delete_registered_model_tag",
        "create_model_version",
        "update_model_version",
        "archive_model_version",
        "delete_model_version",
        "set_model_version_tag",
        "delete_model_version_tag",
        "set_alias",
        "delete_alias",
        "rollback_alias",
        "approve_alias",
        "request_approval",
        "review_approval",
        "apply_approval",
        "reject_approval",
        "cancel_approval",
        "set_policy",
        "delete_policy",
        "edit_card",
    }
)
# Deployments' events are `deploy_<action>` with any action word deployment_checks allows, so
# they are subscribed to by name or all at once by this pattern.
DEPLOY_PATTERN = "deploy_*"


def check_url(url: object) -> str:
    """Return `url` if it is an http(s) URL without userinfo, or raise InvalidInput saying why."""
    if not isinstance(url, str) or not url:
        raise InvalidInput(f"url must be an http:// or https:// URL, got {url!r:.80}")
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInput(f"url is {len(url)} characters long; at most {MAX_URL_LENGTH} allowed")
    if any(ord(c) <= 32 or ord(c) == 127 for c in url):
        raise InvalidInput(f"url {url!r:.80} must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsing the port is what raises on a malformed one
    except ValueError as error:
        raise InvalidInput(f"url {url!r:.80} does not parse: {error}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidInput(f"url scheme must be http or https, got {parts.scheme or 'none'!r}")
    if "@" in parts.netloc:
        # Credentials in a URL end up in logs and listings; the signature authenticates instead.
        raise InvalidInput("url must not hold a user name or password (user:pass@host)")
    if not parts.hostname:
        raise InvalidInput(f"url {url!r:.80} names no host; use e.g. https://ci.example.com/hook")
    return url


def _known(event: object) -> bool:
    if not isinstance(event, str):
        return False
    if event in ACTIONS or event == DEPLOY_PATTERN:
        return True
    return event.startswith("deploy_") and bool(ACTION.fullmatch(event.removeprefix("deploy_")))


def check_events(events: object) -> list[str]:
    """Return the subscribed actions, sorted and unique (empty: all), or raise InvalidInput.

    Besides the registry's actions, a deployment's `deploy_<action>` (e.g. `deploy_promote`)
    and the pattern `deploy_*` (every deployment event) are accepted.
    """
    if isinstance(events, str) or not isinstance(events, Sequence):
        raise InvalidInput(f"events must be a list of action names, got {events!r:.80}")
    unknown = [e for e in events if not _known(e)]
    if unknown:
        raise InvalidInput(
            f"events: {unknown[0]!r:.80} is not a registry action; use one of "
            + ", ".join(sorted(ACTIONS))
            + f", deploy_<action> (e.g. deploy_promote) or {DEPLOY_PATTERN}"
        )
    chosen = sorted(set(events))
    if len(chosen) > MAX_EVENTS:
        raise InvalidInput(
            f"events names {len(chosen)} actions; at most {MAX_EVENTS} (use {DEPLOY_PATTERN} "
            "for every deployment event, or an empty list for all events)"
        )
    return chosen


def _check_secret(secret: object) -> str:
    if not isinstance(secret, str) or not 16 <= len(secret) <= 256 or not secret.isprintable():
        raise InvalidInput("secret must be 16-256 printable characters (omit it to generate one)")
    return secret


def _check_id(value: object, what: str = "webhook id") -> int:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= _MAX_ID:
        raise InvalidInput(f"{what} must be a positive integer, got {value!r:.40}")
    return value


def backoff_ms(attempts: int) -> int:
    """Return how long to wait before the next attempt after `attempts` failed ones."""
    return min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** max(0, attempts - 1))


def enqueue_deliveries(conn: Connection, event_id: int, model_name: str, action: str) -> int:
    """Queue a pending delivery of the event to every active webhook subscribed to it."""
    w = s.webhooks
    rows = conn.execute(
        select(w.c.webhook_id, w.c.events).where(
            w.c.active == 1, or_(w.c.model_name.is_(None), w.c.model_name == model_name)
        )
    ).all()
    targets = [row.webhook_id for row in rows if subscribed(json.loads(row.events), action)]
    if targets:
        due = now_ms()
        conn.execute(
            insert(s.webhook_deliveries),
            [
                {
                    "webhook_id": t,
                    "event_id": event_id,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_time": due,
                }
                for t in targets
            ],
        )
    return len(targets)


def subscribed(events: Sequence[str], action: str) -> bool:
    """Return whether a webhook subscribed to `events` (empty: all) receives `action`."""
    if not events or action in events:
        return True
    return DEPLOY_PATTERN in events and action.startswith("deploy_")


def _webhook(row) -> Webhook:
    return Webhook(
        row.webhook_id,
        row.url,
        json.loads(row.events),
        row.model_name,
        bool(row.active),
        row.created_by,
        row.creation_time,
    )


def _delivery(row) -> WebhookDelivery:
    return WebhookDelivery(
        row.delivery_id,
        row.webhook_id,
        row.event_id,
        row.status,
        row.attempts,
        row.next_attempt_time,
        row.last_status_code,
        row.last_error,
        row.delivered_time,
    )


class SqlWebhookStore:
    """The `WebhookStore` protocol over SQLAlchemy Core (the outbox is `SqlWebhookOutbox`)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(
        self,
        url: str,
        *,
        events: Sequence[str] = (),
        model_name: str | None = None,
        secret: str | None = None,
        username: str | None = None,
    ) -> tuple[Webhook, str]:
        """Return the new webhook and its signing secret (generated when not given)."""
        from perennia.store.registry_checks import check_model_name

        url = check_url(url)
        actions = check_events(events)
        if model_name is not None:
            check_model_name(model_name)
        secret = _check_secret(secret) if secret is not None else _new_secret()
        row = {
            "url": url,
            "secret": secret,
            "events": json.dumps(actions),
            "model_name": model_name,
            "active": 1,
            "created_by": username,
            "creation_time": now_ms(),
        }
        with write_transaction(self.engine) as conn:
            webhook_id = conn.execute(
                insert(s.webhooks).values(**row).returning(s.webhooks.c.webhook_id)
            ).scalar_one()
        webhook = Webhook(
            int(webhook_id), url, actions, model_name, True, username, row["creation_time"]
        )
        return webhook, secret

    def list(self) -> list[Webhook]:
        """Return every webhook, oldest first (never their secrets)."""
        w = s.webhooks
        columns = [c for c in w.c if c.name != "secret"]
        with read_transaction(self.engine) as conn:
            rows = conn.execute(select(*columns).order_by(w.c.webhook_id)).all()
        return [_webhook(r) for r in rows]

    def delete(self, webhook_id: int, username: str | None = None) -> None:
        """Remove a webhook and its deliveries; NotFound if there is no such webhook."""
        webhook_id = _check_id(webhook_id)
        with write_transaction(self.engine) as conn:
            # Explicit, not only ON DELETE CASCADE: a SQLite connection may have foreign keys off.
            d = s.webhook_deliveries
            conn.execute(delete(d).where(d.c.webhook_id == webhook_id))
            gone = conn.execute(delete(s.webhooks).where(s.webhooks.c.webhook_id == webhook_id))
            if gone.rowcount == 0:
                raise NotFound(f"webhook {webhook_id} does not exist")

    def deliveries(
        self, webhook_id: int | None = None, status: str | None = None, limit: int = 100
    ) -> list[WebhookDelivery]:
        """Return deliveries, newest first, of one webhook and/or in one status."""
        d = s.webhook_deliveries
        query = select(d).order_by(d.c.delivery_id.desc())
        if status is not None:
            if status not in STATUSES:
                raise InvalidInput(f"status {status!r:.40} is not one of {', '.join(STATUSES)}")
            query = query.where(d.c.status == status)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 10_000:
            raise InvalidInput(f"limit must be an integer from 1 to 10000, got {limit!r:.40}")
        with read_transaction(self.engine) as conn:
            if webhook_id is not None:
                webhook_id = _check_id(webhook_id)
                w = s.webhooks
                found = conn.execute(select(w.c.webhook_id).where(w.c.webhook_id == webhook_id))
                if found.first() is None:
                    raise NotFound(f"webhook {webhook_id} does not exist")
                query = query.where(d.c.webhook_id == webhook_id)
            rows = conn.execute(query.limit(limit)).all()
        return [_delivery(r) for r in rows]


def _new_secret() -> str:
    return "whsec_" + secrets_module.token_urlsafe(32)
