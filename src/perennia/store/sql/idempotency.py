"""Idempotency keys in SQL: the first attempt of a write claims its key, retries replay it.

A client that lost a reply retries with the same `Idempotency-Key`; the server then answers
with the stored response instead of creating a second run, version or metric batch. Keys are
per user; a key reused for a different request is refused. Rows expire after a day.

A claim is a lease, not a lock held forever: if the attempt that claimed a key dies (its worker
killed, its database dropped), a retry after the lease takes the key over. The write itself and
the key's answer commit in one transaction (`IdempotentUnit`), and the answer is stored only if
the claim is still this attempt's, so an attempt that lost its lease commits nothing.
"""

from __future__ import annotations

import secrets

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from perennia.clock import now_ms
from perennia.errors import Conflict, InvalidInput
from perennia.store.protocols.requests import DEFAULT_LEASE_MS, Claim
from perennia.store.sql import schema as s
from perennia.store.sql.engine import Unit, write_transaction

KEEP_MS = 24 * 3600 * 1000
MAX_STORED_BODY = 1024 * 1024


class IdempotentUnit:
    """One claimed write (an `IdempotentWrite`): its transaction, committed with the key's answer."""

    def __init__(self, engine: Engine, key: str, username: str, token: str) -> None:
        self.unit = Unit(engine)
        self.key, self.username, self.token = key, username, token

    def commit(self, status: int, body: bytes) -> None:
        """Store the answer and commit the write with it; Conflict if the claim was taken over."""
        k = s.idempotency_keys
        try:
            stored = self.unit.conn.execute(
                update(k)
                .where(k.c.key == self.key, k.c.username == self.username)
                .where(k.c.claim == self.token, k.c.status.is_(None))
                .values(status=status, body=_text(body), lease_until=None)
            ).rowcount
        except BaseException:
            self.unit.rollback()
            raise
        if stored != 1:
            self.unit.rollback()
            raise Conflict(
                f"the claim on Idempotency-Key {self.key!r} expired and another attempt took it "
                "over; nothing was written by this one: retry to get that attempt's answer"
            )
        self.unit.commit()

    def rollback(self) -> None:
        """Undo the write (the key stays claimed until `release` or its lease ends)."""
        self.unit.rollback()


def _text(body: bytes) -> str | None:
    if len(body) > MAX_STORED_BODY:
        return None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


class SqlIdempotencyStore:
    """The `IdempotencyStore` protocol over SQLAlchemy Core."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def claim(
        self, key: str, username: str | None, request_digest: str, lease_ms: int = DEFAULT_LEASE_MS
    ) -> Claim:
        """Return a fresh claim for a new key (or one whose lease expired), or the stored answer.

        Raises Conflict while another attempt holds a live lease (retry later) and InvalidInput
        when the key was used for a different request.
        """
        k = s.idempotency_keys
        who = username or ""
        where = (k.c.key == key) & (k.c.username == who)
        token = secrets.token_hex(16)
        now = now_ms()
        with write_transaction(self.engine) as conn:
            row = conn.execute(select(k).where(where)).first()
            if row is not None and row.created_time < now - KEEP_MS:
                conn.execute(delete(k).where(where))
                row = None
            if row is None:
                try:
                    conn.execute(
                        insert(k).values(
                            key=key,
                            username=who,
                            request=request_digest,
                            status=None,
                            body=None,
                            created_time=now,
                            claim=token,
                            lease_until=now + lease_ms,
                        )
                    )
                except IntegrityError:
                    raise Conflict(_RUNNING.format(key=key)) from None
                return Claim(token=token)
            if row.request != request_digest:
                raise InvalidInput(
                    f"Idempotency-Key {key!r} was used for a different request; send a new key"
                )
            if row.status is not None:
                return Claim(replay=(row.status, row.body))
            if row.lease_until is not None and row.lease_until > now:
                raise Conflict(_RUNNING.format(key=key))
            # The attempt holding the key is gone: take it over, unless another retry just did.
            taken = conn.execute(
                update(k)
                .where(where, k.c.status.is_(None))
                .where(k.c.claim.is_(None) if row.claim is None else k.c.claim == row.claim)
                .values(claim=token, lease_until=now + lease_ms)
            ).rowcount
        if taken != 1:
            raise Conflict(_RUNNING.format(key=key))
        return Claim(token=token)

    def open_unit(self, key: str, username: str | None, token: str) -> IdempotentUnit:
        """Return the transaction the claimed write runs in (committed with the key's answer)."""
        return IdempotentUnit(self.engine, key, username or "", token)

    def release(self, key: str, username: str | None, token: str) -> None:
        """Free a key whose attempt failed (a server error), so a retry may run at once."""
        k = s.idempotency_keys
        with write_transaction(self.engine) as conn:
            conn.execute(
                delete(k).where(
                    k.c.key == key,
                    k.c.username == (username or ""),
                    k.c.claim == token,
                    k.c.status.is_(None),
                )
            )

    def expire(self, now: int | None = None) -> int:
        """Delete keys older than a day; return how many."""
        k = s.idempotency_keys
        cutoff = (now_ms() if now is None else now) - KEEP_MS
        with write_transaction(self.engine) as conn:
            return conn.execute(delete(k).where(k.c.created_time < cutoff)).rowcount or 0


_RUNNING = "a request with Idempotency-Key {key!r} is running; retry"
