"""Retraining policies, retrainings and their events in SQL.

A retraining starts with one conditional UPDATE of its policy (no retraining in flight, cooldown
passed), whose row count says whether this caller won; on PostgreSQL a racing UPDATE waits for
the winner's row lock and then re-checks the condition against the committed row, so it loses.
Every change of a retraining and the event recording it commit in one transaction, and a move to
a terminal state clears the policy's `in_flight` in that same transaction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, or_, select, true, update
from sqlalchemy.exc import IntegrityError

from perennia.clock import now_ms as clock_ms
from perennia.entities import Page, Retraining, RetrainingEvent, RetrainingPolicy
from perennia.entities.automation import RETRAINING_TERMINAL_STATES
from perennia.errors import Conflict, InvalidInput, NotFound
from perennia.store.automation_checks import (
    MAX_RETRAININGS_LISTED,
    check_expected_state,
    check_limit,
    check_message,
    check_policy,
    check_retraining_id,
    check_state,
    check_trigger,
    check_update_fields,
)
from perennia.store.limits import DEFAULT_SEARCH_MAX_RESULTS
from perennia.store.monitor_checks import (
    check_owner,
    check_time,
    check_username,
)
from perennia.store.protocols.automation import DEFAULT_RETRAININGS, LEASE_MS
from perennia.store.registry_checks import check_model_name
from perennia.store.sql import schema as s
from perennia.store.sql.engine import read_transaction, write_transaction
from perennia.store.sql.leases import claim_args, claim_due, page_of, to_json

_POLICY_FIELDS = tuple(c.name for c in s.retraining_policies.columns)
_POLICY_JSON = ("triggers", "config", "cursor")
_RETRAINING_FIELDS = tuple(c.name for c in s.retrainings.columns if c.name != "retraining_id")


def _policy_of(row: Any) -> RetrainingPolicy:
    """Return the RetrainingPolicy a `retraining_policies` row holds."""
    data = {f: row._mapping[f] for f in _POLICY_FIELDS}
    data |= {f: json.loads(data[f]) for f in _POLICY_JSON}
    return RetrainingPolicy(
        **data | {"triggers": tuple(data["triggers"]), "enabled": bool(data["enabled"])}
    )


def _retraining_of(row: Any) -> Retraining:
    """Return the Retraining a `retrainings` row holds."""
    data = {f: row._mapping[f] for f in _RETRAINING_FIELDS}
    data |= {"trigger": json.loads(data["trigger"]), "detail": json.loads(data["detail"])}
    return Retraining(id=row.retraining_id, **data)


def _read_policy(conn: Connection, model_name: str, *, lock: bool = False) -> Any:
    t = s.retraining_policies
    query = select(t).where(t.c.model_name == model_name)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise NotFound(f"registered model {model_name!r} has no retraining policy; set one first")
    return row


def _read_retraining(conn: Connection, retraining_id: int, *, lock: bool = False) -> Any:
    t = s.retrainings
    query = select(t).where(t.c.retraining_id == retraining_id)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise NotFound(
            f"no retraining with id {retraining_id}; list them with `perennia retrain list`"
        )
    return row


class SqlRetrainingStore:
    """The `RetrainingStore` protocol over SQLAlchemy Core."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- retraining policies ---------------------------------------------------------------

    def set_retraining_policy(
        self, policy: RetrainingPolicy, username: str | None = None
    ) -> RetrainingPolicy:
        """Create or replace the policy of `policy.model_name` and return it as stored.

        Replacing keeps what the store sets (cursor, in-flight retraining, last trigger, lease,
        creator); new or replaced, the policy is checked at once (its triggers may be new).
        """
        clean = check_policy(policy)
        username = check_username(username)
        t = s.retraining_policies
        with write_transaction(self.engine) as conn:
            now = clock_ms()
            found = conn.execute(
                select(t).where(t.c.model_name == clean.model_name).with_for_update()
            ).first()
            if found is None:
                kept = RetrainingPolicy(clean.model_name, clean.pipeline, created_by=username)
                kept = replace(kept, created_ms=now)
            else:
                kept = _policy_of(found)
            stored = replace(
                kept,
                pipeline=clean.pipeline,
                triggers=clean.triggers,
                config=clean.config,
                cooldown_ms=clean.cooldown_ms,
                enabled=clean.enabled,
                next_check_ms=now,
                updated_ms=max(now, kept.updated_ms),
            )
            row = {f: getattr(stored, f) for f in _POLICY_FIELDS}
            row |= {f: to_json(list(row[f]) if f == "triggers" else row[f]) for f in _POLICY_JSON}
            if found is None:
                try:
                    conn.execute(insert(t).values(**row))
                except IntegrityError:
                    raise Conflict(
                        f"the policy of {clean.model_name!r} was set concurrently; try again"
                    ) from None
            else:
                conn.execute(update(t).where(t.c.model_name == clean.model_name).values(**row))
        return stored

    def get_retraining_policy(self, model_name: str) -> RetrainingPolicy:
        """Return the retraining policy of `model_name`, or raise NotFound."""
        model_name = check_model_name(model_name)
        with read_transaction(self.engine) as conn:
            return _policy_of(_read_policy(conn, model_name))

    def list_retraining_policies(
        self, max_results: int = DEFAULT_SEARCH_MAX_RESULTS, page_token: str | None = None
    ) -> Page[RetrainingPolicy]:
        """Return one page of retraining policies, by model name."""
        t = s.retraining_policies
        query = select(t).order_by(t.c.model_name)
        return page_of(self.engine, query, max_results, page_token, _policy_of)

    def delete_retraining_policy(self, model_name: str) -> None:
        """Remove the policy (NotFound if there is none); its retrainings stay as history."""
        model_name = check_model_name(model_name)
        t = s.retraining_policies
        with write_transaction(self.engine) as conn:
            _read_policy(conn, model_name, lock=True)
            conn.execute(delete(t).where(t.c.model_name == model_name))

    def claim_due_policies(
        self, now_ms: int, owner: str, lease_ms: int = LEASE_MS, limit: int = 10
    ) -> list[RetrainingPolicy]:
        """Return up to `limit` enabled policies whose `next_check_ms` has come, each now leased
        to `owner`; of several callers racing for one, exactly one gets it."""
        now, owner, lease, limit = claim_args(now_ms, owner, lease_ms, limit)
        t = s.retraining_policies
        rows = claim_due(
            self.engine, t, t.c.model_name, t.c.next_check_ms, now, owner, lease, limit
        )
        return [_policy_of(row) for row in rows]

    def release_policy(
        self,
        model_name: str,
        owner: str,
        next_check_ms: int,
        cursor: dict[str, Any] | None = None,
    ) -> bool:
        """Return True after ending `owner`'s lease, setting the next check and (when given)
        the cursor; False when `owner` does not hold the lease any more."""

        model_name, owner = check_model_name(model_name), check_owner(owner)
        values: dict[str, Any] = {
            "lease_owner": None,
            "lease_until_ms": None,
            "next_check_ms": check_time(next_check_ms, "next_check_ms"),
        }
        if cursor is not None:
            from perennia.store.validation import validate_dataset_json

            values["cursor"] = to_json(validate_dataset_json(cursor, "cursor", 1_048_576, dict))
        t = s.retraining_policies
        with write_transaction(self.engine) as conn:
            done = conn.execute(
                update(t)
                .where(t.c.model_name == model_name, t.c.lease_owner == owner)
                .values(**values)
            )
            return done.rowcount == 1

    # -- retrainings -----------------------------------------------------------------------

    def start_retraining(
        self, model_name: str, trigger: dict[str, Any], now_ms: int, *, force: bool = False
    ) -> Retraining | None:
        """Return a new retraining in state "triggered", or None when the policy's guard says no
        (a retraining in flight, or, unless `force`, the cooldown or a disabled policy);
        NotFound without a policy."""
        model_name = check_model_name(model_name)
        trigger = check_trigger(trigger)
        now = check_time(now_ms, "now_ms")
        if not isinstance(force, bool):
            raise InvalidInput(f"force must be true or false, got {force!r:.40}")
        p, r = s.retraining_policies, s.retrainings
        guard = [p.c.model_name == model_name, p.c.in_flight.is_(None)]
        if not force:
            guard.append(p.c.enabled == true())
            guard.append(
                or_(p.c.last_triggered_ms.is_(None), p.c.last_triggered_ms + p.c.cooldown_ms <= now)
            )
        with write_transaction(self.engine) as conn:
            _read_policy(conn, model_name)
            # The compare-and-set: 0 (a placeholder the same transaction replaces below, never
            # seen by others) marks the policy busy only where the guard still holds.
            won = conn.execute(update(p).where(*guard).values(in_flight=0, last_triggered_ms=now))
            if won.rowcount != 1:
                return None
            started = Retraining(0, model_name, "triggered", trigger, now, now)
            row = {f: getattr(started, f) for f in _RETRAINING_FIELDS}
            row |= {"trigger": to_json(trigger), "detail": to_json({})}
            new_id = conn.execute(insert(r).values(**row)).inserted_primary_key[0]
            conn.execute(update(p).where(p.c.model_name == model_name).values(in_flight=new_id))
            reason = trigger.get("reason")
            message = reason if isinstance(reason, str) and reason.strip() else trigger["kind"]
            _record_event(conn, new_id, now, "triggered", f"triggered: {message}"[:1000], trigger)
        return replace(started, id=new_id)

    def update_retraining(
        self,
        retraining_id: int,
        state: str,
        message: str,
        *,
        pipeline_run_id: str | None = None,
        challenger_version: int | None = None,
        champion_version: int | None = None,
        approval_request_id: int | None = None,
        deployment: str | None = None,
        reason: str | None = None,
        detail: dict[str, Any] | None = None,
        expected_state: str | None = None,
        expected_updated_ms: int | None = None,
    ) -> Retraining:
        """Return the retraining moved to `state`, with one event recorded (`message`, `detail`).

        Fields given (not None) are set; `detail` is merged into the stored detail. Moving to a
        terminal state sets `finished_ms` and frees the policy's `in_flight`; a terminal
        retraining does not move again (Conflict). With `expected_state` the move happens only
        if the stored state is that one (Conflict otherwise: another process moved it).
        """
        retraining_id = check_retraining_id(retraining_id)
        state, message = check_state(state), check_message(message)
        expected = None if expected_state is None else check_expected_state(expected_state)
        fields = check_update_fields(
            {
                "pipeline_run_id": pipeline_run_id,
                "challenger_version": challenger_version,
                "champion_version": champion_version,
                "approval_request_id": approval_request_id,
                "deployment": deployment,
                "reason": reason,
                "detail": detail,
            }
        )
        since = check_time(expected_updated_ms, "expected_updated_ms", optional=True)
        with write_transaction(self.engine) as conn:
            old = _retraining_of(_read_retraining(conn, retraining_id, lock=True))
            if since is not None and old.updated_ms != since:
                raise Conflict(
                    f"retraining {old.id} was moved at {old.updated_ms}, after it was read (at "
                    f"{since}): another process moved it; read it again"
                )
            if expected is not None and old.state != expected:
                raise Conflict(
                    f"retraining {old.id} is {old.state} now, not {expected}: another process "
                    "moved it; read it again"
                )
            return _move(conn, old, state, message, fields)

    def get_retraining(self, retraining_id: int) -> Retraining:
        """Return one retraining, or raise NotFound."""
        retraining_id = check_retraining_id(retraining_id)
        with read_transaction(self.engine) as conn:
            return _retraining_of(_read_retraining(conn, retraining_id))

    def list_retrainings(
        self, model_name: str | None = None, limit: int = DEFAULT_RETRAININGS
    ) -> list[Retraining]:
        """Return retrainings (of one model, when given), newest first."""
        limit = check_limit(limit, MAX_RETRAININGS_LISTED)
        r = s.retrainings
        query = select(r).order_by(r.c.retraining_id.desc()).limit(limit)
        if model_name is not None:
            query = query.where(r.c.model_name == check_model_name(model_name))
        with read_transaction(self.engine) as conn:
            return [_retraining_of(row) for row in conn.execute(query)]

    def list_retraining_events(self, retraining_id: int) -> Sequence[RetrainingEvent]:
        """Return the events of one retraining, oldest first (NotFound if there is none)."""
        retraining_id = check_retraining_id(retraining_id)
        e = s.retraining_events
        query = (
            select(e.c.time_ms, e.c.state, e.c.message, e.c.detail)
            .where(e.c.retraining_id == retraining_id)
            .order_by(e.c.event_id)
        )
        with read_transaction(self.engine) as conn:
            _read_retraining(conn, retraining_id)
            rows = conn.execute(query).all()
        return [
            RetrainingEvent(retraining_id, time_ms, state, message, json.loads(detail))
            for time_ms, state, message, detail in rows
        ]


def _record_event(
    conn: Connection, retraining_id: int, now: int, state: str, message: str, detail: Any
) -> None:
    e = s.retraining_events
    conn.execute(
        insert(e).values(
            retraining_id=retraining_id,
            time_ms=now,
            state=state,
            message=message,
            detail=to_json(detail or {}),
        )
    )


def _move(
    conn: Connection, old: Retraining, state: str, message: str, fields: dict[str, Any]
) -> Retraining:
    """Return `old` moved to `state` with `fields` set and its event recorded (one transaction)."""
    if not old.active:
        raise Conflict(
            f"retraining {old.id} of {old.model_name!r} already ended as {old.state!r}; "
            "start a new retraining instead"
        )
    # Strictly later than the last move: `updated_ms` is the version racing movers compare.
    now = max(clock_ms(), old.updated_ms + 1)
    terminal = state in RETRAINING_TERMINAL_STATES
    event_detail = fields.get("detail") or {}
    if "detail" in fields:
        fields = fields | {"detail": old.detail | fields["detail"]}
    new = replace(old, state=state, updated_ms=now, **fields)
    if terminal:
        new = replace(new, finished_ms=now)
    values = {f: getattr(new, f) for f in (*fields, "state", "updated_ms", "finished_ms")}
    if "detail" in values:
        values["detail"] = to_json(new.detail)
    r, p = s.retrainings, s.retraining_policies
    conn.execute(update(r).where(r.c.retraining_id == old.id).values(**values))
    if terminal:
        conn.execute(
            update(p)
            .where(p.c.model_name == old.model_name, p.c.in_flight == old.id)
            .values(in_flight=None)
        )
    _record_event(conn, old.id, now, state, message, event_detail)
    return new
