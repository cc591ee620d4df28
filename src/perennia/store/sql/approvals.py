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
import operator
import re
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
    Role,
    VersionState,
)
from perennia.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from perennia.store.registry_checks import ANY, check_alias, check_model_name, check_text
from perennia.store.sql import schema as s
from perennia.store.sql.access import standing_on_model
from perennia.store.sql.engine import read_transaction, write_transaction
from perennia.store.sql.registry import SqlRegistryStore
from perennia.store.sql.registry_events import record_event
from perennia.store.sql.registry_rows import read_model, read_version

_OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt, "==": operator.eq}
_GATE = re.compile(r"^\s*(?P<metric>[^<>=!\s]+)\s*(?P<op>>=|<=|==|>|<)\s*(?P<threshold>\S+)\s*$")
_ROLES = ("any", "viewer", "editor", "manager", "admin")
_DECISIONS = ("approve", "reject")
_MAX_APPROVALS = 20
# Without a policy a request still needs one approval, by anyone who is not its author.
_DEFAULT = dict(required_approvals=1, reviewer_role="any", allow_self_approval=False, gates=[])


def parse_gate(gate: MetricGate | str | dict[str, Any]) -> MetricGate:
    """Return a MetricGate from one, from a dict, or from text like 'test_roc_auc >= 0.9'."""
    if isinstance(gate, MetricGate):
        metric, op, threshold = gate.metric, gate.op, gate.threshold
    elif isinstance(gate, dict):
        metric, op, threshold = gate.get("metric"), gate.get("op"), gate.get("threshold")
    elif isinstance(gate, str) and (match := _GATE.match(gate)):
        metric, op, threshold = match["metric"], match["op"], match["threshold"]
    else:
        raise InvalidInput(
            f"gate {gate!r:.80} is not of the form 'metric >= number' (operators: >=, >, <=, <, ==)"
        )
    if not isinstance(metric, str) or not metric or len(metric) > 250:
        raise InvalidInput(f"gate metric must be a metric key, got {metric!r:.80}")
    if op not in _OPS:
        raise InvalidInput(f"gate operator must be one of >=, >, <=, <, ==, got {op!r:.20}")
    try:
        value = float(threshold)
    except (TypeError, ValueError):
        raise InvalidInput(f"gate threshold must be a number, got {threshold!r:.40}") from None
    if not math.isfinite(value):
        raise InvalidInput(f"gate threshold must be finite, got {threshold!r:.40}")
    return MetricGate(metric, op, value)


def _policy_row(row: Any) -> ApprovalPolicy:
    gates = [MetricGate(g["metric"], g["op"], g["threshold"]) for g in json.loads(row.gates)]
    return ApprovalPolicy(row.name, row.alias, row.required_approvals, row.reviewer_role,
                          bool(row.allow_self_approval), gates, row.updated_time,
                          row.updated_by)  # fmt: skip


def _policy_state(policy: ApprovalPolicy | None) -> dict[str, Any] | None:
    if policy is None:
        return None
    return {"alias": policy.alias, "required_approvals": policy.required_approvals,
            "reviewer_role": policy.reviewer_role, "allow_self_approval": policy.allow_self_approval,
            "gates": [str(g) for g in policy.gates]}  # fmt: skip


class SqlApprovalStore:
    """The `ApprovalStore` protocol over SQLAlchemy Core."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._registry = SqlRegistryStore(engine)

    # -- policies ----------------------------------------------------------------------------

    def set_policy(
        self, name: str, alias: str, *, required_approvals: int = 1,
        reviewer_role: str = "manager", allow_self_approval: bool = False,
        gates: Sequence[MetricGate | str] = (), username: str | None = None,
    ) -> ApprovalPolicy:  # fmt: skip
        """Return the alias's policy after creating or replacing it."""
        check_alias(alias)
        if (
            isinstance(required_approvals, bool)
            or not isinstance(required_approvals, int)
            or not (0 <= required_approvals <= _MAX_APPROVALS)
        ):
            raise InvalidInput(
                f"required_approvals must be an integer from 0 to {_MAX_APPROVALS}, "
                f"got {required_approvals!r:.40}"
            )
        if reviewer_role not in _ROLES:
            raise InvalidInput(
                f"reviewer_role must be one of {', '.join(_ROLES)}, got {reviewer_role!r:.40}"
            )
        if isinstance(gates, str | dict):
            gates = [gates]
        parsed = [parse_gate(g) for g in gates]
        if required_approvals == 0 and not parsed:
            raise InvalidInput("a policy needs at least one approval or one gate")
        p = s.approval_policies
        values = dict(required_approvals=required_approvals, reviewer_role=reviewer_role,
                      allow_self_approval=int(bool(allow_self_approval)),
                      gates=json.dumps([{"metric": g.metric, "op": g.op, "threshold": g.threshold}
                                        for g in parsed]),
                      updated_time=now_ms(), updated_by=username)  # fmt: skip
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
            record_event(conn, username, "set_policy", model.name, None,
                                  _policy_state(before), _policy_state(after))  # fmt: skip
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
            record_event(conn, username, "delete_policy", name, None,
                                  _policy_state(before), None)  # fmt: skip

    # -- requests ----------------------------------------------------------------------------

    def request(
        self, name: str, version: int | str, alias: str, *, comment: str = "",
        username: str | None = None,
    ) -> ApprovalRequest:  # fmt: skip
        """Return a new PENDING request to point `alias` at `version`."""
        check_alias(alias)
        comment = _comment(comment)
        r = s.approval_requests
        with write_transaction(self.engine) as conn:
            target = read_version(conn, check_model_name(name), _version(version))
            if target.state == VersionState.ARCHIVED:
                raise Conflict(
                    f"version {target.version} of {name!r} is archived; restore it first"
                )
            open_one = conn.execute(
                select(r.c.request_id).where(r.c.name == name, r.c.alias == alias,
                                             r.c.version == target.version,
                                             r.c.status == ApprovalStatus.PENDING)
            ).scalar()  # fmt: skip
            if open_one is not None:
                raise Conflict(
                    f"request {open_one} already asks to point {alias!r} of {name!r} at version "
                    f"{target.version}; review or cancel it"
                )
            try:
                request_id = conn.execute(
                    insert(r).values(name=name, version=target.version, alias=alias,
                                     requested_by=username, requested_time=now_ms(),
                                     comment=comment, status=ApprovalStatus.PENDING)
                    .returning(r.c.request_id)
                ).scalar_one()  # fmt: skip
            except IntegrityError:
                raise Conflict(
                    f"someone asked to point {alias!r} of {name!r} at version {target.version} "
                    "at the same time; review or cancel that request"
                ) from None
            record_event(conn, username, "request_approval", name, target.version, None,
                                  {"request_id": request_id, "alias": alias,
                                   "comment": comment})  # fmt: skip
            return self._read(conn, request_id)

    def review(
        self, request_id: int, decision: str, *, comment: str = "", username: str | None = None
    ) -> ApprovalRequest:
        """Record an approve/reject; return the request, APPLIED once the policy holds."""
        if decision not in _DECISIONS:
            raise InvalidInput(f"decision must be 'approve' or 'reject', got {decision!r:.40}")
        if not username:
            raise InvalidInput("a review needs a named reviewer: sign in, or pass username=")
        comment = _comment(comment)
        with write_transaction(self.engine) as conn:
            row = self._lock(conn, request_id)
            policy = self._effective_policy(conn, row.name, row.alias)
            self._check_reviewer(conn, row, policy, username)
            rv = s.approval_reviews
            if conn.execute(
                select(rv.c.reviewer).where(rv.c.request_id == row.request_id,
                                            rv.c.reviewer == username)
            ).first():  # fmt: skip
                raise Conflict(f"{username!r} has already reviewed request {row.request_id}")
            conn.execute(insert(rv).values(request_id=row.request_id, reviewer=username,
                                           decision=decision, comment=comment, time=now_ms()))  # fmt: skip
            record_event(conn, username, "review_approval", row.name, row.version, None,
                                  {"request_id": row.request_id, "alias": row.alias,
                                   "decision": decision, "comment": comment})  # fmt: skip
            if decision == "reject":
                self._decide(conn, row, ApprovalStatus.REJECTED, username)
            elif not self._unmet(conn, row, policy):
                self._registry.move_alias(conn, row.name, row.alias, row.version, ANY, username,
                                          "approve_alias")  # fmt: skip
                self._decide(conn, row, ApprovalStatus.APPLIED, username)
            return self._read(conn, row.request_id)

    def cancel(self, request_id: int, username: str | None = None) -> ApprovalRequest:
        """Withdraw a pending request (its requester, or an admin)."""
        with write_transaction(self.engine) as conn:
            row = self._lock(conn, request_id)
            is_admin, _ = standing_on_model(conn, row.name, username)
            if row.requested_by is not None and username != row.requested_by and not is_admin:
                raise PermissionDenied(
                    f"only {row.requested_by!r} (who asked) or an administrator may cancel "
                    f"request {row.request_id}"
                )
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
        return self._policy(conn, name, alias) or ApprovalPolicy(name, alias, **_DEFAULT)

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

    def _check_reviewer(self, conn: Connection, row: Any, policy: ApprovalPolicy, who: str) -> None:
        if not policy.allow_self_approval:
            author = read_version(conn, row.name, row.version).user_id
            if who in (row.requested_by, author):
                raise PermissionDenied(
                    f"{who!r} asked for or authored version {row.version} of {row.name!r} and may "
                    "not review it; another reviewer must (or cancel the request)"
                )
        if not _eligible(conn, row.name, who, policy.reviewer_role):
            raise PermissionDenied(
                f"reviewing {row.alias!r} of {row.name!r} needs the {policy.reviewer_role} role on "
                f"the model; {who!r} does not have it"
            )

    def _unmet(self, conn: Connection, row: Any, policy: ApprovalPolicy) -> list[str]:
        """Return what the policy still needs before the request can be applied."""
        unmet = []
        rv = s.approval_reviews
        reviewers = conn.execute(
            select(rv.c.reviewer).where(rv.c.request_id == row.request_id,
                                        rv.c.decision == "approve")
        ).scalars()  # fmt: skip
        approvals = sum(1 for r in reviewers if _eligible(conn, row.name, r, policy.reviewer_role))
        if approvals < policy.required_approvals:
            who = "" if policy.reviewer_role == "any" else f" by a {policy.reviewer_role}"
            unmet.append(
                f"{policy.required_approvals - approvals} more approval(s){who} "
                f"({approvals} of {policy.required_approvals})"
            )
        try:
            run_id = read_version(conn, row.name, row.version).run_id
        except NotFound:
            return [*unmet, f"version {row.version} no longer exists"]
        for gate in policy.gates:
            value = _metric(conn, run_id, gate.metric)
            if value is None:
                unmet.append(f"gate {gate}: the source run has no metric {gate.metric!r}")
            elif not _OPS[gate.op](value, gate.threshold):
                unmet.append(f"gate {gate} fails: {gate.metric} is {value:.6g}")
        return unmet

    def _decide(self, conn: Connection, row: Any, status: str, username: str | None) -> None:
        r = s.approval_requests
        conn.execute(update(r).where(r.c.request_id == row.request_id)
                     .values(status=status, decided_time=now_ms()))  # fmt: skip
        action = {ApprovalStatus.APPLIED: "apply_approval", ApprovalStatus.REJECTED:
                  "reject_approval", ApprovalStatus.CANCELLED: "cancel_approval"}[status]  # fmt: skip
        record_event(conn, username, action, row.name, row.version,
                              {"request_id": row.request_id, "status": row.status},
                              {"request_id": row.request_id, "status": str(status),
                               "alias": row.alias})  # fmt: skip

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
        unmet = []
        if row.status == ApprovalStatus.PENDING:
            unmet = self._unmet(conn, row, self._effective_policy(conn, row.name, row.alias))
        return ApprovalRequest(row.request_id, row.name, row.version, row.alias, row.requested_by,
                               row.requested_time, row.comment, row.status, row.decided_time,
                               reviews, unmet)  # fmt: skip


def _eligible(conn: Connection, name: str, username: str, role: str) -> bool:
    """Return whether the user holds `role` (or more) on the model; admins always do."""
    if role == "any":
        return True
    is_admin, held = standing_on_model(conn, name, username)
    if is_admin:
        return True
    return role != "admin" and held is not None and held.rank >= Role(role).rank


def _metric(conn: Connection, run_id: str | None, key: str) -> float | None:
    if run_id is None:
        return None
    m = s.latest_metrics
    value = conn.execute(select(m.c.value).where(m.c.run_uuid == run_id, m.c.key == key)).scalar()
    return None if value is None or math.isnan(value) else float(value)


def _version(version: Any) -> int:
    try:
        number = int(version)
    except (TypeError, ValueError):
        raise InvalidInput(f"version must be a positive integer, got {version!r:.40}") from None
    if number < 1 or isinstance(version, bool):
        raise InvalidInput(f"version must be a positive integer, got {version!r:.40}")
    return number


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
