"""The registry's governance rules, as pure functions on entities: no I/O, no SQL.

What an approval policy may say, who may review a request, what a request still needs before
it applies, and which alias moves a policy refuses. Every store backend gathers the facts
these functions need inside its own transaction (the SQL store after locking the request
row), calls them, and applies the outcome in that same transaction, so the decision is made
once, by this code, whatever holds the rows. They sit beside the entities, below the store,
because the store must apply them atomically and the registry SDK must not be imported by it.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from perennia.entities import Role
from perennia.entities.registry import ApprovalPolicy, MetricGate, ModelVersion, VersionState
from perennia.errors import Conflict, InvalidInput, PermissionDenied

REVIEWER_ROLES = ("any", "viewer", "editor", "manager", "admin")
DECISIONS = ("approve", "reject")
MAX_APPROVALS = 20
_OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt, "==": operator.eq}
_GATE = re.compile(r"^\s*(?P<metric>[^<>=!\s]+)\s*(?P<op>>=|<=|==|>|<)\s*(?P<threshold>\S+)\s*$")


@dataclass(frozen=True)
class Standing:
    """A user's standing on one registered model: administrator or not, and the role held."""

    is_admin: bool = False
    role: Role | None = None


# -- policies ---------------------------------------------------------------------------------


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


def make_policy(
    name: str,
    alias: str,
    *,
    required_approvals: int,
    reviewer_role: str,
    allow_self_approval: bool,
    gates: Sequence[MetricGate | str | dict[str, Any]] | MetricGate | str | dict[str, Any],
    updated_time: int = 0,
    updated_by: str | None = None,
) -> ApprovalPolicy:
    """Return the policy these settings describe, or raise InvalidInput naming what is wrong."""
    if (
        isinstance(required_approvals, bool)
        or not isinstance(required_approvals, int)
        or not (0 <= required_approvals <= MAX_APPROVALS)
    ):
        raise InvalidInput(
            f"required_approvals must be an integer from 0 to {MAX_APPROVALS}, "
            f"got {required_approvals!r:.40}"
        )
    if reviewer_role not in REVIEWER_ROLES:
        raise InvalidInput(
            f"reviewer_role must be one of {', '.join(REVIEWER_ROLES)}, got {reviewer_role!r:.40}"
        )
    if isinstance(gates, str | dict | MetricGate):
        gates = [gates]
    parsed = [parse_gate(g) for g in gates]
    if required_approvals == 0 and not parsed:
        raise InvalidInput("a policy needs at least one approval or one gate")
    return ApprovalPolicy(
        name,
        alias,
        required_approvals,
        str(reviewer_role),
        bool(allow_self_approval),
        parsed,
        updated_time,
        updated_by,
    )


def effective_policy(policy: ApprovalPolicy | None, name: str, alias: str) -> ApprovalPolicy:
    """Return `policy`, or for an unguarded alias the default: one approval by anyone else."""
    if policy is not None:
        return policy
    return ApprovalPolicy(
        name, alias, required_approvals=1, reviewer_role="any", allow_self_approval=False, gates=[]
    )


# -- reviews ----------------------------------------------------------------------------------


def check_decision(decision: Any, reviewer: str | None) -> str:
    """Return the decision ('approve' or 'reject') if a named reviewer may record it, else raise."""
    if decision not in DECISIONS:
        raise InvalidInput(f"decision must be 'approve' or 'reject', got {decision!r:.40}")
    if not reviewer:
        raise InvalidInput("a review needs a named reviewer: sign in, or pass username=")
    return decision


def is_eligible(standing: Standing, reviewer_role: str) -> bool:
    """Return whether someone with `standing` holds `reviewer_role` (or more); admins always do."""
    if reviewer_role == "any" or standing.is_admin:
        return True
    if reviewer_role == "admin" or standing.role is None:
        return False
    return Role(standing.role).rank >= Role(reviewer_role).rank


def check_reviewer(
    policy: ApprovalPolicy,
    version: int,
    reviewer: str,
    standing: Standing,
    *,
    requested_by: str | None,
    author: str | None,
) -> None:
    """Raise PermissionDenied unless `reviewer` may review a request to move the policy's alias."""
    if not policy.allow_self_approval and reviewer in (requested_by, author):
        raise PermissionDenied(
            f"{reviewer!r} asked for or authored version {version} of {policy.name!r} and may "
            "not review it; another reviewer must (or cancel the request)"
        )
    if not is_eligible(standing, policy.reviewer_role):
        raise PermissionDenied(
            f"reviewing {policy.alias!r} of {policy.name!r} needs the {policy.reviewer_role} role "
            f"on the model; {reviewer!r} does not have it"
        )


def unmet(
    policy: ApprovalPolicy,
    approvers: Mapping[str, Standing],
    metrics: Mapping[str, float | None] | None,
    version: int,
) -> list[str]:
    """Return what the policy still needs before the request applies (empty: it holds).

    `approvers` are the users who approved, with their standing; `metrics` the source run's
    latest value of each gate's metric (None for a missing or NaN value), or None when the
    version no longer exists.
    """
    needs = []
    approvals = sum(1 for s in approvers.values() if is_eligible(s, policy.reviewer_role))
    if approvals < policy.required_approvals:
        who = "" if policy.reviewer_role == "any" else f" by a {policy.reviewer_role}"
        needs.append(
            f"{policy.required_approvals - approvals} more approval(s){who} "
            f"({approvals} of {policy.required_approvals})"
        )
    if metrics is None:
        return [*needs, f"version {version} no longer exists"]
    for gate in policy.gates:
        value = metrics.get(gate.metric)
        if value is None or math.isnan(value):
            needs.append(f"gate {gate}: the source run has no metric {gate.metric!r}")
        elif not _OPS[gate.op](value, gate.threshold):
            needs.append(f"gate {gate} fails: {gate.metric} is {value:.6g}")
    return needs


def criteria_needs(criteria_json: str | None, run_metrics: Mapping[str, float | None]) -> list[str]:
    """Return what the model's success criteria still need on the source run's metrics.

    A policy without gates of its own (and the default policy of an unguarded alias) checks
    the criteria's absolute gates (those not relative to a baseline, which one run cannot
    judge) the way policy gates are checked. A gate's metric is the run's metric of that name,
    or else the one evaluation metric logged as `<dataset>_<metric>` (what `evaluate(...,
    log=True)` writes); a missing metric fails, and so does an ambiguous one. Criteria that do
    not read as criteria fail closed, with a reason saying to set them again.
    """
    from perennia.entities.registry import SuccessCriteria

    if criteria_json is None:
        return []
    try:
        texts = SuccessCriteria.from_json(criteria_json).gates
        absolute = [t for t in texts if "baseline" not in re.split(r"[<>=]+", t, maxsplit=1)[-1]]
        gates = [parse_gate(text) for text in absolute]
    except InvalidInput as error:
        return [f"success criteria unreadable ({error}); set them again"]
    needs = []
    for gate in gates:
        key, problem = criteria_metric(gate.metric, run_metrics)
        value = None if key is None else run_metrics[key]
        if problem is not None:
            needs.append(f"success criterion {gate}: {problem}")
        elif value is None or math.isnan(value):
            needs.append(f"success criterion {gate}: the source run's {key} is undefined")
        elif not _OPS[gate.op](value, gate.threshold):
            needs.append(f"success criterion {gate} fails: {key} is {value:.6g}")
    return needs


def criteria_metric(
    metric: str, run_metrics: Mapping[str, float | None]
) -> tuple[str | None, str | None]:
    """Return (the run's metric key for a criteria gate's `metric`, None) or (None, why none).

    The key is `metric` itself, or else the one `<dataset>_<metric>` an evaluation logged.
    """
    if metric in run_metrics:
        return metric, None
    found = sorted(key for key in run_metrics if key.endswith(f"_{metric}"))
    if len(found) == 1:
        return found[0], None
    if not found:
        return None, f"the source run has no metric {metric!r} (nor <dataset>_{metric})"
    return None, f"the source run has several: {', '.join(found)}; name one in the criteria"


def check_cancel(
    request_id: int, requested_by: str | None, who: str | None, is_admin: bool
) -> None:
    """Raise PermissionDenied unless `who` (its requester, or an admin) may cancel the request."""
    if requested_by is not None and who != requested_by and not is_admin:
        raise PermissionDenied(
            f"only {requested_by!r} (who asked) or an administrator may cancel request {request_id}"
        )


# -- alias moves ------------------------------------------------------------------------------


def check_alias_target(target: ModelVersion) -> None:
    """Raise Conflict when `target` may not hold an alias (it is archived)."""
    if target.state == VersionState.ARCHIVED:
        raise Conflict(
            f"version {target.version} of {target.name!r} is archived; restore it before "
            "aliasing it"
        )


def check_direct_move(name: str, alias: str, version: int, guarded: Collection[str]) -> None:
    """Raise PermissionDenied when a policy guards `alias`: it moves only by approval or rollback."""
    if alias in guarded:
        raise PermissionDenied(
            f"alias {alias!r} of {name!r} is guarded by an approval policy: request it "
            f"(perennia models request {name} {version} {alias}) and have it approved"
        )


def check_alias_removal(name: str, alias: str, guarded: Collection[str]) -> None:
    """Raise PermissionDenied when a policy guards `alias`: its policy must go first."""
    if alias in guarded:
        raise PermissionDenied(
            f"alias {alias!r} of {name!r} is guarded by an approval policy; delete the "
            "policy first (a manager's call) to remove it"
        )


def check_version_removal(version: ModelVersion, guarded: Collection[str]) -> None:
    """Raise PermissionDenied when the version holds a guarded alias (deleting would move it)."""
    held = set(version.aliases) & set(guarded)
    if held:
        raise PermissionDenied(
            f"version {version.version} of {version.name!r} holds guarded alias(es) "
            f"{sorted(held)}; move them through an approved request (or roll back) before "
            "deleting it"
        )


def check_archivable(version: ModelVersion) -> None:
    """Raise Conflict when the version still holds aliases (archiving would strand them)."""
    if version.aliases:
        raise Conflict(
            f"version {version.version} of {version.name!r} holds aliases {list(version.aliases)}; "
            "move them before archiving it"
        )
