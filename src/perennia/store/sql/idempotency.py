"""Idempotency keys in SQL: the first attempt of a write claims its key, retries replay it.

A client that lost a reply retries with the same `Idempotency-Key`; the server then answers
with the stored response instead of creating a second run, version or metric batch. Keys are
per user; a key reused for a different request is refused. Rows expire after a day.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from perennia.clock import now_ms
from perennia.errors import Conflict, InvalidInput
from perennia.store.sql import schema as s
from perennia.store.sql.engine import write_transaction

KEEP_MS = 24 * 3600 * 1000
MAX_STORED_BODY = 1024 * 1024


@dataclass(frozen=True)
class Claim:
    """What a key's lookup found: a fresh claim (`replay` None) or a stored answer to replay."""

    replay: tuple[int, str | None] | None = None


class SqlIdempotencyStore:
    """Claims, results and expiry of idempotency keys."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def claim(self, key: str, username: str | None, request_digest: str) -> Claim:
        """Return a fresh claim for a new key, or the stored answer of a finished one.

        Raises Conflict while the first attempt is still running (retry later) and InvalidInput
        when the key was used for a different request.
        """
        k = s.idempotency_keys
        who = username or ""
        with write_transaction(self.engine) as conn:
            row = conn.execute(select(k).where(k.c.key == key, k.c.username == who)).first()
            if row is None or row.created_time < now_ms() - KEEP_MS:
                if row is not None:
                    conn.execute(delete(k).where(k.c.key == key, k.c.username == who))
                try:
                    conn.execute(insert(k).values(key=key, username=who, request=request_digest,
                                                  status=None, body=None, created_time=now_ms()))  # fmt: skip
                except IntegrityError:
                    raise Conflict(
                        f"a request with Idempotency-Key {key!r} is running; retry"
                    ) from None
                return Claim()
        if row.request != request_digest:
            raise InvalidInput(
                f"Idempotency-Key {key!r} was used for a different request; send a new key"
            )
        if row.status is None:
            raise Conflict(f"a request with Idempotency-Key {key!r} is running; retry")
        return Claim((row.status, row.body))

    def finish(self, key: str, username: str | None, status: int, body: bytes) -> None:
        """Store the answer of a claimed key (a server error frees the key for a retry)."""
        k = s.idempotency_keys
        where = (k.c.key == key) & (k.c.username == (username or ""))
        with write_transaction(self.engine) as conn:
            if status >= 500:
                conn.execute(delete(k).where(where))
                return
            text = None
            if len(body) <= MAX_STORED_BODY:
                try:
                    text = body.decode("utf-8")
                except UnicodeDecodeError:
                    text = None
            conn.execute(update(k).where(where).values(status=status, body=text))

    def expire(self, now: int | None = None) -> int:
        """Delete keys older than a day; return how many."""
        k = s.idempotency_keys
        cutoff = (now_ms() if now is None else now) - KEEP_MS
        with write_transaction(self.engine) as conn:
            return conn.execute(delete(k).where(k.c.created_time < cutoff)).rowcount or 0
