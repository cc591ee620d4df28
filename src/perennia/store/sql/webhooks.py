"""Webhooks in SQL: subscriptions and the delivery outbox that registry events feed.

Sending is at-least-once and safe with many server processes on one database: a sender claims a
due delivery with a compare-and-set UPDATE (pending -> sending) that also leases it until
`now + lease_ms`. Of two claimers racing for one row exactly one UPDATE matches; a sender that
crashes mid-send leaves a `sending` row whose lease expires, and the next claimer retries it.
Each claim bumps `attempts`, which doubles as the claim's token: an outcome is recorded only
while the row still holds the claimer's attempt number, so a stale sender cannot overwrite it.
"""

from __future__ import annotations

import json
import secrets as secrets_module
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sqlalchemy import Connection, Engine, delete, insert, or_, select, update

from perennia.clock import now_ms
from perennia.entities import RegistryEvent, Webhook, WebhookDelivery
from perennia.errors import InvalidInput, NotFound
from perennia.store.sql import schema as s
from perennia.store.sql.engine import read_transaction, write_transaction
from perennia.store.sql.registry_events import read_event

MAX_URL_LENGTH = 2048
MAX_ATTEMPTS = 5
BACKOFF_BASE_MS = 10_000  # 10 s, 20 s, 40 s, 80 s between the five attempts
BACKOFF_CAP_MS = 3_600_000
LEASE_MS = 60_000  # longer than any send (timeouts are seconds), so a live claim never expires
STATUSES = ("pending", "sending", "delivered", "failed")
_MAX_ID = 2**31 - 1
_MAX_ERROR = 500
ACTIONS = frozenset({
    "create_registered_model", "update_registered_model", "rename_registered_model",
    "delete_registered_model", "set_registered_model_tag", "delete_registered_model_tag",
    "create_model_version", "update_model_version", "delete_model_version",
    "set_model_version_tag", "delete_model_version_tag", "set_alias", "delete_alias",
    "rollback_alias", "approve_alias", "request_approval", "review_approval", "apply_approval",
    "reject_approval", "cancel_approval", "set_policy", "delete_policy", "edit_card",
})  # fmt: skip


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


def check_events(events: object) -> list[str]:
    """Return the subscribed actions, sorted and unique (empty: all), or raise InvalidInput."""
    if isinstance(events, str) or not isinstance(events, Sequence):
        raise InvalidInput(f"events must be a list of action names, got {events!r:.80}")
    unknown = [e for e in events if e not in ACTIONS]
    if unknown:
        raise InvalidInput(
            f"events: {unknown[0]!r:.80} is not a registry action; use one of "
            + ", ".join(sorted(ACTIONS))
        )
    return sorted(set(events))


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
    targets = [row.webhook_id for row in rows if _subscribed(row.events, action)]
    if targets:
        due = now_ms()
        conn.execute(
            insert(s.webhook_deliveries),
            [{"webhook_id": t, "event_id": event_id, "status": "pending", "attempts": 0,
              "next_attempt_time": due} for t in targets],
        )  # fmt: skip
    return len(targets)


def _subscribed(events_json: str, action: str) -> bool:
    events = json.loads(events_json)
    return not events or action in events


def _webhook(row) -> Webhook:
    return Webhook(row.webhook_id, row.url, json.loads(row.events), row.model_name,
                   bool(row.active), row.created_by, row.creation_time)  # fmt: skip


def _delivery(row) -> WebhookDelivery:
    return WebhookDelivery(row.delivery_id, row.webhook_id, row.event_id, row.status,
                           row.attempts, row.next_attempt_time, row.last_status_code,
                           row.last_error, row.delivered_time)  # fmt: skip


@dataclass(frozen=True)
class ClaimedDelivery:
    """A delivery leased to one sender: what to send, where, and the key to sign it with."""

    delivery_id: int
    webhook_id: int
    attempt: int  # this attempt's number (1-based); also the claim's token
    url: str
    secret: str = field(repr=False)
    event: RegistryEvent | None  # None if the event row has gone


class SqlWebhookStore:
    """The `WebhookStore` protocol over SQLAlchemy Core, plus the claims a dispatcher needs."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(
        self, url: str, *, events: Sequence[str] = (), model_name: str | None = None,
        secret: str | None = None, username: str | None = None,
    ) -> tuple[Webhook, str]:  # fmt: skip
        """Return the new webhook and its signing secret (generated when not given)."""
        from perennia.store.registry_checks import check_model_name

        url = check_url(url)
        actions = check_events(events)
        if model_name is not None:
            check_model_name(model_name)
        secret = _check_secret(secret) if secret is not None else _new_secret()
        row = {"url": url, "secret": secret, "events": json.dumps(actions),
               "model_name": model_name, "active": 1, "created_by": username,
               "creation_time": now_ms()}  # fmt: skip
        with write_transaction(self.engine) as conn:
            webhook_id = conn.execute(
                insert(s.webhooks).values(**row).returning(s.webhooks.c.webhook_id)
            ).scalar_one()
        webhook = Webhook(int(webhook_id), url, actions, model_name, True, username,
                          row["creation_time"])  # fmt: skip
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

    # -- what a dispatcher needs ---------------------------------------------------------------

    def has_due(self, now: int | None = None) -> bool:
        """Return True when some delivery is due (pending, or sending with an expired lease)."""
        d = s.webhook_deliveries
        now = now_ms() if now is None else now
        with read_transaction(self.engine) as conn:
            return conn.execute(_due(select(d.c.delivery_id), now).limit(1)).first() is not None

    def claim(
        self, now: int | None = None, limit: int = 1, lease_ms: int = LEASE_MS,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> list[ClaimedDelivery]:  # fmt: skip
        """Return up to `limit` due deliveries, now leased to this caller until `now + lease_ms`.

        A delivery whose last permitted attempt never reported back (its sender died) is
        marked failed instead of being handed out again.
        """
        d = s.webhook_deliveries
        now = now_ms() if now is None else now
        claimed: list[tuple[int, int, int, int]] = []
        with write_transaction(self.engine) as conn:
            # A few spare candidates: a rival may win some of them between our SELECT and UPDATE.
            candidates = conn.execute(
                _due(select(d.c.delivery_id, d.c.webhook_id, d.c.event_id, d.c.status,
                            d.c.attempts, d.c.next_attempt_time), now)
                .order_by(d.c.next_attempt_time, d.c.delivery_id).limit(limit + 8)
            ).all()  # fmt: skip
            for row in candidates:
                if len(claimed) >= limit:
                    break
                exhausted = row.attempts >= max_attempts
                gave_up = (
                    "the sender stopped during the last attempt"
                    if row.status == "sending"
                    else f"no attempts left of {max_attempts}"
                )
                values = (
                    {"status": "failed", "last_error": gave_up}
                    if exhausted
                    else {"status": "sending", "attempts": row.attempts + 1,
                          "next_attempt_time": now + lease_ms}
                )  # fmt: skip
                won = conn.execute(
                    update(d)
                    .where(d.c.delivery_id == row.delivery_id, d.c.status == row.status,
                           d.c.attempts == row.attempts,
                           d.c.next_attempt_time == row.next_attempt_time)
                    .values(**values)
                )  # fmt: skip
                if won.rowcount == 1 and not exhausted:
                    claimed.append(
                        (row.delivery_id, row.webhook_id, row.event_id, row.attempts + 1)
                    )
            return [self._claimed(conn, *c) for c in claimed]

    def _claimed(
        self, conn: Connection, delivery_id: int, webhook_id: int, event_id: int, attempt: int
    ) -> ClaimedDelivery:
        w = s.webhooks
        hook = conn.execute(select(w.c.url, w.c.secret).where(w.c.webhook_id == webhook_id)).one()
        event = read_event(conn, event_id)
        return ClaimedDelivery(delivery_id, webhook_id, attempt, hook.url, hook.secret, event)

    def record_attempt(
        self, claim: ClaimedDelivery, *, status_code: int | None = None, error: str | None = None,
        now: int | None = None, max_attempts: int = MAX_ATTEMPTS,
    ) -> str | None:  # fmt: skip
        """Return the delivery's new status after one attempt, or None if the claim was lost.

        A 2xx answer delivers; anything else is retried after `backoff_ms`, until the
        `max_attempts`-th failure marks the delivery failed.
        """
        d = s.webhook_deliveries
        now = now_ms() if now is None else now
        values: dict[str, object] = {"last_status_code": status_code,
                                     "last_error": None if error is None else error[:_MAX_ERROR]}  # fmt: skip
        if status_code is not None and 200 <= status_code < 300 and error is None:
            values.update(status="delivered", delivered_time=now)
        elif claim.attempt >= max_attempts:
            values.update(status="failed")
        else:
            values.update(status="pending", next_attempt_time=now + backoff_ms(claim.attempt))
        with write_transaction(self.engine) as conn:
            done = conn.execute(
                update(d)
                .where(d.c.delivery_id == claim.delivery_id, d.c.status == "sending",
                       d.c.attempts == claim.attempt)
                .values(**values)
            )  # fmt: skip
        return str(values["status"]) if done.rowcount == 1 else None


def _due(query, now: int):
    d, w = s.webhook_deliveries, s.webhooks
    # Deliveries of a deactivated webhook wait; they resume if it is switched back on.
    active = select(w.c.webhook_id).where(w.c.active == 1)
    return query.where(
        d.c.status.in_(("pending", "sending")),
        d.c.next_attempt_time <= now,
        d.c.webhook_id.in_(active),
    )


def _new_secret() -> str:
    return "whsec_" + secrets_module.token_urlsafe(32)
