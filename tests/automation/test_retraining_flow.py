"""The retraining flow on the embedded SQLite store with a plain training function: promotion,
the failure paths (pipeline, gate, rejected approval) leaving the champion untouched, the
guards (one in flight, cooldown), and the records each step leaves."""

from __future__ import annotations

import pytest

from tests.automation import retraining_helpers as h
from tests.conftest import reset_tracking


@pytest.fixture
def env(sqlite_uri, tmp_path, monkeypatch):
    h.use_store(sqlite_uri, tmp_path, monkeypatch)
    yield sqlite_uri
    reset_tracking()


def _champion() -> int:
    from perennia.registry import get_model_version_by_alias

    return get_model_version_by_alias(h.MODEL, "champion").version


def test_auto_approved_retraining_promotes_the_challenger_and_records_lineage(env) -> None:
    from perennia.automation.retraining import retraining_events, run_until_settled, trigger
    from perennia.registry import get_model_version
    from perennia.tracking.client import Client

    h.champion()
    h.policy()
    started = trigger(h.MODEL, reason="test")
    assert started is not None and started.state == "triggered"
    done = run_until_settled(started.id, timeout_s=60, poll_s=0.05)
    assert done.state == "promoted", done.reason
    assert done.challenger_version == 2 and done.champion_version == 1
    assert _champion() == 2
    assert done.reason == "version 2 promoted to @champion (was 1)"
    run = Client().get_run(done.pipeline_run_id)
    assert run.data.tags["perennia.retraining"] == str(done.id)
    version = get_model_version(h.MODEL, 2)
    assert version.run_id == done.pipeline_run_id
    assert version.tags["perennia.retraining"] == str(done.id)
    states = [e.state for e in retraining_events(done.id)]
    assert states[0] == "triggered" and states[-1] == "promoted"
    assert {"training", "evaluating"} <= set(states)
    training = [e for e in retraining_events(done.id) if e.state == "training"][0]
    assert training.detail["data"] == "bc-train@1"  # the bare name resolved to its version
    gates = [e for e in retraining_events(done.id) if "comparison" in e.detail][0]
    assert gates.detail["comparison"]["passed"] is True
    assert gates.detail["comparison"]["eval_data"] == "bc-eval@1"


def test_failed_pipeline_leaves_the_champion_and_says_why(env) -> None:
    from perennia.automation.retraining import run_until_settled, trigger
    from perennia.registry import search_model_versions

    h.champion()
    h.policy(pipeline=h.BROKEN)
    done = run_until_settled(trigger(h.MODEL).id, timeout_s=30, poll_s=0.05)
    assert done.state == "failed"
    assert "RuntimeError: no rows to train on in bc-train@1" in done.reason
    assert _champion() == 1
    assert len(search_model_versions(h.MODEL)) == 1


def test_failed_gate_leaves_the_champion_and_names_the_gate(env) -> None:
    from perennia.automation.retraining import run_until_settled, trigger

    h.champion()
    h.policy(pipeline=h.WEAK)
    done = run_until_settled(trigger(h.MODEL).id, timeout_s=60, poll_s=0.05)
    assert done.state == "gate_failed"
    assert done.reason.startswith("gate failed: ") and "roc_auc" in done.reason
    assert done.challenger_version == 2
    assert _champion() == 1
    gates = done.detail["comparison"]["gates"]
    assert gates[0]["passed"] is False and gates[0]["candidate"] == pytest.approx(0.5)


def test_guarded_alias_waits_for_a_reviewer_and_a_rejection_ends_it(env) -> None:
    from perennia.automation.retraining import advance, run_until_settled, trigger
    from perennia.registry import get_approval_request, reject, set_approval_policy

    h.champion()
    set_approval_policy(h.MODEL, "champion", required_approvals=1, reviewer_role="any")
    h.policy()  # auto_approve=True, but the alias's policy forbids self-approval
    waiting = run_until_settled(trigger(h.MODEL).id, timeout_s=60, poll_s=0.05)
    assert waiting.state == "awaiting_approval"
    request = get_approval_request(waiting.approval_request_id)
    assert (request.status, request.version, request.alias) == ("PENDING", 2, "champion")
    assert advance(waiting.id).state == "awaiting_approval"  # nobody decided yet
    reject(request.request_id, comment="not this week", reviewer="carol")
    done = advance(waiting.id)
    assert done.state == "rejected"
    assert done.reason == "approval request 1 rejected: carol rejected (not this week)"
    assert _champion() == 1


def test_an_approved_request_promotes_the_challenger(env) -> None:
    from perennia.automation.retraining import advance, run_until_settled, trigger
    from perennia.registry import approve, set_approval_policy

    h.champion()
    set_approval_policy(h.MODEL, "champion", required_approvals=1, reviewer_role="any")
    h.policy(auto_approve=False)
    waiting = run_until_settled(trigger(h.MODEL).id, timeout_s=60, poll_s=0.05)
    approve(waiting.approval_request_id, reviewer="carol")
    done = advance(waiting.id)
    assert done.state == "promoted", done.reason
    assert _champion() == 2


def test_self_approval_counts_only_where_the_alias_policy_allows_it(env) -> None:
    from perennia.automation.retraining import run_until_settled, trigger
    from perennia.registry import get_approval_request, set_approval_policy

    h.champion()
    set_approval_policy(
        h.MODEL, "champion", required_approvals=1, reviewer_role="any", allow_self_approval=True
    )
    h.policy()
    done = run_until_settled(trigger(h.MODEL).id, timeout_s=60, poll_s=0.05)
    assert done.state == "promoted", done.reason
    request = get_approval_request(done.approval_request_id)
    assert request.status == "APPLIED" and len(request.reviews) == 1


def test_unguarded_alias_without_auto_approve_still_asks_a_person(env) -> None:
    from perennia.automation.retraining import run_until_settled, trigger

    h.champion()
    h.policy(auto_approve=False)
    waiting = run_until_settled(trigger(h.MODEL).id, timeout_s=60, poll_s=0.05)
    assert waiting.state == "awaiting_approval"
    assert _champion() == 1


def test_a_second_trigger_while_one_is_in_flight_starts_nothing(env) -> None:
    from perennia.automation.retraining import list_retrainings, trigger

    h.champion()
    h.policy(cooldown=0)
    first = trigger(h.MODEL)
    assert first is not None
    assert trigger(h.MODEL) is None
    assert trigger(h.MODEL, force=True) is None  # force skips the cooldown, never this guard
    assert [r.id for r in list_retrainings(h.MODEL)] == [first.id]


def test_a_trigger_inside_the_cooldown_starts_nothing_unless_forced(env) -> None:
    from perennia.automation.retraining import run_until_settled, trigger

    h.champion()
    h.policy(pipeline=h.BROKEN, cooldown="1h")
    first = run_until_settled(trigger(h.MODEL).id, timeout_s=30, poll_s=0.05)
    assert first.state == "failed"
    assert trigger(h.MODEL) is None
    assert trigger(h.MODEL, force=True) is not None


def test_deleting_the_policy_cancels_the_retraining_in_flight(env) -> None:
    from perennia.automation.retraining import advance, delete_policy, trigger

    h.champion()
    h.policy()
    started = trigger(h.MODEL)
    delete_policy(h.MODEL)
    done = advance(started.id)
    assert done.state == "cancelled"
    assert done.reason == "the retraining policy of bc was deleted"


PIPELINE = "tests.automation.pipelines_for_tests:training"


def test_a_pipeline_target_trains_the_challenger_in_a_tagged_pipeline_run(env) -> None:
    from perennia.automation.retraining import run_until_settled, trigger
    from perennia.registry import get_model_version
    from perennia.tracking.client import Client

    h.champion()
    h.policy(pipeline=PIPELINE)
    done = run_until_settled(trigger(h.MODEL).id, timeout_s=120, poll_s=0.05)
    assert done.state == "promoted", done.reason
    assert _champion() == 2
    run = Client().get_run(done.pipeline_run_id)
    assert run.data.tags["perennia.retraining"] == str(done.id)
    version = get_model_version(h.MODEL, 2)
    step_run = Client().get_run(version.run_id)  # the `train` step: a nested run of the pipeline
    assert step_run.info.parent_run_id == done.pipeline_run_id
    assert (step_run.info.run_name, step_run.data.params["C"]) == ("train", "1.0")


def test_a_failed_pipeline_run_leaves_the_champion_with_the_run_and_its_error(env) -> None:
    from perennia.automation.retraining import run_until_settled, trigger
    from perennia.data.versions import register

    h.champion()
    register(h.TRAIN, h.frames()[0].drop(columns=[h.TARGET]))  # the newest version lost its labels
    h.policy(pipeline=PIPELINE)
    done = run_until_settled(trigger(h.MODEL).id, timeout_s=120, poll_s=0.05)
    assert done.state == "failed"
    assert done.pipeline_run_id is not None
    assert done.reason.startswith(f"the pipeline failed: run {done.pipeline_run_id} FAILED")
    assert "target" in done.reason
    assert _champion() == 1


def test_a_disabled_policy_starts_nothing_unless_forced(env) -> None:
    from perennia.automation.retraining import list_retrainings, trigger

    h.champion()
    h.policy(pipeline=h.BROKEN, cooldown=0, enabled=False)
    assert trigger(h.MODEL) is None
    assert list_retrainings(h.MODEL) == []
    assert trigger(h.MODEL, force=True) is not None
