"""The deployment entities: a named route from live traffic to registered model versions.

A deployment names one registered model and the variants that serve it, each a model version
with a share of live traffic; a shadow variant gets a copy of the traffic and never answers.
The strategy says how variants change: blue-green switches at once, canary steps its weight up
with an analysis between steps, A/B splits by a sticky key, shadow mirrors. Deployments are
stored (`store.deployments`), so every server replica reads the same state; `revision` makes
every change compare-and-set, and every change is an event in the registry's event log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Strategy(StrEnum):
    """How a deployment's variants change over time."""

    SINGLE = "single"  # one variant takes all traffic
    BLUE_GREEN = "blue-green"  # two variants, one live; switch at once, roll back at once
    CANARY = "canary"  # a challenger's weight steps up, analysed between steps
    AB = "ab"  # fixed split, sticky by a request key, outcome statistics per variant
    SHADOW = "shadow"  # a challenger gets a copy of traffic off the response path


class RolloutState(StrEnum):
    """Where a deployment's rollout stands."""

    STABLE = "stable"  # nothing in progress
    PROGRESSING = "progressing"  # a canary is stepping up
    PAUSED = "paused"  # an analysis was inconclusive (no data) and on_no_data says pause
    PROMOTED = "promoted"  # the challenger became the stable variant
    ROLLED_BACK = "rolled_back"  # the challenger failed an analysis or was rolled back by hand


@dataclass(frozen=True, slots=True)
class Variant:
    """One model version behind a deployment and its share of live traffic (0 to 100)."""

    name: str  # "stable", "canary", "blue", "green", "a", "b", "shadow", ...
    version: int
    weight: float = 0.0
    shadow: bool = False  # gets a copy of traffic; its answers are logged, never returned

    def to_dict(self) -> dict[str, Any]:
        """Return the variant as plain JSON-ready values."""
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Variant:
        """Return the variant `to_dict` wrote."""
        return cls(
            str(data["name"]),
            int(data["version"]),
            float(data.get("weight", 0.0)),
            # Booleans pass as given, never through bool() ("false" would read as True): the
            # store's checks (store/deployment_checks.py) refuse a value that is not one.
            data.get("shadow", False),
        )


@dataclass(frozen=True, slots=True)
class CanaryPolicy:
    """How a canary steps up and what its analysis checks between steps.

    Each check compares the canary with the stable variant over the step's window. A step
    passes only with at least `min_requests` predictions from each; with fewer the analysis is
    inconclusive ("no data" is never a pass) and `on_no_data` says whether to pause or fail.
    """

    steps: tuple[float, ...] = (5.0, 25.0, 50.0, 100.0)
    min_requests: int = 100
    max_error_rate: float = 0.01  # canary's share of failed predictions
    max_p99_latency_ratio: float = 2.0  # canary p99 / stable p99
    max_p99_latency_ms: float | None = None  # an absolute ceiling, when given
    max_prediction_psi: float = 0.2  # PSI of canary's predictions against stable's
    min_metric: dict[str, float] = field(default_factory=dict)  # live metric -> minimum
    max_metric_drop: float | None = None  # live metric may fall this much below stable's
    on_no_data: str = "pause"  # "pause" | "fail"

    def to_dict(self) -> dict[str, Any]:
        """Return the policy as plain JSON-ready values."""
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CanaryPolicy:
        """Return the policy `to_dict` wrote (missing keys take their defaults)."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if "steps" in known:
            known["steps"] = tuple(float(s) for s in known["steps"])
        if "min_metric" in known:
            known["min_metric"] = {str(k): float(v) for k, v in dict(known["min_metric"]).items()}
        return cls(**known)


@dataclass(frozen=True, slots=True)
class BatchingConfig:
    """Adaptive batching for one deployment: off, or bounded by rows and by waiting time."""

    enabled: bool = True
    max_batch_size: int = 64  # rows in one predict call
    max_wait_ms: float = 5.0  # the longest a request is held on purpose for others to join
    deadline_ms: float | None = None  # shed (503) a request queued longer than this; None: never

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as plain JSON-ready values."""
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BatchingConfig:
        """Return the settings `to_dict` wrote (missing keys take their defaults)."""
        deadline = data.get("deadline_ms")
        return cls(
            data.get("enabled", True),  # as given, like Variant.shadow: checked by the store
            int(data.get("max_batch_size", 64)),
            float(data.get("max_wait_ms", 5.0)),
            None if deadline is None else float(deadline),
        )


@dataclass(frozen=True, slots=True)
class Deployment:
    """A stored deployment: its model, variants, strategy, rollout state and history pointer.

    `previous` holds the variants before the last switch or promotion, so a rollback is one
    compare-and-set write. `alias` is the registry alias that follows the stable variant
    (`champion` by default): promoting a version moves it, so `models:/name@champion` and the
    deployment agree, and an approval policy on that alias guards promotion.
    """

    name: str
    model_name: str
    strategy: str
    variants: tuple[Variant, ...]
    revision: int
    state: str = RolloutState.STABLE.value
    alias: str | None = "champion"
    policy: CanaryPolicy | None = None
    batching: BatchingConfig = field(default_factory=BatchingConfig)
    sticky_header: str | None = None  # A/B: the request header whose value picks the variant
    step: int = 0  # canary: index into policy.steps of the weight now in force
    step_started: int = 0  # canary: when the current step began (ms); its analysis window
    previous: tuple[Variant, ...] = ()
    description: str = ""
    created_by: str | None = None
    creation_time: int = 0
    last_updated_time: int = 0

    @property
    def live(self) -> tuple[Variant, ...]:
        """Return the variants that answer requests (weight above zero, not shadows)."""
        return tuple(v for v in self.variants if not v.shadow and v.weight > 0)

    @property
    def shadows(self) -> tuple[Variant, ...]:
        """Return the variants that receive a copy of traffic and never answer."""
        return tuple(v for v in self.variants if v.shadow)

    @property
    def stable(self) -> Variant:
        """Return the variant holding the largest share of live traffic (the first on ties)."""
        live = [v for v in self.variants if not v.shadow]
        return max(live, key=lambda v: v.weight)

    def variant(self, name: str) -> Variant | None:
        """Return the variant called `name`, or None."""
        return next((v for v in self.variants if v.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        """Return the deployment as plain JSON-ready values (the REST and event shape)."""
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Deployment:
        """Return the deployment `to_dict` wrote."""
        policy = data.get("policy")
        return cls(
            name=str(data["name"]),
            model_name=str(data["model_name"]),
            strategy=str(data["strategy"]),
            variants=tuple(Variant.from_dict(v) for v in data["variants"]),
            revision=int(data["revision"]),
            state=str(data.get("state", RolloutState.STABLE.value)),
            alias=data.get("alias"),
            policy=None if policy is None else CanaryPolicy.from_dict(policy),
            batching=BatchingConfig.from_dict(data.get("batching") or {}),
            sticky_header=data.get("sticky_header"),
            step=int(data.get("step", 0)),
            step_started=int(data.get("step_started", 0)),
            previous=tuple(Variant.from_dict(v) for v in data.get("previous") or ()),
            description=str(data.get("description") or ""),
            created_by=data.get("created_by"),
            creation_time=int(data.get("creation_time", 0)),
            last_updated_time=int(data.get("last_updated_time", 0)),
        )


from perennia.entities import to_dict  # noqa: E402 - the generic shape, defined before this module loads
