"""The whole loop end to end on real components: the inference server on loopback answering a
drifted stream, a monitor over its prediction log raising a drift alert, the policy's check
starting a retraining, the comparison, the approval, the canary analysed from the log, and the
promotion (or the rollback) with the champion, the deployment and the monitor where they must be;
and the alert's failure paths (a gate failed, the approval rejected) leaving them all in place,
with a second drift alert inside the cooldown starting nothing."""

from __future__ import annotations

import pytest

from tests.automation import retraining_helpers as h
from tests.conftest import reset_tracking

CANARY = {
    "steps": [50, 100],
    "min_requests": 30,
    "max_p99_latency_ratio": 1000.0,
    "max_p99_latency_ms": 1000.0,
    "max_prediction_psi": 0.5,
}
SECOND = "bc-inputs-second"  # another monitor over the same stream: a second drift alert


@pytest.fixture
def served(sqlite_uri, tmp_path, monkeypatch):
    h.use_store(sqlite_uri, tmp_path, monkeypatch)
    version = h.champion()
    serving = h.Served(tmp_path, version)
    h.drift_monitor(version)
    h.drift_monitor(version, name=SECOND)
    yield serving
    serving.close()
    reset_tracking()


def _answering_version(served: h.Served, revision: int) -> str:
    """Return the model version the inference server answers with once it runs `revision`."""
    import httpx

    served.server.wait_applied(revision)
    rows = h.frames()[1].drop(columns=[h.TARGET]).head(3)
    split = {"columns": [str(c) for c in rows.columns], "data": rows.to_numpy().tolist()}
    reply = httpx.post(f"{served.server.url}/invocations", json={"dataframe_split": split})
    assert reply.status_code == 200, reply.text
    return reply.headers["perennia-model-version"]


def _check_policies(minutes: int = 0) -> list[str]:
    """Run the server's periodic check as it would run `minutes` from now."""
    from perennia.automation.retraining import check_due_policies
    from perennia.clock import now_ms
    from perennia.data.session import current_store

    return check_due_policies(current_store(), "replica-1", now_ms=now_ms() + minutes * 61_000)


def _drift_policy(**overrides) -> None:
    """Set the policy: retrain when either monitor's drift rule fires, canary on DEPLOYMENT."""
    triggers = [
        {"kind": "alert", "monitor": monitor, "rule": "InputsDrifted"}
        for monitor in (h.MONITOR, SECOND)
    ]
    h.policy(triggers=triggers, deployment=h.DEPLOYMENT, canary=CANARY, **overrides)


def _retraining_on_drift(served: h.Served):
    """Send the drifted stream, let the monitor alert and the periodic check start (and move on)
    a retraining; return it."""
    from perennia.automation.retraining import list_retrainings

    assert _check_policies() == [h.MODEL]
    assert list_retrainings(h.MODEL) == []  # no alert yet
    served.send(200)
    alert = served.alert()
    assert _check_policies() == []  # the policy was checked a moment ago: not due yet
    assert _check_policies(minutes=1) == [h.MODEL]
    (started,) = list_retrainings(h.MODEL)
    assert started.trigger["kind"] == "alert" and started.trigger["event_id"] == alert.event_id
    return started


def _unchanged(served: h.Served, deployment) -> None:
    """Assert @champion, the deployment (and what the server answers with) and the monitor's
    reference are as they were before the retraining: version 1, no canary started."""
    from perennia.monitoring import get_monitor
    from perennia.registry import get_model_version_by_alias
    from perennia.registry.deployments import get_deployment

    assert get_model_version_by_alias(h.MODEL, "champion").version == 1
    assert get_deployment(h.DEPLOYMENT) == deployment
    assert (deployment.stable.version, len(deployment.live)) == (1, 1)
    assert _answering_version(served, deployment.revision) == "1"
    assert get_monitor(h.MONITOR).reference == f"models:/{h.MODEL}/1"


def _second_alert_starts_nothing(served: h.Served, first) -> None:
    """Assert a second drift alert right after `first` settled, inside the cooldown, starts
    nothing: the periodic check sees it and drops it."""
    from perennia.automation.retraining import get_policy, list_retrainings

    alert = served.alert(SECOND)
    assert _check_policies(minutes=2) == [h.MODEL]
    assert [r.id for r in list_retrainings(h.MODEL)] == [first.id]
    assert get_policy(h.MODEL).cursor[f"alert:{SECOND}:InputsDrifted"] == alert.event_id


def test_drift_alert_retrains_approves_canaries_and_promotes(served) -> None:
    from perennia.automation.retraining import retraining_events
    from perennia.monitoring import get_monitor
    from perennia.registry import approve, get_model_version_by_alias, set_approval_policy
    from perennia.registry.deployments import get_deployment

    set_approval_policy(h.MODEL, "champion", required_approvals=1, reviewer_role="any")
    _drift_policy(auto_approve=False)
    waiting = _retraining_on_drift(served)
    assert waiting.state == "awaiting_approval", waiting.reason
    assert get_model_version_by_alias(h.MODEL, "champion").version == 1
    approve(waiting.approval_request_id, reviewer="carol")
    done = served.drive_canary(waiting.id)
    assert done.state == "promoted", done.reason
    assert get_model_version_by_alias(h.MODEL, "champion").version == 2
    deployment = get_deployment(h.DEPLOYMENT)
    assert (deployment.state, deployment.stable.version) == ("promoted", 2)
    assert get_monitor(h.MONITOR).reference == f"models:/{h.MODEL}/2"
    states = [e.state for e in retraining_events(done.id)]
    assert states.index("awaiting_approval") < states.index("canary") < states.index("promoted")


def test_a_canary_that_fails_its_analysis_rolls_back_and_keeps_the_champion(served) -> None:
    from perennia.automation.retraining import advance, trigger
    from perennia.monitoring import get_monitor
    from perennia.registry import get_model_version_by_alias
    from perennia.registry.deployments import get_deployment

    # No real model answers within a microsecond at p99: the latency check fails.
    h.policy(deployment=h.DEPLOYMENT, canary={**CANARY, "max_p99_latency_ms": 0.001})
    started = trigger(h.MODEL)
    while started.state in ("triggered", "evaluating"):
        started = advance(started.id)
    assert started.state == "canary" and started.deployment == h.DEPLOYMENT
    done = served.drive_canary(started.id)
    assert done.state == "rolled_back"
    assert done.reason.startswith("canary rolled back: ") and "latency" in done.reason
    assert get_model_version_by_alias(h.MODEL, "champion").version == 1
    deployment = get_deployment(h.DEPLOYMENT)
    assert (deployment.state, deployment.stable.version) == ("rolled_back", 1)
    assert get_monitor(h.MONITOR).reference == f"models:/{h.MODEL}/1"


def test_a_reviewer_approved_canary_that_rolls_back_puts_the_guarded_champion_back(served) -> None:
    from perennia.automation.retraining import retraining_events, run_until_settled, trigger
    from perennia.registry import approve, get_model_version_by_alias, set_approval_policy
    from perennia.registry.deployments import get_deployment

    set_approval_policy(h.MODEL, "champion", required_approvals=1, reviewer_role="any")
    h.policy(
        deployment=h.DEPLOYMENT,
        canary={**CANARY, "max_p99_latency_ms": 0.001},  # the latency check fails
        auto_approve=False,
    )
    waiting = run_until_settled(trigger(h.MODEL).id, timeout_s=120, poll_s=0.05)
    assert waiting.state == "awaiting_approval", waiting.reason
    approve(waiting.approval_request_id, reviewer="carol")
    done = served.drive_canary(waiting.id)  # the approval moves @champion, then the canary
    assert done.state == "rolled_back", done.reason
    assert "latency" in done.reason and "could not" not in done.reason
    assert get_model_version_by_alias(h.MODEL, "champion").version == 1
    deployment = get_deployment(h.DEPLOYMENT)
    assert (deployment.state, deployment.stable.version) == ("rolled_back", 1)
    assert _answering_version(served, deployment.revision) == "1"
    events = retraining_events(done.id)
    assert events[-1].message.endswith("; @champion moved back to version 1")
    assert events[-1].detail["alias_undo"]["moved_back"] is True


def test_a_drift_alert_whose_challenger_fails_the_gates_leaves_everything_in_place(served) -> None:
    from perennia.automation.retraining import retraining_events
    from perennia.registry import list_approval_requests
    from perennia.registry.deployments import get_deployment

    before = get_deployment(h.DEPLOYMENT)
    _drift_policy(pipeline=h.WEAK)  # predicts the prior: ROC AUC 0.5 against the champion's
    done = _retraining_on_drift(served)
    assert done.state == "gate_failed", done.reason
    assert done.reason.startswith("gate failed: ") and "roc_auc 0.5000 is below" in done.reason
    assert "must be >= baseline - 0.02" in done.reason  # names the success criterion it missed
    assert (done.challenger_version, done.champion_version) == (2, 1)
    assert done.approval_request_id is None and done.deployment is None
    assert list_approval_requests(h.MODEL) == []
    _unchanged(served, before)
    states = [e.state for e in retraining_events(done.id)]
    assert states[-1] == "gate_failed"
    assert not {"awaiting_approval", "canary", "promoted", "rolled_back"} & set(states)
    _second_alert_starts_nothing(served, done)


def test_a_drift_alert_whose_challenger_a_reviewer_rejects_leaves_everything_in_place(
    served,
) -> None:
    from perennia.automation.retraining import get_retraining, retraining_events
    from perennia.errors import PermissionDenied
    from perennia.registry import (
        get_approval_request,
        reject,
        set_approval_policy,
        set_model_role,
    )
    from perennia.registry.deployments import get_deployment

    before = get_deployment(h.DEPLOYMENT)
    set_approval_policy(h.MODEL, "champion", required_approvals=1, reviewer_role="manager")
    set_model_role(h.MODEL, "carol", "manager")
    _drift_policy()  # auto_approve=True, but the alias's policy wants a manager's approval
    waiting = _retraining_on_drift(served)
    assert waiting.state == "awaiting_approval", waiting.reason
    request = get_approval_request(waiting.approval_request_id)
    assert (request.status, request.version, request.alias) == ("PENDING", 2, "champion")
    with pytest.raises(PermissionDenied, match="needs the manager role"):
        reject(request.request_id, comment="fine by me", reviewer="dave")  # no role on bc
    assert _check_policies(minutes=1) == [h.MODEL]
    assert get_approval_request(request.request_id).status == "PENDING"
    reject(request.request_id, comment="drifted inputs need a look first", reviewer="carol")
    assert _check_policies(minutes=2) == [h.MODEL]  # the periodic check sees the decision
    done = get_retraining(waiting.id)
    assert done.state == "rejected", done.reason
    assert "carol rejected (drifted inputs need a look first)" in done.reason
    assert get_approval_request(request.request_id).status == "REJECTED"
    _unchanged(served, before)
    states = [e.state for e in retraining_events(done.id)]
    assert states[-2:] == ["awaiting_approval", "rejected"] and "canary" not in states
    _second_alert_starts_nothing(served, done)
