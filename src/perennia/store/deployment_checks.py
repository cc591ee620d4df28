"""Checks on a deployment before it is stored: names, variants and weights, policy, batching.

Shared by the SQL store (the authority, which also checks that every version exists) and the
REST client (before sending), so both refuse the same deployment with the same message. Each
check returns the cleaned value or raises InvalidInput naming the field and what is accepted.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace
from typing import Any

from perennia.entities.deployment import (
    BatchingConfig,
    CanaryPolicy,
    Deployment,
    RolloutState,
    Strategy,
    Variant,
)
from perennia.errors import InvalidInput
from perennia.store.limits import KEY_LENGTH
from perennia.store.registry_checks import check_alias, check_model_name, check_text, check_version

MAX_VARIANTS = 16
MAX_STEPS = 100
MAX_DETAIL_CHARS = 65_536
WEIGHT_TOLERANCE = 1e-9
ON_NO_DATA = ("pause", "fail")
_VARIANT_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63}")
# An HTTP header name is a token (RFC 9110): these characters only.
_HEADER = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~\-]{1,128}")
# A change's action word; a deployment's registry event is `deploy_<action>`.
ACTION = re.compile(r"[a-z][a-z0-9_]{0,40}")
_INT63 = 2**63 - 1


def check_deployment_name(name: Any) -> str:
    """Return a valid deployment name (the rules of a registered model's name), or raise."""
    try:
        return check_model_name(name)
    except InvalidInput as error:
        raise InvalidInput(str(error).replace("registered model name", "deployment name")) from None


def check_action(action: Any) -> str:
    """Return a change's action ('promote', 'set_traffic', ...: lowercase words), or raise."""
    if not isinstance(action, str) or not ACTION.fullmatch(action):
        raise InvalidInput(
            f"action must be 1-41 lowercase letters, digits and _ (e.g. 'promote'), "
            f"got {action!r:.60}"
        )
    return action


def check_detail(detail: Any) -> dict[str, Any]:
    """Return the change's detail (a JSON object of at most 64 KiB; None is empty), or raise."""
    if detail is None:
        return {}
    if not isinstance(detail, dict) or not all(isinstance(k, str) for k in detail):
        raise InvalidInput(f"detail must be a JSON object with text keys, got {detail!r:.80}")
    try:
        size = len(json.dumps(detail, allow_nan=False))
    except (TypeError, ValueError) as error:
        raise InvalidInput(f"detail must hold plain, finite JSON values: {error}") from None
    if size > MAX_DETAIL_CHARS:
        raise InvalidInput(f"detail is {size:,} characters of JSON; at most {MAX_DETAIL_CHARS:,}")
    return detail


def _number(value: Any, field: str, low: float, high: float, *, low_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"{field} must be a finite number, got {value!r:.40}")
    if value > high or value < low or (low_open and value == low):
        bracket = "(" if low_open else "["
        raise InvalidInput(f"{field} must be in {bracket}{low:g}, {high:g}], got {value!r:.40}")
    return float(value)


def _integer(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(f"{field} must be an integer from {low} to {high}, got {value!r:.40}")
    return value


def check_variant(variant: Any, where: str = "variant") -> Variant:
    """Return a valid variant (name, version, weight in [0, 100], shadow flag), or raise."""
    if not isinstance(variant, Variant):
        raise InvalidInput(f"{where} must be a Variant, got {type(variant).__name__}")
    if not isinstance(variant.name, str) or not _VARIANT_NAME.fullmatch(variant.name):
        raise InvalidInput(
            f"{where} name must be 1-64 letters, digits, _, . or - (e.g. 'canary'), "
            f"got {variant.name!r:.60}"
        )
    try:
        version = check_version(variant.version)
    except InvalidInput:
        raise InvalidInput(
            f"{where} {variant.name!r}: version must be a positive integer, "
            f"got {variant.version!r:.40}"
        ) from None
    weight = _number(variant.weight, f"{where} {variant.name!r} weight", 0.0, 100.0)
    if not isinstance(variant.shadow, bool):
        raise InvalidInput(f"{where} {variant.name!r}: shadow must be true or false")
    if variant.shadow and weight != 0:
        raise InvalidInput(
            f"{where} {variant.name!r} is a shadow and gets a copy of traffic, so its weight "
            f"must be 0, got {weight:g}"
        )
    return Variant(variant.name, version, weight, variant.shadow)


def check_variants(variants: Any, field: str = "variants") -> tuple[Variant, ...]:
    """Return valid variants: unique names, live weights summing to 100, one answering."""
    if isinstance(variants, str | bytes | dict) or not hasattr(variants, "__iter__"):
        raise InvalidInput(f"{field} must be a list of variants, got {variants!r:.60}")
    checked = tuple(check_variant(v, field.rstrip("s")) for v in variants)
    if not 1 <= len(checked) <= MAX_VARIANTS:
        raise InvalidInput(f"{field} must hold 1 to {MAX_VARIANTS} variants, got {len(checked)}")
    names = [v.name for v in checked]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InvalidInput(f"{field}: variant names must be unique; {repeated[0]!r} repeats")
    live = [v for v in checked if not v.shadow]
    total = math.fsum(v.weight for v in live)
    if not any(v.weight > 0 for v in live):
        raise InvalidInput(f"{field}: at least one variant that is not a shadow must get traffic")
    if abs(total - 100.0) > WEIGHT_TOLERANCE:
        shares = ", ".join(f"{v.name}={v.weight:g}" for v in live)
        raise InvalidInput(
            f"{field}: the weights of the variants that answer must sum to 100, "
            f"got {total:g} ({shares})"
        )
    return checked


def check_policy(policy: Any) -> CanaryPolicy | None:
    """Return a valid canary policy (or None), or raise InvalidInput naming the field."""
    if policy is None:
        return None
    if not isinstance(policy, CanaryPolicy):
        raise InvalidInput(f"policy must be a CanaryPolicy, got {type(policy).__name__}")
    steps = policy.steps
    if isinstance(steps, str | bytes) or not hasattr(steps, "__iter__"):
        raise InvalidInput(f"policy.steps must be a list of percentages, got {steps!r:.60}")
    steps = tuple(_number(s, "policy.steps", 0.0, 100.0, low_open=True) for s in steps)
    if not 1 <= len(steps) <= MAX_STEPS:
        raise InvalidInput(f"policy.steps must hold 1 to {MAX_STEPS} steps, got {len(steps)}")
    if any(b <= a for a, b in zip(steps, steps[1:], strict=False)) or steps[-1] != 100.0:
        raise InvalidInput(
            f"policy.steps must increase and end at 100 (e.g. 5, 25, 50, 100), got {list(steps)}"
        )
    if policy.on_no_data not in ON_NO_DATA:
        raise InvalidInput(
            f"policy.on_no_data must be 'pause' or 'fail', got {policy.on_no_data!r:.40}"
        )
    limit = policy.max_p99_latency_ms
    drop = policy.max_metric_drop
    return replace(
        policy,
        steps=steps,
        min_requests=_integer(policy.min_requests, "policy.min_requests", 1, 1_000_000_000),
        max_error_rate=_number(policy.max_error_rate, "policy.max_error_rate", 0.0, 1.0),
        max_p99_latency_ratio=_number(
            policy.max_p99_latency_ratio, "policy.max_p99_latency_ratio", 0.0, 1e6, low_open=True
        ),
        max_p99_latency_ms=None
        if limit is None
        else _number(limit, "policy.max_p99_latency_ms", 0.0, 1e9, low_open=True),
        max_prediction_psi=_number(
            policy.max_prediction_psi, "policy.max_prediction_psi", 0.0, 1e6
        ),
        min_metric=_check_min_metric(policy.min_metric),
        max_metric_drop=None if drop is None else _number(drop, "policy.max_metric_drop", 0, 1e9),
    )


def _check_min_metric(values: Any) -> dict[str, float]:
    if not isinstance(values, dict) or len(values) > 100:
        raise InvalidInput("policy.min_metric must map up to 100 metric names to minimums")
    checked = {}
    for key, value in values.items():
        if not isinstance(key, str) or not 1 <= len(key) <= KEY_LENGTH:
            raise InvalidInput(f"policy.min_metric: {key!r:.60} is not a metric name")
        checked[key] = _number(value, f"policy.min_metric[{key!r}]", -1e300, 1e300)
    return checked


def check_batching(batching: Any) -> BatchingConfig:
    """Return valid batching settings (1-10000 rows, 0-10000 ms wait), or raise InvalidInput."""
    if not isinstance(batching, BatchingConfig):
        raise InvalidInput(f"batching must be a BatchingConfig, got {type(batching).__name__}")
    if not isinstance(batching.enabled, bool):
        raise InvalidInput("batching.enabled must be true or false")
    return BatchingConfig(
        batching.enabled,
        _integer(batching.max_batch_size, "batching.max_batch_size", 1, 10_000),
        _number(batching.max_wait_ms, "batching.max_wait_ms", 0.0, 10_000.0),
        None
        if batching.deadline_ms is None
        else _number(batching.deadline_ms, "batching.deadline_ms", 1.0, 600_000.0),
    )


def _choice(value: Any, allowed: type[Strategy] | type[RolloutState], field: str) -> str:
    try:
        return allowed(value).value
    except ValueError:
        known = ", ".join(v.value for v in allowed)
        raise InvalidInput(f"{field} must be one of {known}, got {value!r:.40}") from None


def check_deployment(deployment: Any) -> Deployment:
    """Return the deployment with every field checked and cleaned, or raise InvalidInput.

    The revision, creation time, creator and update time are the store's to set, so they are
    not checked here (the store overwrites them).
    """
    if not isinstance(deployment, Deployment):
        raise InvalidInput(f"expected a Deployment, got {type(deployment).__name__}")
    d = deployment
    policy = check_policy(d.policy)
    step = _integer(d.step, "step", 0, len(policy.steps) - 1 if policy else 0)
    header = d.sticky_header
    if header is not None and (not isinstance(header, str) or not _HEADER.fullmatch(header)):
        raise InvalidInput(f"sticky_header must be an HTTP header name, got {header!r:.60}")
    return replace(
        d,
        name=check_deployment_name(d.name),
        model_name=check_model_name(d.model_name),
        strategy=_choice(d.strategy, Strategy, "strategy"),
        state=_choice(d.state, RolloutState, "state"),
        variants=check_variants(d.variants),
        previous=check_variants(d.previous, "previous") if d.previous else (),
        alias=None if d.alias is None else check_alias(d.alias),
        policy=policy,
        batching=check_batching(d.batching),
        sticky_header=header.lower() if header is not None else None,
        step=step,
        step_started=_integer(d.step_started, "step_started", 0, _INT63),
        description=check_text(d.description, "description"),
    )
