"""A deployment's next states, as pure functions: deployment in, changed deployment out.

The registry SDK (`perennia.registry.deployments`) and the serving rollout controller both
compute changes here and then write them with `store.deployments.update(...,
expected_revision=...)`, so a person and a controller acting at once cannot both win. Nothing
here reads the clock or the store: `now` is passed in, and the store checks the result.

Variant names: the incumbent keeps its name ("stable" from `create_deployment`); a newcomer is
"canary", "shadow" or "challenger" (A/B). Variants are listed incumbent first, so at an even
split the incumbent is still `Deployment.stable` (which the deployment's alias follows).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from perennia.entities.deployment import (
    CanaryPolicy,
    Deployment,
    RolloutState,
    Strategy,
    Variant,
)
from perennia.errors import Conflict, InvalidInput

STABLE = "stable"
CANARY = "canary"
SHADOW = "shadow"
CHALLENGER = "challenger"


def incumbent(deployment: Deployment) -> Variant:
    """Return the variant a rollout starts from: the one named "stable", else the largest."""
    named = deployment.variant(STABLE)
    return named if named is not None and not named.shadow else deployment.stable


def newcomers(deployment: Deployment) -> tuple[Variant, ...]:
    """Return every variant other than the incumbent (canaries, shadows, challengers)."""
    kept = incumbent(deployment)
    return tuple(v for v in deployment.variants if v.name != kept.name)


def _start(deployment: Deployment, version: int, what: str) -> Variant:
    """Return the incumbent at full weight, or raise if another rollout holds live traffic."""
    live = [v for v in newcomers(deployment) if not v.shadow and v.weight > 0]
    if live:
        names = ", ".join(f"{v.name} (version {v.version})" for v in live)
        raise Conflict(
            f"deployment {deployment.name!r} already sends traffic to {names}; promote or roll "
            f"back before starting {what}"
        )
    base = incumbent(deployment)
    if base.version == version:
        raise InvalidInput(
            f"version {version} is already the stable version of deployment {deployment.name!r}"
        )
    return replace(base, weight=100.0)


def with_weights(deployment: Deployment, weights: Mapping[str, float]) -> Deployment:
    """Return the deployment with the named variants' weights changed (others keep theirs)."""
    unknown = sorted(set(weights) - {v.name for v in deployment.variants})
    if unknown:
        known = ", ".join(v.name for v in deployment.variants)
        raise InvalidInput(
            f"deployment {deployment.name!r} has no variant {unknown[0]!r}; its variants: {known}"
        )
    variants = tuple(replace(v, weight=weights.get(v.name, v.weight)) for v in deployment.variants)
    return replace(deployment, variants=variants)


def with_canary(deployment: Deployment, version: int, policy: CanaryPolicy, now: int) -> Deployment:
    """Return the deployment with a canary of `version` at the policy's first step."""
    base = _start(deployment, version, "a canary")
    first = float(policy.steps[0]) if policy.steps else 0.0
    canary = Variant(CANARY, version, first)
    return replace(
        deployment,
        strategy=Strategy.CANARY.value,
        variants=(replace(base, weight=100.0 - first), canary),
        state=RolloutState.PROGRESSING.value,
        policy=policy,
        step=0,
        step_started=now,
    )


def with_shadow(deployment: Deployment, version: int) -> Deployment:
    """Return the deployment with `version` shadowing the incumbent (a copy of its traffic)."""
    base = _start(deployment, version, "a shadow")
    return replace(
        deployment,
        strategy=Strategy.SHADOW.value,
        variants=(base, Variant(SHADOW, version, 0.0, shadow=True)),
        state=RolloutState.STABLE.value,
        step=0,
    )


def with_ab(deployment: Deployment, version: int, split: float, sticky_header: str) -> Deployment:
    """Return the deployment splitting traffic: `split` percent to `version`, sticky by a header."""
    base = _start(deployment, version, "an A/B test")
    if isinstance(split, bool) or not isinstance(split, int | float) or not 0 < split < 100:
        raise InvalidInput(f"split must be a percentage between 0 and 100, got {split!r:.40}")
    return replace(
        deployment,
        strategy=Strategy.AB.value,
        variants=(replace(base, weight=100.0 - split), Variant(CHALLENGER, version, float(split))),
        state=RolloutState.STABLE.value,
        sticky_header=sticky_header,
        step=0,
    )


def switched(deployment: Deployment, version: int) -> Deployment:
    """Return the deployment switched at once to `version` (blue-green), the old one kept."""
    base = _start(deployment, version, "a switch")
    live = tuple(v for v in deployment.variants if not v.shadow)
    return replace(
        deployment,
        strategy=Strategy.BLUE_GREEN.value,
        variants=(replace(base, version=version),),
        previous=live,
        state=RolloutState.STABLE.value,
        step=0,
    )


def promoted(deployment: Deployment, variant: str | None = None) -> Deployment:
    """Return the deployment with its challenger (or `variant`) as the sole stable variant."""
    base = incumbent(deployment)
    others = newcomers(deployment)
    chosen = [v for v in others if variant is None or v.name == variant]
    if len(chosen) != 1:
        names = ", ".join(v.name for v in others) or "none"
        raise InvalidInput(
            f"deployment {deployment.name!r} has no single challenger to promote "
            f"(challengers: {names}); name the variant to promote"
        )
    winner = chosen[0]
    return replace(
        deployment,
        variants=(Variant(base.name, winner.version, 100.0),),
        previous=(replace(base, weight=100.0, shadow=False),),
        state=RolloutState.PROMOTED.value,
        step=0,
    )


def rolled_back(deployment: Deployment) -> Deployment:
    """Return the deployment without its challengers, or else back on its previous variants."""
    if newcomers(deployment):
        variants: tuple[Variant, ...] = (replace(incumbent(deployment), weight=100.0),)
        previous = deployment.previous
    elif deployment.previous:
        variants, previous = deployment.previous, ()
    else:
        raise InvalidInput(
            f"deployment {deployment.name!r} has no challenger and no previous version to "
            "roll back to"
        )
    return replace(
        deployment,
        variants=variants,
        previous=previous,
        state=RolloutState.ROLLED_BACK.value,
        step=0,
    )


def paused(deployment: Deployment) -> Deployment:
    """Return the deployment with its canary paused at the current step."""
    return replace(deployment, state=RolloutState.PAUSED.value)


def next_canary_step(deployment: Deployment, now_ms: int) -> Deployment:
    """Return the canary moved to its policy's next step, or promoted after the last one."""
    canary = deployment.variant(CANARY)
    policy = deployment.policy
    active = (RolloutState.PROGRESSING.value, RolloutState.PAUSED.value)
    if canary is None or policy is None or deployment.state not in active:
        raise InvalidInput(f"deployment {deployment.name!r} has no canary in progress")
    step = deployment.step + 1
    if step >= len(policy.steps) or policy.steps[step] >= 100:
        return promoted(deployment, CANARY)
    weight = float(policy.steps[step])
    shares = {incumbent(deployment).name: 100.0 - weight, CANARY: weight}
    return replace(
        with_weights(deployment, shares),
        state=RolloutState.PROGRESSING.value,
        step=step,
        step_started=now_ms,
    )
