"""The governance rules on their own: pure functions, no store needed."""

from __future__ import annotations

import math

import pytest

from perennia.entities import ApprovalPolicy, MetricGate, ModelVersion, Role
from perennia.entities.approval_rules import (
    Standing,
    check_alias_removal,
    check_alias_target,
    check_archivable,
    check_cancel,
    check_decision,
    check_direct_move,
    check_reviewer,
    check_version_removal,
    effective_policy,
    is_eligible,
    make_policy,
    parse_gate,
    unmet,
)
from perennia.errors import Conflict, InvalidInput, PermissionDenied

MANAGER, EDITOR, ADMIN = Standing(role=Role.MANAGER), Standing(role=Role.EDITOR), Standing(True)


def _version(version: int = 1, state: str = "active", aliases: list[str] | None = None):
    return ModelVersion(
        "fraud", version, 0, 0, "", "ana", "s", None, None, "READY", None, state, {}, aliases or []
    )


def test_gates_parse_from_text_dicts_and_gates_and_bad_ones_are_refused() -> None:
    gate = MetricGate("test_roc_auc", ">=", 0.9)
    assert parse_gate(" test_roc_auc >= 0.9 ") == parse_gate(gate) == gate
    assert parse_gate({"metric": "loss", "op": "<", "threshold": "1e-2"}).threshold == 0.01
    for bad in (
        "auc => 0.9",
        "auc >= nan",
        "auc >= inf",
        {"metric": "", "op": ">=", "threshold": 1},
    ):
        with pytest.raises(InvalidInput):
            parse_gate(bad)


def test_a_policy_needs_an_approval_or_a_gate_and_a_known_reviewer_role() -> None:
    policy = make_policy(
        "fraud",
        "champion",
        required_approvals=0,
        reviewer_role="any",
        allow_self_approval=False,
        gates="auc >= 0.9",
    )
    assert policy.gates == [MetricGate("auc", ">=", 0.9)]
    with pytest.raises(InvalidInput, match="at least one approval or one gate"):
        make_policy(
            "fraud",
            "champion",
            required_approvals=0,
            reviewer_role="any",
            allow_self_approval=False,
            gates=(),
        )
    with pytest.raises(InvalidInput, match="reviewer_role"):
        make_policy(
            "fraud",
            "champion",
            required_approvals=1,
            reviewer_role="boss",
            allow_self_approval=False,
            gates=(),
        )
    with pytest.raises(InvalidInput, match="required_approvals"):
        make_policy(
            "fraud",
            "champion",
            required_approvals=True,
            reviewer_role="any",
            allow_self_approval=False,
            gates=(),
        )


def test_eligibility_follows_role_rank_and_admins_always_qualify() -> None:
    assert is_eligible(Standing(), "any")
    assert is_eligible(MANAGER, "editor") and not is_eligible(EDITOR, "manager")
    assert not is_eligible(MANAGER, "admin") and is_eligible(ADMIN, "admin")
    assert not is_eligible(Standing(), "viewer")


def test_authors_and_requesters_may_not_review_unless_the_policy_allows_it() -> None:
    policy = ApprovalPolicy("fraud", "champion", reviewer_role="manager")
    check_reviewer(policy, 1, "cy", MANAGER, requested_by="bo", author="ana")
    for who in ("ana", "bo"):
        with pytest.raises(PermissionDenied, match="may not review it"):
            check_reviewer(policy, 1, who, MANAGER, requested_by="bo", author="ana")
    with pytest.raises(PermissionDenied, match="needs the manager role"):
        check_reviewer(policy, 1, "cy", EDITOR, requested_by="bo", author="ana")
    lenient = ApprovalPolicy("fraud", "champion", reviewer_role="any", allow_self_approval=True)
    check_reviewer(lenient, 1, "ana", Standing(), requested_by="ana", author="ana")
    with pytest.raises(InvalidInput):
        check_decision("maybe", "cy")
    with pytest.raises(InvalidInput, match="named reviewer"):
        check_decision("approve", None)


def test_unmet_counts_eligible_approvals_and_checks_every_gate() -> None:
    policy = ApprovalPolicy(
        "fraud",
        "champion",
        2,
        "manager",
        False,
        [MetricGate("auc", ">=", 0.9), MetricGate("loss", "<", 0.2)],
    )
    needs = unmet(policy, {"cy": MANAGER, "dee": EDITOR}, {"auc": 0.95, "loss": math.nan}, 1)
    assert needs == [
        "1 more approval(s) by a manager (1 of 2)",
        "gate loss < 0.2: the source run has no metric 'loss'",
    ]
    assert unmet(policy, {"cy": MANAGER, "eve": ADMIN}, {"auc": 0.95, "loss": 0.1}, 1) == []
    assert unmet(policy, {"cy": MANAGER, "eve": ADMIN}, {"auc": 0.5, "loss": 0.1}, 1) == [
        "gate auc >= 0.9 fails: auc is 0.5"
    ]
    assert unmet(policy, {}, None, 3)[-1] == "version 3 no longer exists"
    default = effective_policy(None, "fraud", "champion")
    assert unmet(default, {"anyone": Standing()}, {}, 1) == []


def test_guarded_aliases_refuse_direct_moves_removal_and_their_versions_deletion() -> None:
    check_direct_move("fraud", "staging", 2, {"champion"})
    with pytest.raises(PermissionDenied, match="guarded by an approval policy"):
        check_direct_move("fraud", "champion", 2, {"champion"})
    with pytest.raises(PermissionDenied, match="delete the policy first"):
        check_alias_removal("fraud", "champion", {"champion"})
    with pytest.raises(PermissionDenied, match="holds guarded alias"):
        check_version_removal(_version(aliases=["champion"]), {"champion"})
    check_version_removal(_version(aliases=["staging"]), {"champion"})


def test_archived_versions_hold_no_alias_and_aliased_ones_are_not_archived() -> None:
    with pytest.raises(Conflict, match="archived"):
        check_alias_target(_version(state="archived"))
    with pytest.raises(Conflict, match="move them before archiving"):
        check_archivable(_version(aliases=["champion"]))
    check_archivable(_version())


def test_only_the_requester_or_an_admin_may_cancel() -> None:
    check_cancel(7, "ana", "ana", False)
    check_cancel(7, "ana", "root", True)
    check_cancel(7, None, "anyone", False)
    with pytest.raises(PermissionDenied, match="only 'ana'"):
        check_cancel(7, "ana", "bo", False)
