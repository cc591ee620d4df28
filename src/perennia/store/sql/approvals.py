"""Approval policies, requests and reviews in SQL; an approved request moves its alias.

A policy guards one alias of one registered model: how many approvals it needs, the role a
reviewer must hold on the model, whether the version's author may approve, and metric gates
on the version's source run. A review and the alias move it completes are one transaction,
and the request row is locked first, so two reviewers approving at once cannot both miss the
other's approval (nor both apply it).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from perennia.clock import now_ms
from perennia.entities import (
    ApprovalPolicy,
    ApprovalRequest,
    ApprovalReview,
    ApprovalStatus,
    MetricGate,
    ModelVersion,
)
from perennia.entities.approval_rules import (
    Standing,
    check_alias_target,
    check_cancel,
    check_decision,
    check_reviewer,
    criteria_needs,
    effective_policy,
    make_policy,
    unmet,
)
from perennia.entities.registry import SUCCESS_CRITERIA_TAG
from perennia.errors import Conflict, InvalidInput, NotFound
from perennia.store.registry_checks import (
    ANY,
    check_alias,
    check_model_name,
    check_text,
    check_version,
)
from perennia.store.sql import schema as s
from perennia.store.sql.access import standing_on_model
from perennia.store.sql.aliases import move_alias
from perennia.store.sql.engine import read_transaction, write_transaction
from perennia.store.sql.registry_events import record_event
from perennia.store.sql.registry_rows import read_model, read_version


def _policy_row(row: Any) -> ApprovalPolicy:
    gates = [MetricGate(g["metric"], g["op"], g["threshold"]) for g in json.loads(row.gates)]
    return ApprovalPolicy(
        row.name,
        row.alias,
        row.required_approvals,
        row.reviewer_role,
        bool(row.allow_self_approval),
        gates,
        row.updated_time,
        row.updated_by,
    )


def _policy_state(policy: ApprovalPolicy | None) -> dict[str, Any] | None:
    if policy is None:
        return None
    return {
        "alias": policy.alias,
        "required_approvals": policy.required_approvals,
        "reviewer_role": policy.reviewer_role,
        "allow_self_approval": policy.allow_self_approval,
        "gates": [str(g) for g in policy.gates],
    }


class SqlApprovalStore:
    """The `ApprovalStore` protocol over SQLAlchemy Core."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- policies ----------------------------------------------------------------------------

    def set_policy(
        self,
        name: str,
        alias: str,
        *,
        required_approvals: int = 1,
        reviewer_role: str = "manager",
        allow_self_approval: bool = False,
        gates: Sequence[MetricGate | str] = (),
        username: str | None = None,
    ) -> ApprovalPolicy:
        """Return the alias's policy after creating or replacing it."""
        check_alias(alias)
        policy = make_policy(
            name,
            alias,
            required_approvals=required_approvals,
            reviewer_role=reviewer_role,
            allow_self_approval=allow_self_approval,
            gates=gates,
            updated_time=now_ms(),
            updated_by=username,
        )
        p = s.approval_policies
        values = dict(
            required_approvals=policy.required_approvals,
            reviewer_role=policy.reviewer_role,
            allow_self_approval=int(policy.allow_self_approval),
            gates=json.dumps(
                [{"metric": g.metric, "op": g.op, "threshold": g.threshold} for g in policy.gates]
            ),
            updated_time=policy.updated_time,
            updated_by=username,
        )
        with write_transaction(self.engine) as conn:
            model = read_model(conn, check_model_name(name))
            before = self._policy(conn, model.name, alias)
            where = (p.c.name == model.name) & (p.c.alias == alias)
            if before is None:
                try:
                    conn.execute(insert(p).values(name=model.name, alias=alias, **values))
                except IntegrityError:
                    raise Conflict(
                        f"someone set a policy for {alias!r} of {name!r} at the same time; "
                        "read it and set yours again"
                    ) from None
            else:
                conn.execute(update(p).where(where).values(**values))
            after = self._policy(conn, model.name, alias)
            record_event(
                conn,
                username,
                "set_policy",
                model.name,
                None,
                _policy_state(before),
                _policy_state(after),
            )
        return after

    def get_policy(self, name: str, alias: str) -> ApprovalPolicy | None:
        """Return the alias's policy, or None when the alias is not guarded."""
        with read_transaction(self.engine) as conn:
            return self._policy(conn, check_model_name(name), alias)

    def list_policies(self, name: str) -> list[ApprovalPolicy]:
        """Return every policy of the registered model, by alias."""
        p = s.approval_policies
        with read_transaction(self.engine) as conn:
            read_model(conn, check_model_name(name))
            rows = conn.execute(select(p).where(p.c.name == name).order_by(p.c.alias)).all()
        return [_policy_row(r) for r in rows]

    def delete_policy(self, name: str, alias: str, username: str | None = None) -> None:
        """Remove the alias's policy; NotFound when it has none."""
        p = s.approval_policies
        with write_transaction(self.engine) as conn:
            before = self._policy(conn, check_model_name(name), alias)
            if before is None:
                read_model(conn, name)
                raise NotFound(f"alias {alias!r} of {name!r} has no approval policy")
            conn.execute(delete(p).where(p.c.name == name, p.c.alias == alias))
            record_event(conn, username, "delete_policy", name, None, _policy_state(before), None)

    # -- requests ----------------------------------------------------------------------------

    def request(
        self,
        name: str,
        version: int | str,
        alias: str,
        *,
        comment: str = "",
        username: str | None = None,
    ) -> ApprovalRequest:
        """Return a new PENDING request to point `alias` at `version`."""
        check_alias(alias)
        comment = _comment(comment)
        r = s.approval_requests
        with write_transaction(self.engine) as conn:
            target = read_version(conn, check_model_name(name), check_version(version))
            check_alias_target(target)
            open_one = conn.execute(
                select(r.c.request_id).where(
                    r.c.name == name,
                    r.c.alias == alias,
                    r.c.version == target.version,
                    r.c.status == ApprovalStatus.PENDING,
                )
            ).scalar()
            if open_one is not None:
                raise Conflict(
                    f"request {open_one} already asks to point {alias!r} of {name!r} at version "
                    f"{target.version}; review or cancel it"
                )
            try:
                request_id = conn.execute(
                    insert(r)
                    .values(
                        name=name,
                        version=target.version,
                        alias=alias,
                        requested_by=username,
                        requested_time=now_ms(),
                        comment=comment,
                        status=ApprovalStatus.PENDING,
                    )
                    .returning(r.c.request_id)
                ).scalar_one()
            except IntegrityError:
                raise Conflict(
                    f"someone asked to point {alias!r} of {name!r} at version {target.version} "
                    "at the same time; review or cancel that request"
                ) from None
            record_event(
                conn,
                username,
                "request_approval",
                name,
                target.version,
                None,
                {"request_id": request_id, "alias": alias, "comment": comment},
            )
            return self._read(conn, request_id)

    def review(
        self, request_id: int, decision: str, *, comment: str = "", username: str | None = None
    ) -> ApprovalRequest:
        """Record an approve/reject; return the request, APPLIED once the policy holds."""
        check_decision(decision, username)
        comment = _comment(comment)
        with write_transaction(self.engine) as conn:
            row = self._lock(conn, request_id)
            policy = self._effective_policy(conn, row.name, row.alias)
            target = _version_or_none(conn, row.name, row.version)
            check_reviewer(
                policy,
                row.version,
                username,
                _standing(conn, row.name, username),
                requested_by=row.requested_by,
                author=None if target is None else target.user_id,
            )
            rv = s.approval_reviews
            if conn.execute(
                select(rv.c.reviewer).where(
                    rv.c.request_id == row.request_id, rv.c.reviewer == username
                )
            ).first():
                raise Conflict(f"{username!r} has already reviewed request {row.request_id}")
            conn.execute(
                insert(rv).values(
                    request_id=row.request_id,
                    reviewer=username,
                    decision=decision,
                    comment=comment,
                    time=now_ms(),
                )
            )
            record_event(
                conn,
                username,
                "review_approval",
                row.name,
                row.version,
                None,
                {
                    "request_id": row.request_id,
                    "alias": row.alias,
                    "decision": decision,
                    "comment": comment,
                },
            )
            if decision == "reject":
                self._decide(conn, row, ApprovalStatus.REJECTED, username)
            elif not self._unmet(conn, row, policy):
                move_alias(conn, row.name, row.alias, row.version, ANY, username, "approve_alias")
                self._decide(conn, row, ApprovalStatus.APPLIED, username)
            return self._read(conn, row.request_id)

    def cancel(self, request_id: int, username: str | None = None) -> ApprovalRequest:
        """Withdraw a pending request (its requester, or an admin)."""
        with write_transaction(self.engine) as conn:
            row = self._lock(conn, request_id)
            is_admin = _standing(conn, row.name, username).is_admin
            check_cancel(row.request_id, row.requested_by, username, is_admin)
            self._decide(conn, row, ApprovalStatus.CANCELLED, username)
            return self._read(conn, row.request_id)

    def get_request(self, request_id: int) -> ApprovalRequest:
        """Return the request with its reviews and what its policy still needs."""
        with read_transaction(self.engine) as conn:
            return self._read(conn, _request_id(request_id))

    def list_requests(
        self, name: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[ApprovalRequest]:
        """Return requests, newest first, optionally of one model and/or in one status."""
        r = s.approval_requests
        query = select(r.c.request_id).order_by(r.c.request_id.desc())
        query = query.limit(max(1, min(int(limit), 10_000)))
        if name is not None:
            query = query.where(r.c.name == check_model_name(name))
        if status is not None:
            if status not in set(ApprovalStatus):
                known = ", ".join(ApprovalStatus)
                raise InvalidInput(f"status must be one of {known}, got {status!r:.40}")
            query = query.where(r.c.status == status)
        with read_transaction(self.engine) as conn:
            return [self._read(conn, i) for i in conn.execute(query).scalars()]

    # -- helpers -----------------------------------------------------------------------------

    def _policy(self, conn: Connection, name: str, alias: str) -> ApprovalPolicy | None:
        p = s.approval_policies
        row = conn.execute(select(p).where(p.c.name == name, p.c.alias == alias)).first()
        return None if row is None else _policy_row(row)

    def _effective_policy(self, conn: Connection, name: str, alias: str) -> ApprovalPolicy:
        return effective_policy(self._policy(conn, name, alias), name, alias)

    def _lock(self, conn: Connection, request_id: Any) -> Any:
        r = s.approval_requests
        row = conn.execute(
            select(r).where(r.c.request_id == _request_id(request_id)).with_for_update()
        ).first()
        if row is None:
            raise NotFound(f"approval request {request_id} does not exist")
        if row.status != ApprovalStatus.PENDING:
            raise Conflict(f"approval request {row.request_id} is {row.status}, not PENDING")
        return row

    def _unmet(self, conn: Connection, row: Any, policy: ApprovalPolicy) -> list[str]:
        """Return what the policy still needs before the request can be applied."""
        rv = s.approval_reviews
        approvers = (
            conn.execute(
                select(rv.c.reviewer).where(
                    rv.c.request_id == row.request_id, rv.c.decision == "approve"
                )
            )
            .scalars()
            .all()
        )
        standings = {who: _standing(conn, row.name, who) for who in approvers}
        target = _version_or_none(conn, row.name, row.version)
        metrics = None if target is None else _metrics(conn, target.run_id, policy.gates)
        needs = unmet(policy, standings, metrics, row.version)
        if target is not None and not policy.gates:
            needs += criteria_needs(_criteria(conn, row.name), _run_metrics(conn, target.run_id))
        return needs

    def _decide(self, conn: Connection, row: Any, status: str, username: str | None) -> None:
        r = s.approval_requests
        conn.execute(
            update(r)
            .where(r.c.request_id == row.request_id)
            .values(status=status, decided_time=now_ms())
        )
        action = {
            ApprovalStatus.APPLIED: "apply_approval",
            ApprovalStatus.REJECTED: "reject_approval",
            ApprovalStatus.CANCELLED: "cancel_approval",
        }[status]
        record_event(
            conn,
            username,
            action,
            row.name,
            row.version,
            {"request_id": row.request_id, "status": row.status},
            {"request_id": row.request_id, "status": str(status), "alias": row.alias},
        )

    def _read(self, conn: Connection, request_id: int) -> ApprovalRequest:
        r, rv = s.approval_requests, s.approval_reviews
        row = conn.execute(select(r).where(r.c.request_id == request_id)).first()
        if row is None:
            raise NotFound(f"approval request {request_id} does not exist")
        reviews = [
            ApprovalReview(v.reviewer, v.decision, v.comment, v.time)
            for v in conn.execute(
                select(rv).where(rv.c.request_id == request_id).order_by(rv.c.time, rv.c.reviewer)
            )
        ]
        needs = []
        if row.status == ApprovalStatus.PENDING:
            needs = self._unmet(conn, row, self._effective_policy(conn, row.name, row.alias))
        return ApprovalRequest(
            row.request_id,
            row.name,
            row.version,
            row.alias,
            row.requested_by,
            row.requested_time,
            row.comment,
            row.status,
            row.decided_time,
            reviews,
            needs,
        )


def _standing(conn: Connection, name: str, username: str | None) -> Standing:
    """Return the user's standing on the model (an unknown user has none)."""
    is_admin, role = standing_on_model(conn, name, username)
    return Standing(is_admin, role)


def _version_or_none(conn: Connection, name: str, version: int) -> ModelVersion | None:
    try:
        return read_version(conn, name, version)
    except NotFound:
        return None


def _metrics(
    conn: Connection, run_id: str | None, gates: Sequence[MetricGate]
) -> dict[str, float | None]:
    """Return the run's latest value of each gated metric (None when missing or NaN)."""
    keys = sorted({g.metric for g in gates})
    if run_id is None or not keys:
        return {}
    m = s.latest_metrics
    rows = conn.execute(
        select(m.c.key, m.c.value).where(m.c.run_uuid == run_id, m.c.key.in_(keys))
    ).all()
    return {k: None if v is None or math.isnan(v) else float(v) for k, v in rows}


def _criteria(conn: Connection, name: str) -> str | None:
    """Return the model's success criteria JSON (its reserved tag), or None."""
    t = s.registered_model_tags
    where = (t.c.name == name) & (t.c.key == SUCCESS_CRITERIA_TAG)
    return conn.execute(select(t.c.value).where(where)).scalar()


def _run_metrics(conn: Connection, run_id: str | None) -> dict[str, float | None]:
    """Return every latest metric of the run (None when NaN); empty without a run."""
    if run_id is None:
        return {}
    m = s.latest_metrics
    rows = conn.execute(select(m.c.key, m.c.value).where(m.c.run_uuid == run_id)).all()
    return {k: None if v is None or math.isnan(v) else float(v) for k, v in rows}


def _request_id(request_id: Any) -> int:
    try:
        number = int(request_id)
    except (TypeError, ValueError):
        raise InvalidInput(
            f"request id must be a positive integer, got {request_id!r:.40}"
        ) from None
    if number < 1 or number > 2**62 or isinstance(request_id, bool):
        raise InvalidInput(f"request id must be a positive integer, got {request_id!r:.40}")
    return number


def _comment(comment: Any) -> str:
    return check_text("" if comment is None else comment, "comment", 10_000)
