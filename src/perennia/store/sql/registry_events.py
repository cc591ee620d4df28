"""The registry event log: one row per change, written in the change's own transaction.

Each event also queues a delivery for every webhook that subscribes to it (an outbox), in the
same transaction, so a delivery exists exactly when its event does.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, func, insert, select

from perennia.clock import now_ms
from perennia.entities import RegistryEvent
from perennia.store.sql import schema as s


def record_event(
    conn: Connection,
    username: str | None,
    action: str,
    name: str,
    version: int | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> int:
    """Append one registry event (and its webhook deliveries); return its id."""
    from perennia.store.sql.webhooks import enqueue_deliveries

    event_id = conn.execute(
        insert(s.registry_events)
        .values(
            time=now_ms(),
            username=username,
            action=action,
            model_name=name,
            version=version,
            before=dumps(before),
            after=dumps(after),
        )
        .returning(s.registry_events.c.event_id)
    ).scalar_one()
    enqueue_deliveries(conn, event_id, name, action)
    return int(event_id)


def read_event(conn: Connection, event_id: int) -> RegistryEvent | None:
    """Return one event by id, or None."""
    e = s.registry_events
    row = conn.execute(select(e).where(e.c.event_id == event_id)).first()
    return None if row is None else event_of(row)


def event_of(row: Any) -> RegistryEvent:
    """Return the RegistryEvent a registry_events row holds."""
    return RegistryEvent(
        row.event_id,
        row.time,
        row.username,
        row.action,
        row.model_name,
        row.version,
        loads(row.before),
        loads(row.after),
    )


def dumps(value: dict[str, Any] | None) -> str | None:
    """Return the JSON text stored for a before/after state."""
    return None if value is None else json.dumps(value, sort_keys=True)


def loads(text: str | None) -> dict[str, Any] | None:
    """Return the before/after state a JSON column holds."""
    return None if text is None else json.loads(text)


_MOVES = ("set_alias", "approve_alias")


def alias_history(events: list[RegistryEvent], alias: str) -> list[int]:
    """Return the versions `alias` has held that a rollback can return to, oldest first.

    `events` are the model's events, newest first. Moves push a version, rollbacks pop one and
    a deletion forgets the stack, so two rollbacks after three moves land on the first version.
    The last entry is where the alias points now.
    """
    held: list[int] = []
    for event in reversed(events):
        if (event.after or event.before or {}).get("alias") != alias:
            continue
        if event.action in _MOVES and event.after is not None:
            held.append(event.after["version"])
        elif event.action == "rollback_alias" and held:
            held.pop()
        elif event.action == "delete_alias":
            held.clear()
    return held


def since_creation(name: str) -> tuple[Any, ...]:
    """Return WHERE clauses selecting one model's events since its (latest) creation."""
    e = s.registry_events
    created = (
        select(func.max(e.c.event_id))
        .where(e.c.model_name == name, e.c.action == "create_registered_model")
        .scalar_subquery()
    )
    return e.c.model_name == name, e.c.event_id >= func.coalesce(created, 0)


def model_events(conn: Connection, name: str) -> list[RegistryEvent]:
    """Return the events of the model now under `name` (not of earlier ones), newest first."""
    e = s.registry_events
    rows = conn.execute(select(e).where(*since_creation(name)).order_by(e.c.event_id.desc()))
    return [event_of(r) for r in rows]
