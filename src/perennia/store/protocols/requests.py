"""What a server keeps about requests: the audit log and idempotency keys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from perennia.entities import AuditEntry

DEFAULT_LEASE_MS = 30_000


@dataclass(frozen=True)
class Claim:
    """What a key's lookup found: a fresh claim (`token` set) or a stored answer to replay."""

    replay: tuple[int, str | None] | None = None
    token: str | None = None


class IdempotentWrite(Protocol):
    """One claimed write: its transaction, committed together with the key's answer."""

    key: str
    token: str
    unit: Any  # the backend's open transaction, which the store's own writes join meanwhile

    def commit(self, status: int, body: bytes) -> None:
        """Store the answer and commit the write with it; Conflict if the claim was taken over."""
        ...

    def rollback(self) -> None:
        """Undo the write (the key stays claimed until `release` or its lease ends)."""
        ...


class AuditLog(Protocol):
    """The append-only record of mutating requests."""

    def record(self, entry: AuditEntry) -> None:
        """Append one entry."""
        ...

    def list(self, limit: int = 100, username: str | None = None) -> list[AuditEntry]:
        """Return the newest entries first."""
        ...


class IdempotencyStore(Protocol):
    """Claims (with leases), answers and expiry of idempotency keys."""

    def claim(
        self, key: str, username: str | None, request_digest: str, lease_ms: int = DEFAULT_LEASE_MS
    ) -> Claim:
        """Return a fresh claim for a new key (or one whose lease expired), or the stored answer."""
        ...

    def open_unit(self, key: str, username: str | None, token: str) -> IdempotentWrite:
        """Return the transaction the claimed write runs in (committed with the key's answer)."""
        ...

    def release(self, key: str, username: str | None, token: str) -> None:
        """Free a key whose attempt failed, so a retry may run at once."""
        ...

    def expire(self, now: int | None = None) -> int:
        """Delete keys older than a day; return how many."""
        ...
