"""A retraining that ends after an approval moved @champion moves it back, whatever ended it:
an unexpected error included; when the move back itself fails, the reason says so and how to
do it by hand."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.automation import retraining_helpers as h
from tests.conftest import reset_tracking


@pytest.fixture
def env(sqlite_uri, tmp_path, monkeypatch):
    h.use_store(sqlite_uri, tmp_path, monkeypatch)
    yield sqlite_uri
    reset_tracking()


def _break_canary_config() -> None:
    """Store the policy with a canary its reader rejects (as an older release might have
    written it), bypassing the SDK's checks: starting the canary raises a plain ValueError."""
    from perennia.data.session import current_store

    retrainings = current_store().retraining
    policy = retrainings.get_retraining_policy(h.MODEL)
    config = policy.config | {"canary": {"steps": "all at once"}}
    retrainings.set_retraining_policy(replace(policy, config=config))


def _approved_then_broken(version: int | None) -> object:
    """Run a guarded-alias retraining to its approval request, approve it as a reviewer, and
    advance it into the broken canary start; return the ended retraining."""
    from perennia.automation.retraining import advance, run_until_settled, trigger
    from perennia.registry import approve, set_approval_policy
    from perennia.registry.deployments import create_deployment

    # A deployment follows @champion (and sets it when unset): not when there is none to follow.
    create_deployment(h.DEPLOYMENT, h.MODEL, version or 1, alias="champion" if version else None)
    set_approval_policy(h.MODEL, "champion", required_approvals=1, reviewer_role="any")
    h.policy(auto_approve=False, deployment=h.DEPLOYMENT, gates=["roc_auc >= 0.5"])
    _break_canary_config()
    waiting = run_until_settled(trigger(h.MODEL).id, timeout_s=60, poll_s=0.05)
    assert waiting.state == "awaiting_approval", waiting.reason
    approve(waiting.approval_request_id, reviewer="carol")
    return advance(waiting.id)


def test_an_unexpected_error_after_the_approval_moves_the_champion_back(env) -> None:
    from perennia.automation.retraining import retraining_events
    from perennia.registry import get_model_version_by_alias

    h.champion()
    done = _approved_then_broken(1)
    assert done.state == "failed"
    assert done.reason.startswith("awaiting_approval: ValueError")
    assert get_model_version_by_alias(h.MODEL, "champion").version == 1
    last = retraining_events(done.id)[-1]
    assert (
        last.message
        == "unexpected error while awaiting_approval; @champion moved back to version 1"
    )
    assert last.detail["alias_undo"]["moved_back"] is True


def test_a_champion_that_cannot_be_moved_back_is_named_with_the_way_out(env) -> None:
    from perennia.automation.retraining import retraining_events
    from perennia.registry import get_model_version_by_alias, register_model
    from perennia.registry.success_criteria import set_success_criteria

    train_ref, _ = h.register_data()
    register_model(h.train(train_ref, C=0.05), h.MODEL)  # version 1, never @champion
    set_success_criteria(h.MODEL, "tell malignant from benign", h.GATES)
    done = _approved_then_broken(None)
    assert done.state == "failed"
    assert get_model_version_by_alias(h.MODEL, "champion").version == 2  # nothing to go back to
    assert "and @champion could not be moved back to its previous version: " in done.reason
    assert done.reason.endswith("move it back by hand with `perennia models rollback bc champion`")
    undo = retraining_events(done.id)[-1].detail["alias_undo"]
    assert undo["moved_back"] is False and "perennia models rollback" in undo["message"]
