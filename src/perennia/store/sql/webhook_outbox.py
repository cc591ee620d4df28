"""The webhook outbox in SQL: senders claim due deliveries with a lease and record outcomes.

Sending is at-least-once and safe with many server processes on one database: a sender claims a
due delivery with a compare-and-set UPDATE (pending -> sending) that also leases it until
`now + lease_ms`. Of two claimers racing for one row exactly one UPDATE matches; a sender that
crashes mid-send leaves a `sending` row whose lease expires, and the next claimer retries it.
Each claim bumps `attempts`, which doubles as the claim's token: an outcome is recorded only
while the row still holds the claimer's attempt number, so a stale sender cannot overwrite it.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine, select, update

from perennia.clock import now_ms
from perennia.store.protocols.webhooks import LEASE_MS, MAX_ATTEMPTS, ClaimedDelivery
from perennia.store.sql import schema as s
from perennia.store.sql.engine import read_transaction, write_transaction
from perennia.store.sql.registry_events import read_event
from perennia.store.sql.webhooks import backoff_ms

_MAX_ERROR = 500


class SqlWebhookOutbox:
    """The `WebhookOutbox` protocol over SQLAlchemy Core."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def has_due(self, now: int | None = None) -> bool:
        """Return True when some delivery is due (pending, or sending with an expired lease)."""
        d = s.webhook_deliveries
        now = now_ms() if now is None else now
        with read_transaction(self.engine) as conn:
            return conn.execute(_due(select(d.c.delivery_id), now).limit(1)).first() is not None

    def claim(
        self,
        now: int | None = None,
        limit: int = 1,
        lease_ms: int = LEASE_MS,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> list[ClaimedDelivery]:
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
                _due(
                    select(
                        d.c.delivery_id,
                        d.c.webhook_id,
                        d.c.event_id,
                        d.c.status,
                        d.c.attempts,
                        d.c.next_attempt_time,
                    ),
                    now,
                )
                .order_by(d.c.next_attempt_time, d.c.delivery_id)
                .limit(limit + 8)
            ).all()
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
                    else {
                        "status": "sending",
                        "attempts": row.attempts + 1,
                        "next_attempt_time": now + lease_ms,
                    }
                )
                won = conn.execute(
                    update(d)
                    .where(
                        d.c.delivery_id == row.delivery_id,
                        d.c.status == row.status,
                        d.c.attempts == row.attempts,
                        d.c.next_attempt_time == row.next_attempt_time,
                    )
                    .values(**values)
                )
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
        self,
        claim: ClaimedDelivery,
        *,
        status_code: int | None = None,
        error: str | None = None,
        now: int | None = None,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> str | None:
        """Return the delivery's new status after one attempt, or None if the claim was lost.

        A 2xx answer delivers; anything else is retried after `backoff_ms`, until the
        `max_attempts`-th failure marks the delivery failed.
        """
        d = s.webhook_deliveries
        now = now_ms() if now is None else now
        values: dict[str, object] = {
            "last_status_code": status_code,
            "last_error": None if error is None else error[:_MAX_ERROR],
        }
        if status_code is not None and 200 <= status_code < 300 and error is None:
            values.update(status="delivered", delivered_time=now)
        elif claim.attempt >= max_attempts:
            values.update(status="failed")
        else:
            values.update(status="pending", next_attempt_time=now + backoff_ms(claim.attempt))
        with write_transaction(self.engine) as conn:
            done = conn.execute(
                update(d)
                .where(
                    d.c.delivery_id == claim.delivery_id,
                    d.c.status == "sending",
                    d.c.attempts == claim.attempt,
                )
                .values(**values)
            )
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
