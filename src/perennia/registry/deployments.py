"""Deployments from Python: create one, shift its traffic, canary, shadow, A/B, switch, promote.

Each change reads the deployment, computes the next state (`perennia.registry.rollout_steps`)
and writes it compare-and-set on the revision it read: if someone (a person or the rollout
controller) changed it in between, the write raises Conflict and nothing changes; read again
and decide again. Every change is a registry event, and the deployment's alias follows its
stable version, so promoting to production needs the approval moving that alias needs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from perennia.clock import now_ms
from perennia.entities import RegistryEvent
from perennia.entities.deployment import (
    BatchingConfig,
    CanaryPolicy,
    Deployment,
    Strategy,
    Variant,
)
from perennia.registry import rollout_steps as steps
from perennia.registry.session import acting_user as _user
from perennia.registry.session import current_store as _store
from perennia.registry.session import sends_webhooks

__all__ = [
    "create_deployment",
    "delete_deployment",
    "deployment_history",
    "get_deployment",
    "list_deployments",
    "promote",
    "rollback",
    "set_traffic",
    "start_ab",
    "start_canary",
    "start_shadow",
    "switch",
]


def _change(
    name: str,
    action: str,
    step: Callable[[Deployment], Deployment],
    detail: dict[str, Any] | None = None,
) -> Deployment:
    """Return the deployment after `step`, written compare-and-set on the revision read."""
    store = _store()
    current = store.deployments.get(name)
    return store.deployments.update(
        step(current),
        expected_revision=current.revision,
        action=action,
        detail=detail,
        username=_user(),
    )


@sends_webhooks
def create_deployment(
    name: str,
    model_name: str,
    version: int,
    *,
    strategy: str = Strategy.SINGLE.value,
    alias: str | None = "champion",
    batching: BatchingConfig | None = None,
    description: str = "",
) -> Deployment:
    """Return a new deployment serving `version` of `model_name` to all traffic.

    `alias` (None for none) follows the stable version from now on; if it is unset it is set
    here, and if an approval policy guards it, it must already point at `version`.
    """
    deployment = Deployment(
        name,
        model_name,
        strategy,
        (Variant(steps.STABLE, version, 100.0),),
        revision=0,
        alias=alias,
        batching=batching if batching is not None else BatchingConfig(),
        description=description,
    )
    return _store().deployments.create(deployment, username=_user())


def get_deployment(name: str) -> Deployment:
    """Return the deployment called `name`."""
    return _store().deployments.get(name)


def list_deployments(model_name: str | None = None) -> list[Deployment]:
    """Return every deployment (of one model, when given), by name."""
    return _store().deployments.list(model_name)


def deployment_history(name: str, limit: int = 100) -> list[RegistryEvent]:
    """Return the deployment's changes as registry events, newest first."""
    return _store().deployments.events(name, limit)


@sends_webhooks
def set_traffic(name: str, traffic: Mapping[str, float] | Sequence[Variant]) -> Deployment:
    """Return the deployment with new weights ({variant: weight}) or a new list of variants."""
    if isinstance(traffic, Mapping):
        weights = dict(traffic)
        return _change(name, "set_traffic", lambda d: steps.with_weights(d, weights))
    variants = tuple(traffic)
    return _change(name, "set_traffic", lambda d: replace(d, variants=variants))


@sends_webhooks
def start_canary(name: str, version: int, policy: CanaryPolicy | None = None) -> Deployment:
    """Return the deployment with a canary of `version` at the policy's first step."""
    chosen = policy if policy is not None else CanaryPolicy()
    started = now_ms()
    return _change(name, "start_canary", lambda d: steps.with_canary(d, version, chosen, started))


@sends_webhooks
def start_shadow(name: str, version: int) -> Deployment:
    """Return the deployment with `version` receiving a copy of its traffic (never answering)."""
    return _change(name, "start_shadow", lambda d: steps.with_shadow(d, version))


@sends_webhooks
def start_ab(
    name: str, version: int, split: float = 50, sticky_header: str = "x-user-id"
) -> Deployment:
    """Return the deployment splitting traffic with `version` (`split` percent), sticky by key."""
    return _change(name, "start_ab", lambda d: steps.with_ab(d, version, split, sticky_header))


@sends_webhooks
def switch(name: str, version: int) -> Deployment:
    """Return the deployment switched at once to `version` (blue-green; rollback undoes it)."""
    return _change(name, "switch", lambda d: steps.switched(d, version))


@sends_webhooks
def promote(name: str, variant: str | None = None) -> Deployment:
    """Return the deployment with its challenger (or `variant`) as the sole stable variant."""
    return _change(name, "promote", lambda d: steps.promoted(d, variant))


@sends_webhooks
def rollback(name: str, reason: str | None = None) -> Deployment:
    """Return the deployment without its challenger, or back on its previous version."""
    detail = {"reason": reason} if reason else None
    return _change(name, "rollback", steps.rolled_back, detail)


@sends_webhooks
def delete_deployment(name: str) -> None:
    """Delete the deployment (its history stays in the registry's event log)."""
    _store().deployments.delete(name, username=_user())
