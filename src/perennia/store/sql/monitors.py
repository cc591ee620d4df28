"""Monitors in SQL: one row per monitor, and per computed window one run and its points.

A window is recorded in one transaction that first locks the monitor's row: the window's old run
and points are deleted and the new ones inserted, so recording a window again (a re-run, or
late labels) replaces it instead of adding points, and two recorders of one monitor take turns.

Scheduled monitors are claimed like a job queue. The claim selects due rows `FOR UPDATE SKIP
LOCKED` (PostgreSQL; SQLite serialises writers with `BEGIN IMMEDIATE`), so replicas racing for
due monitors each lock a different set and never wait on one another, then leases them with an
UPDATE that re-checks the row is still due. A replica that dies mid-run leaves a lease that
lapses at `lease_until_ms`, after which the next claim takes the monitor over.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from perennia.clock import now_ms as clock_ms
from perennia.entities import Monitor, MonitorPoint, MonitorRun, Page
from perennia.errors import AlreadyExists, InvalidInput, NotFound
from perennia.store.limits import DEFAULT_SEARCH_MAX_RESULTS, MAX_SEARCH_RESULTS
from perennia.store.monitor_checks import (
    MAX_CLAIMS,
    MAX_POINTS_LISTED,
    MAX_RUNS_LISTED,
    check_config,
    check_description,
    check_keys,
    check_limit,
    check_monitor,
    check_monitor_name,
    check_owner,
    check_period,
    check_points,
    check_reference,
    check_run,
    check_time,
    check_username,
)
from perennia.store.paging import check_max_results, decode_page_token, encode_page_token
from perennia.store.protocols.monitors import (
    DEFAULT_POINTS,
    DEFAULT_RUNS,
    LEASE_MS,
    UNCHANGED,
    Unchanged,
)
from perennia.store.sql import schema as s
from perennia.store.sql.engine import read_transaction, write_transaction

# Every `monitors` column holds the Monitor field of the same name; config is JSON text.
_FIELDS = tuple(c.name for c in s.monitors.columns if c.name != "monitor_id")


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"))


def _monitor_of(row: Any) -> Monitor:
    """Return the Monitor a `monitors` row holds."""
    data = {f: row._mapping[f] for f in _FIELDS}
    data["config"] = json.loads(data["config"])
    return Monitor(**data)


def _read(conn: Connection, name: str, *, lock: bool = False) -> Any:
    """Return the monitor's row (locked for this transaction with `lock`), or raise NotFound."""
    m = s.monitors
    query = select(m).where(m.c.name == name)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise NotFound(f"no monitor named {name!r}; create it first (or check the name)")
    return row


def _window(table: Any, monitor_id: int, start: int, end: int) -> Any:
    return and_(
        table.c.monitor_id == monitor_id,
        table.c.window_start_ms == start,
        table.c.window_end_ms == end,
    )


def _ends_between(table: Any, since_ms: Any, until_ms: Any) -> list[Any]:
    """Return the conditions keeping rows whose window ends from `since_ms` to `until_ms`."""
    since = check_time(since_ms, "since_ms", optional=True)
    until = check_time(until_ms, "until_ms", optional=True)
    if since is not None and until is not None and since > until:
        raise InvalidInput(f"since_ms {since} is after until_ms {until}; swap them")
    conditions = []
    if since is not None:
        conditions.append(table.c.window_end_ms >= since)
    if until is not None:
        conditions.append(table.c.window_end_ms <= until)
    return conditions


def _due(now: int) -> Any:
    """Return the condition a claimable monitor meets at `now`: scheduled, due, lease free."""
    m = s.monitors
    return and_(
        m.c.schedule_ms.is_not(None),
        m.c.next_run_ms <= now,
        or_(m.c.lease_until_ms.is_(None), m.c.lease_until_ms <= now),
    )


def _next_run(old: Monitor, schedule_ms: int | None, now: int) -> int | None:
    """Return when a monitor whose schedule becomes `schedule_ms` is next due (see the protocol)."""
    if schedule_ms is None:
        return None
    if old.schedule_ms is None or old.next_run_ms is None:
        return now
    return min(old.next_run_ms, now + schedule_ms)


class SqlMonitorStore:
    """The `MonitorStore` protocol over SQLAlchemy Core."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create_monitor(self, monitor: Monitor, username: str | None = None) -> Monitor:
        """Store a new monitor and return it as stored (AlreadyExists when the name is taken)."""
        clean = check_monitor(monitor)
        username = check_username(username)
        now = clock_ms()
        scheduled = clean.schedule_ms is not None
        stored = replace(
            clean,
            created_ms=now,
            updated_ms=now,
            created_by=username,
            last_window_end_ms=None,
            next_run_ms=(now if clean.next_run_ms is None else clean.next_run_ms)
            if scheduled
            else None,
            lease_owner=None,
            lease_until_ms=None,
        )
        row = {f: getattr(stored, f) for f in _FIELDS} | {"config": _json(stored.config)}
        taken = AlreadyExists(
            f"monitor {clean.name!r} already exists; pick another name, or update that monitor"
        )
        m = s.monitors
        with write_transaction(self.engine) as conn:
            if conn.execute(select(m.c.monitor_id).where(m.c.name == clean.name)).first():
                raise taken
            try:
                conn.execute(insert(m).values(**row))
            except IntegrityError:
                # Another writer took the name between our check and our insert.
                raise taken from None
        return stored

    def get_monitor(self, name: str) -> Monitor:
        """Return the monitor called `name`, or raise NotFound."""
        name = check_monitor_name(name)
        with read_transaction(self.engine) as conn:
            return _monitor_of(_read(conn, name))

    def list_monitors(
        self,
        deployment: str | None = None,
        max_results: int = DEFAULT_SEARCH_MAX_RESULTS,
        page_token: str | None = None,
    ) -> Page[Monitor]:
        """Return one page of monitors (of one deployment, when given), by name."""
        from perennia.store.deployment_checks import check_deployment_name

        check_max_results(max_results, MAX_SEARCH_RESULTS)
        offset = decode_page_token(page_token)
        m = s.monitors
        query = select(m)
        if deployment is not None:
            query = query.where(m.c.deployment == check_deployment_name(deployment))
        query = query.order_by(m.c.name).offset(offset).limit(max_results + 1)
        with read_transaction(self.engine) as conn:
            rows = conn.execute(query).all()
        token = encode_page_token(offset + max_results) if len(rows) > max_results else None
        return Page([_monitor_of(row) for row in rows[:max_results]], token)

    def update_monitor(
        self,
        name: str,
        *,
        window_ms: int | Unchanged = UNCHANGED,
        schedule_ms: int | None | Unchanged = UNCHANGED,
        reference: str | Unchanged = UNCHANGED,
        config: dict[str, Any] | Unchanged = UNCHANGED,
        description: str | Unchanged = UNCHANGED,
    ) -> Monitor:
        """Return the monitor after changing the fields given (NotFound if there is none)."""
        name = check_monitor_name(name)
        changes: dict[str, Any] = {}
        if window_ms is not UNCHANGED:
            changes["window_ms"] = check_period(window_ms, "window_ms")
        if schedule_ms is not UNCHANGED:
            changes["schedule_ms"] = check_period(schedule_ms, "schedule_ms", optional=True)
        if reference is not UNCHANGED:
            changes["reference"] = check_reference(reference)
        if config is not UNCHANGED:
            changes["config"] = check_config(config)
        if description is not UNCHANGED:
            changes["description"] = check_description(description)
        m = s.monitors
        with write_transaction(self.engine) as conn:
            old = _monitor_of(_read(conn, name, lock=True))
            if not changes:
                return old
            now = clock_ms()
            if "schedule_ms" in changes:
                changes["next_run_ms"] = _next_run(old, changes["schedule_ms"], now)
            new = replace(old, **changes, updated_ms=max(now, old.updated_ms))
            values = {f: getattr(new, f) for f in (*changes, "updated_ms")}
            if "config" in values:
                values["config"] = _json(new.config)
            conn.execute(update(m).where(m.c.name == name).values(**values))
        return new

    def delete_monitor(self, name: str) -> None:
        """Remove the monitor with its runs, points and alerts (NotFound if there is none)."""
        name = check_monitor_name(name)
        with write_transaction(self.engine) as conn:
            monitor_id = _read(conn, name, lock=True).monitor_id
            # The foreign keys cascade too; deleting here does not depend on SQLite's pragma.
            children = (s.alert_events, s.alert_states, s.monitor_points, s.monitor_runs)
            for table in (*children, s.monitors):
                conn.execute(delete(table).where(table.c.monitor_id == monitor_id))

    def record_window(
        self,
        name: str,
        run: MonitorRun,
        points: Sequence[MonitorPoint],
        last_window_end_ms: int | None,
    ) -> None:
        """Store one computed window (its run and points) in one transaction, replacing any
        earlier record of the same window; `last_window_end_ms` only moves forward."""
        name = check_monitor_name(name)
        clean = check_run(name, run)
        clean_points = check_points(clean, points)
        last = check_time(last_window_end_ms, "last_window_end_ms", optional=True)
        start, end = clean.window_start_ms, clean.window_end_ms
        m, r, p = s.monitors, s.monitor_runs, s.monitor_points
        with write_transaction(self.engine) as conn:
            monitor_id = _read(conn, name, lock=True).monitor_id
            conn.execute(delete(p).where(_window(p, monitor_id, start, end)))
            conn.execute(delete(r).where(_window(r, monitor_id, start, end)))
            window = {"monitor_id": monitor_id, "window_start_ms": start, "window_end_ms": end}
            conn.execute(
                insert(r).values(
                    **window,
                    computed_ms=clean.computed_ms,
                    status=clean.status,
                    summary=_json(clean.summary),
                    error=clean.error,
                )
            )
            if clean_points:
                rows = [
                    {**window, "key": q.key, "value": q.value, "computed_ms": q.computed_ms}
                    for q in clean_points
                ]
                conn.execute(insert(p), rows)
            if last is not None:
                forward = or_(m.c.last_window_end_ms.is_(None), m.c.last_window_end_ms < last)
                conn.execute(
                    update(m)
                    .where(m.c.monitor_id == monitor_id, forward)
                    .values(last_window_end_ms=last)
                )

    def list_points(
        self,
        name: str,
        keys: Sequence[str] | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int = DEFAULT_POINTS,
    ) -> list[MonitorPoint]:
        """Return the monitor's points (of `keys`, when given) whose window ends between
        `since_ms` and `until_ms` inclusive, ordered by window end, then key."""
        name, wanted = check_monitor_name(name), check_keys(keys)
        limit = check_limit(limit, MAX_POINTS_LISTED)
        p = s.monitor_points
        conditions = _ends_between(p, since_ms, until_ms)
        if wanted is not None:
            conditions.append(p.c.key.in_(wanted))
        with read_transaction(self.engine) as conn:
            monitor_id = _read(conn, name).monitor_id
            query = (
                select(p.c.window_start_ms, p.c.window_end_ms, p.c.key, p.c.value, p.c.computed_ms)
                .where(p.c.monitor_id == monitor_id, *conditions)
                .order_by(p.c.window_end_ms, p.c.key, p.c.window_start_ms)
                .limit(limit)
            )
            rows = conn.execute(query).all()
        return [MonitorPoint(name, *row) for row in rows]

    def list_runs(
        self,
        name: str,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int = DEFAULT_RUNS,
    ) -> list[MonitorRun]:
        """Return the monitor's runs whose window ends between `since_ms` and `until_ms`
        inclusive, newest window end first."""
        name = check_monitor_name(name)
        limit = check_limit(limit, MAX_RUNS_LISTED)
        r = s.monitor_runs
        conditions = _ends_between(r, since_ms, until_ms)
        with read_transaction(self.engine) as conn:
            monitor_id = _read(conn, name).monitor_id
            query = (
                select(r)
                .where(r.c.monitor_id == monitor_id, *conditions)
                .order_by(r.c.window_end_ms.desc(), r.c.window_start_ms.desc())
                .limit(limit)
            )
            rows = conn.execute(query).all()
        return [
            MonitorRun(
                name,
                row.window_start_ms,
                row.window_end_ms,
                row.computed_ms,
                row.status,
                json.loads(row.summary),
                row.error,
            )
            for row in rows
        ]

    def claim_due_monitors(
        self, now_ms: int, owner: str, lease_ms: int = LEASE_MS, limit: int = 10
    ) -> list[Monitor]:
        """Return up to `limit` due monitors, oldest due first, each now leased to `owner`
        until `now_ms + lease_ms` (see the module for why two claimers never share one)."""
        now = check_time(now_ms, "now_ms")
        owner = check_owner(owner)
        lease = check_period(lease_ms, "lease_ms")
        limit = check_limit(limit, MAX_CLAIMS)
        m = s.monitors
        with write_transaction(self.engine) as conn:
            candidates = (
                select(m.c.monitor_id)
                .where(_due(now))
                .order_by(m.c.next_run_ms, m.c.monitor_id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            ids = list(conn.execute(candidates).scalars())
            if not ids:
                return []
            conn.execute(
                update(m)
                .where(m.c.monitor_id.in_(ids), _due(now))
                .values(lease_owner=owner, lease_until_ms=now + lease)
            )
            query = (
                select(m)
                .where(m.c.monitor_id.in_(ids), m.c.lease_owner == owner)
                .order_by(m.c.next_run_ms, m.c.monitor_id)
            )
            return [_monitor_of(row) for row in conn.execute(query)]

    def release_monitor(self, name: str, owner: str, next_run_ms: int | None = None) -> bool:
        """Return True after ending `owner`'s lease and setting the next run (None: one
        `schedule_ms` from now); False when `owner` holds no lease on it (or it is gone)."""
        name, owner = check_monitor_name(name), check_owner(owner)
        next_run = check_time(next_run_ms, "next_run_ms", optional=True)
        m = s.monitors
        with write_transaction(self.engine) as conn:
            try:
                row = _read(conn, name, lock=True)
            except NotFound:
                return False  # deleted while it ran: nothing is left to release
            if row.lease_owner != owner:
                return False
            if row.schedule_ms is None:
                next_run = None  # unscheduled while it ran: it is no longer due at all
            elif next_run is None:
                next_run = clock_ms() + row.schedule_ms
            conn.execute(
                update(m)
                .where(m.c.monitor_id == row.monitor_id)
                .values(lease_owner=None, lease_until_ms=None, next_run_ms=next_run)
            )
        return True
