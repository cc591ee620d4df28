"""The webhook parts: subscriptions (every backend) and the delivery outbox (the database's).

Registry events queue deliveries in their own transaction; whoever holds the outbox (an
embedded store's process, or the server) claims due deliveries with a lease and sends them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from perennia.entities import RegistryEvent, Webhook, WebhookDelivery

MAX_ATTEMPTS = 5
LEASE_MS = 60_000  # longer than any send (timeouts are seconds), so a live claim never expires


@dataclass(frozen=True)
class ClaimedDelivery:
    """A delivery leased to one sender: what to send, where, and the key to sign it with."""

    delivery_id: int
    webhook_id: int
    attempt: int  # this attempt's number (1-based); also the claim's token
    url: str
    secret: str = field(repr=False)
    event: RegistryEvent | None  # None if the event row has gone


class WebhookStore(Protocol):
    """Webhook subscriptions and the outbox of deliveries fed by registry events."""

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
        ...

    def list(self) -> list[Webhook]:
        """Return every webhook (never their secrets)."""
        ...

    def delete(self, webhook_id: int, username: str | None = None) -> None:
        """Remove a webhook and its pending deliveries."""
        ...

    def deliveries(
        self, webhook_id: int | None = None, status: str | None = None, limit: int = 100
    ) -> list[WebhookDelivery]:
        """Return deliveries, newest first."""
        ...


class WebhookOutbox(Protocol):
    """The claims a sender makes on due deliveries, and the outcomes it records."""

    def has_due(self, now: int | None = None) -> bool:
        """Return True when some delivery is due (pending, or sending with an expired lease)."""
        ...

    def claim(
        self,
        now: int | None = None,
        limit: int = 1,
        lease_ms: int = LEASE_MS,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> list[ClaimedDelivery]:
        """Return up to `limit` due deliveries, now leased to this caller until `now + lease_ms`."""
        ...

    def record_attempt(
        self,
        claim: ClaimedDelivery,
        *,
        status_code: int | None = None,
        error: str | None = None,
        now: int | None = None,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> str | None:
        """Return the delivery's new status after one attempt, or None if the claim was lost."""
        ...
