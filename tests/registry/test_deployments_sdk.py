"""The deployments SDK: each strategy's changes, read-modify-write on the revision, the alias,
approvals; and the pure next-state functions the rollout controller reuses."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perennia.entities import CanaryPolicy, Deployment, Variant
from perennia.errors import Conflict, InvalidInput, PermissionDenied
from perennia.registry import approve, request_approval, set_approval_policy
from perennia.registry import deployments as sdk
from perennia.registry import rollout_steps as steps
from perennia.registry.session import current_store
from perennia.store.deployment_checks import check_deployment

MODEL = "fraud"


@pytest.fixture
def fraud(tracking: str) -> str:
    """Return the name of a registered model with versions 1 to 3."""
    store = current_store()
    store.registry.create_registered_model(MODEL)
    for _ in range(3):
        store.versions.create_model_version(MODEL, f"runs:/{'a' * 32}/model")
    return MODEL


def _champion() -> int:
    return current_store().aliases.get_version_by_alias(MODEL, "champion").version


def _shares(d: Deployment) -> list[tuple[str, int, float, bool]]:
    return [(v.name, v.version, v.weight, v.shadow) for v in d.variants]


def test_a_canary_steps_up_is_promoted_and_rolled_back_with_the_alias(fraud) -> None:
    created = sdk.create_deployment("fraud-api", fraud, 1)
    assert (created.revision, _champion()) == (1, 1)
    canary = sdk.start_canary("fraud-api", 2, CanaryPolicy(steps=(10.0, 50.0, 100.0)))
    assert _shares(canary) == [("stable", 1, 90.0, False), ("canary", 2, 10.0, False)]
    assert (canary.state, canary.step, canary.strategy) == ("progressing", 0, "canary")
    assert canary.step_started > 0 and canary.revision == 2
    # What the rollout controller does between analyses: the next step, compare-and-set.
    store = current_store()
    half = store.deployments.update(
        steps.next_canary_step(canary, canary.step_started + 1),
        expected_revision=2,
        action="canary_step",
    )
    assert _shares(half) == [("stable", 1, 50.0, False), ("canary", 2, 50.0, False)]
    assert _champion() == 1  # an even split keeps the incumbent stable
    promoted = sdk.promote("fraud-api")
    assert _shares(promoted) == [("stable", 2, 100.0, False)]
    assert (promoted.state, _champion()) == ("promoted", 2)
    assert promoted.previous == (Variant("stable", 1, 100.0),)
    back = sdk.rollback("fraud-api", reason="latency regression")
    assert (_shares(back), back.state, _champion()) == (
        [("stable", 1, 100.0, False)],
        "rolled_back",
        1,
    )
    history = sdk.deployment_history("fraud-api")
    assert [e.action for e in history] == [
        "deploy_rollback",
        "deploy_promote",
        "deploy_canary_step",
        "deploy_start_canary",
        "deploy_create",
    ]
    assert history[0].after["detail"] == {"reason": "latency regression"}


def test_blue_green_switches_at_once_and_rolls_back_at_once(fraud) -> None:
    sdk.create_deployment("fraud-api", fraud, 1, strategy="blue-green")
    switched = sdk.switch("fraud-api", 3)
    assert _shares(switched) == [("stable", 3, 100.0, False)]
    assert switched.previous == (Variant("stable", 1, 100.0),) and _champion() == 3
    back = sdk.rollback("fraud-api")
    assert _shares(back) == [("stable", 1, 100.0, False)] and back.previous == ()
    assert _champion() == 1
    with pytest.raises(InvalidInput, match="no challenger and no previous"):
        sdk.rollback("fraud-api")


def test_a_shadow_becomes_a_canary_and_is_promoted(fraud) -> None:
    sdk.create_deployment("fraud-api", fraud, 1)
    shadowed = sdk.start_shadow("fraud-api", 2)
    assert _shares(shadowed) == [("stable", 1, 100.0, False), ("shadow", 2, 0.0, True)]
    assert shadowed.strategy == "shadow" and shadowed.live == (Variant("stable", 1, 100.0),)
    canary = sdk.start_canary("fraud-api", 2)
    assert _shares(canary) == [("stable", 1, 95.0, False), ("canary", 2, 5.0, False)]
    assert sdk.promote("fraud-api").stable.version == 2 and _champion() == 2


def test_ab_splits_by_a_sticky_header_and_a_second_rollout_waits(fraud) -> None:
    sdk.create_deployment("fraud-api", fraud, 1, alias=None)
    ab = sdk.start_ab("fraud-api", 2, split=30, sticky_header="X-Customer")
    assert _shares(ab) == [("stable", 1, 70.0, False), ("challenger", 2, 30.0, False)]
    assert (ab.strategy, ab.sticky_header) == ("ab", "x-customer")
    with pytest.raises(Conflict, match="already sends traffic to challenger"):
        sdk.start_canary("fraud-api", 3)
    assert sdk.rollback("fraud-api").revision == 3
    with pytest.raises(InvalidInput, match="already the stable version"):
        sdk.start_shadow("fraud-api", 1)
    assert sdk.get_deployment("fraud-api").revision == 3


def test_traffic_is_set_by_weights_or_variants_and_bad_weights_change_nothing(fraud) -> None:
    sdk.create_deployment("fraud-api", fraud, 1)
    sdk.start_canary("fraud-api", 2)
    moved = sdk.set_traffic("fraud-api", {"stable": 80, "canary": 20})
    assert _shares(moved)[1] == ("canary", 2, 20.0, False)
    for bad, message in (
        ({"stable": 80, "canary": 30}, "sum to 100"),
        ({"stabel": 100}, "no variant 'stabel'"),
        ({"stable": 100, "canary": math.inf}, "finite"),
    ):
        with pytest.raises(InvalidInput, match=message):
            sdk.set_traffic("fraud-api", bad)
    assert sdk.get_deployment("fraud-api") == moved
    replaced = sdk.set_traffic("fraud-api", [Variant("a", 1, 50), Variant("b", 3, 50)])
    assert [v.name for v in replaced.variants] == ["a", "b"] and replaced.revision == 4


def test_promotion_to_a_guarded_alias_needs_an_approved_request(fraud) -> None:
    sdk.create_deployment("fraud-api", fraud, 1)
    set_approval_policy(fraud, "champion", reviewer_role="any", allow_self_approval=True)
    sdk.start_canary("fraud-api", 2)  # a canary is how the evidence is gathered
    with pytest.raises(PermissionDenied, match="perennia models request fraud 2 champion"):
        sdk.promote("fraud-api")
    assert sdk.get_deployment("fraud-api").variant("canary").weight == 5.0
    request = request_approval(fraud, 2, "champion")
    assert approve(request.request_id).status == "APPLIED"
    assert sdk.promote("fraud-api").stable.version == 2
    assert sdk.rollback("fraud-api").stable.version == 1 and _champion() == 1


def test_deleting_a_deployment_keeps_its_history(fraud) -> None:
    sdk.create_deployment("fraud-api", fraud, 1)
    sdk.delete_deployment("fraud-api")
    assert sdk.list_deployments() == []
    assert [e.action for e in sdk.deployment_history("fraud-api")] == [
        "deploy_delete",
        "deploy_create",
    ]


# -- the pure next-state functions ------------------------------------------------------------


def _canary_at(steps_: tuple[float, ...]) -> Deployment:
    base = Deployment("d", MODEL, "single", (Variant("stable", 1, 100.0),), revision=3)
    return steps.with_canary(base, 2, CanaryPolicy(steps=steps_), now=1000)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.floats(min_value=0.01, max_value=99.99, allow_nan=False), min_size=1, max_size=8
    ).map(lambda xs: (*sorted(set(xs)), 100.0))
)
def test_a_canary_steps_through_its_policy_with_valid_weights_then_is_promoted(steps_) -> None:
    d = _canary_at(steps_)
    for index in range(1, len(steps_)):
        check_deployment(d)
        assert math.isclose(math.fsum(v.weight for v in d.live), 100.0, abs_tol=1e-9)
        assert d.variant("canary").weight == steps_[index - 1]
        d = steps.next_canary_step(d, now_ms=1000 + index)
        if index < len(steps_) - 1:
            assert (d.step, d.step_started, d.state) == (index, 1000 + index, "progressing")
    assert (d.state, d.variants, d.revision) == ("promoted", (Variant("stable", 2, 100.0),), 3)
    check_deployment(d)


def test_only_a_canary_in_progress_can_step() -> None:
    d = _canary_at((5.0, 100.0))
    done = steps.next_canary_step(d, 2000)
    with pytest.raises(InvalidInput, match="no canary in progress"):
        steps.next_canary_step(done, 3000)
    assert steps.paused(d).state == "paused"
    assert steps.next_canary_step(steps.paused(d), 2000).state == "promoted"
    assert steps.rolled_back(d).variants == (Variant("stable", 1, 100.0),)
