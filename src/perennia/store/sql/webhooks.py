"""Webhooks in SQL: subscriptions and the delivery outbox that registry events feed."""

from __future__ import annotations

import json

from sqlalchemy import Connection, insert, select

from perennia.clock import now_ms
from perennia.store.sql import schema as s


def enqueue_deliveries(conn: Connection, event_id: int, model_name: str, action: str) -> int:
    """Queue a pending delivery of the event to every active webhook subscribed to it."""
    w = s.webhooks
    rows = conn.execute(
        select(w.c.webhook_id, w.c.events, w.c.model_name).where(w.c.active == 1)
    ).all()
    due = now_ms()
    targets = [
        row.webhook_id
        for row in rows
        if (row.model_name is None or row.model_name == model_name)
        and (not json.loads(row.events) or action in json.loads(row.events))
    ]
    if targets:
        conn.execute(
            insert(s.webhook_deliveries),
            [{"webhook_id": t, "event_id": event_id, "status": "pending", "attempts": 0,
              "next_attempt_time": due} for t in targets],
        )  # fmt: skip
    return len(targets)


class SqlWebhookStore:
    """Placeholder until implemented."""

    def __init__(self, engine) -> None:
        self.engine = engine
