"""Cron schedules in SQL: create, change, claim when due (with a lease), release after a firing.

A release is one UPDATE conditioned on the caller still holding the lease.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from perennia.clock import now_ms as clock_ms
from perennia.entities import Page, Schedule
from perennia.errors import AlreadyExists, InvalidInput, NotFound
from perennia.store.automation_checks import (
    check_cron,
    check_params,
    check_run_outcome,
    check_schedule,
    check_schedule_name,
)
from perennia.store.limits import DEFAULT_SEARCH_MAX_RESULTS
from perennia.store.monitor_checks import (
    check_description,
    check_owner,
    check_time,
    check_username,
)
from perennia.store.protocols.automation import LEASE_MS
from perennia.store.protocols.monitors import UNCHANGED, Unchanged
from perennia.store.sql import schema as s
from perennia.store.sql.engine import read_transaction, write_transaction
from perennia.store.sql.leases import claim_args, claim_due, page_of, to_json

_SCHEDULE_FIELDS = tuple(c.name for c in s.schedules.columns if c.name != "schedule_id")


def _schedule_of(row: Any) -> Schedule:
    """Return the Schedule a `schedules` row holds."""
    data = {f: row._mapping[f] for f in _SCHEDULE_FIELDS}
    return Schedule(
        **data | {"params": json.loads(data["params"]), "enabled": bool(data["enabled"])}
    )


def _read_schedule(conn: Connection, name: str, *, lock: bool = False) -> Any:
    t = s.schedules
    query = select(t).where(t.c.name == name)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise NotFound(f"no schedule named {name!r}; create it first (or check the name)")
    return row


class SqlScheduleStore:
    """The `ScheduleStore` protocol over SQLAlchemy Core."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- schedules -------------------------------------------------------------------------

    def create_schedule(self, schedule: Schedule, username: str | None = None) -> Schedule:
        """Store a new schedule and return it as stored (AlreadyExists when the name is taken)."""
        clean = check_schedule(schedule)
        username = check_username(username)
        now = clock_ms()
        stored = replace(
            clean,
            last_run_ms=None,
            last_status=None,
            last_error=None,
            last_run_id=None,
            lease_owner=None,
            lease_until_ms=None,
            created_by=username,
            created_ms=now,
            updated_ms=now,
        )
        row = {f: getattr(stored, f) for f in _SCHEDULE_FIELDS} | {"params": to_json(stored.params)}
        taken = AlreadyExists(
            f"schedule {clean.name!r} already exists; pick another name, or update that schedule"
        )
        t = s.schedules
        with write_transaction(self.engine) as conn:
            if conn.execute(select(t.c.schedule_id).where(t.c.name == clean.name)).first():
                raise taken
            try:
                conn.execute(insert(t).values(**row))
            except IntegrityError:
                # Another writer took the name between our check and our insert.
                raise taken from None
        return stored

    def get_schedule(self, name: str) -> Schedule:
        """Return the schedule called `name`, or raise NotFound."""
        name = check_schedule_name(name)
        with read_transaction(self.engine) as conn:
            return _schedule_of(_read_schedule(conn, name))

    def list_schedules(
        self, max_results: int = DEFAULT_SEARCH_MAX_RESULTS, page_token: str | None = None
    ) -> Page[Schedule]:
        """Return one page of schedules, by name."""
        query = select(s.schedules).order_by(s.schedules.c.name)
        return page_of(self.engine, query, max_results, page_token, _schedule_of)

    def update_schedule(
        self,
        name: str,
        *,
        cron: str | Unchanged = UNCHANGED,
        params: dict[str, Any] | Unchanged = UNCHANGED,
        enabled: bool | Unchanged = UNCHANGED,
        description: str | Unchanged = UNCHANGED,
        next_run_ms: int | None | Unchanged = UNCHANGED,
    ) -> Schedule:
        """Return the schedule after changing the fields given (NotFound if there is none)."""
        name = check_schedule_name(name)
        changes = _schedule_changes(cron, params, enabled, description, next_run_ms)
        t = s.schedules
        with write_transaction(self.engine) as conn:
            old = _schedule_of(_read_schedule(conn, name, lock=True))
            if not changes:
                return old
            new = replace(old, **changes, updated_ms=max(clock_ms(), old.updated_ms))
            values = {f: getattr(new, f) for f in (*changes, "updated_ms")}
            if "params" in values:
                values["params"] = to_json(new.params)
            conn.execute(update(t).where(t.c.name == name).values(**values))
        return new

    def delete_schedule(self, name: str) -> None:
        """Remove the schedule (NotFound if there is none)."""
        name = check_schedule_name(name)
        t = s.schedules
        with write_transaction(self.engine) as conn:
            _read_schedule(conn, name, lock=True)
            conn.execute(delete(t).where(t.c.name == name))

    def claim_due_schedules(
        self, now_ms: int, owner: str, lease_ms: int = LEASE_MS, limit: int = 10
    ) -> list[Schedule]:
        """Return up to `limit` enabled schedules due at `now_ms`, each now leased to `owner`
        until `now_ms + lease_ms`; of several callers racing for one, exactly one gets it."""
        now, owner, lease, limit = claim_args(now_ms, owner, lease_ms, limit)
        t = s.schedules
        rows = claim_due(self.engine, t, t.c.name, t.c.next_run_ms, now, owner, lease, limit)
        return [_schedule_of(row) for row in rows]

    def release_schedule(
        self,
        name: str,
        owner: str,
        next_run_ms: int | None,
        *,
        ran_ms: int | None = None,
        status: str | None = None,
        error: str | None = None,
        run_id: str | None = None,
    ) -> bool:
        """Return True after ending `owner`'s lease, setting the next firing and (when `ran_ms`
        is given) the last run's time, status, error and run id; False when `owner` does not
        hold the lease any more."""
        name, owner = check_schedule_name(name), check_owner(owner)
        next_run = check_time(next_run_ms, "next_run_ms", optional=True)
        ran, status, error, run_id = check_run_outcome(ran_ms, status, error, run_id)
        values: dict[str, Any] = {"lease_owner": None, "lease_until_ms": None}
        values["next_run_ms"] = next_run
        if ran is not None:
            values |= {
                "last_run_ms": ran,
                "last_status": status,
                "last_error": error,
                "last_run_id": run_id,
            }
        t = s.schedules
        with write_transaction(self.engine) as conn:
            done = conn.execute(
                update(t).where(t.c.name == name, t.c.lease_owner == owner).values(**values)
            )
            return done.rowcount == 1


def _schedule_changes(
    cron: Any, params: Any, enabled: Any, description: Any, next_run_ms: Any
) -> dict[str, Any]:
    """Return the checked fields an `update_schedule` call changes."""
    changes: dict[str, Any] = {}
    if cron is not UNCHANGED:
        changes["cron"] = check_cron(cron)
    if params is not UNCHANGED:
        changes["params"] = check_params(params)
    if enabled is not UNCHANGED:
        if not isinstance(enabled, bool):
            raise InvalidInput(f"enabled must be true or false, got {enabled!r:.40}")
        changes["enabled"] = enabled
    if description is not UNCHANGED:
        changes["description"] = check_description(description)
    if next_run_ms is not UNCHANGED:
        changes["next_run_ms"] = check_time(next_run_ms, "next_run_ms", optional=True)
    return changes
