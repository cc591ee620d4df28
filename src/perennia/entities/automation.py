"""The automation entities: cron schedules, retraining policies, and the retrainings they start.

A `Schedule` runs a pipeline (or any callable) named by an entrypoint on a cron expression; the
server replicas (or `perennia scheduler`) claim each due schedule with a lease, so exactly one of
them runs each firing. A `RetrainingPolicy` says when a registered model is retrained (its
triggers), how (the pipeline and the data) and how the challenger reaches production (gates,
approval, canary). Each time a trigger fires, the policy starts one `Retraining`, a small state
machine whose every step leaves a `RetrainingEvent`; at most one is in flight per model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Where a retraining stands. The first five are in flight; the rest are terminal.
RETRAINING_ACTIVE_STATES = ("triggered", "training", "evaluating", "awaiting_approval", "canary")
RETRAINING_TERMINAL_STATES = (
    "promoted",  # the challenger serves and is the champion
    "failed",  # the pipeline (or a step after it) failed; the champion is untouched
    "gate_failed",  # the challenger lost to the champion under the gates
    "rejected",  # a reviewer rejected the approval request
    "rolled_back",  # the canary analysis failed and the stable version serves again
    "cancelled",
)
RETRAINING_STATES = RETRAINING_ACTIVE_STATES + RETRAINING_TERMINAL_STATES
SCHEDULE_RUN_STATUSES = ("FINISHED", "FAILED")


@dataclass(frozen=True, slots=True)
class Schedule:
    """A stored cron schedule: what it runs, when, and how its last firing went."""

    name: str
    target: str  # an entrypoint: "package.module:attribute" or "path/to/file.py:attribute"
    cron: str  # a cron expression croniter understands (5 fields, or 6 with seconds last)
    params: dict[str, Any] = field(default_factory=dict)  # passed to the target's run
    enabled: bool = True
    description: str = ""
    # Set by the store (next_run_ms: by the caller that creates or releases it).
    next_run_ms: int | None = None  # the next firing; None when disabled
    last_run_ms: int | None = None  # the firing time of the last run
    last_status: str | None = None  # one of SCHEDULE_RUN_STATUSES
    last_error: str | None = None
    last_run_id: str | None = None  # the pipeline run (a tracking run id) of the last firing
    lease_owner: str | None = None
    lease_until_ms: int | None = None
    created_by: str | None = None
    created_ms: int = 0
    updated_ms: int = 0


@dataclass(frozen=True, slots=True)
class RetrainingPolicy:
    """When and how one registered model is retrained, and how the challenger is promoted.

    `triggers` are plain dicts, each with a `kind`: {"kind": "schedule", "cron": "0 3 * * *"},
    {"kind": "new_data", "dataset": "train"}, {"kind": "alert", "monitor": "m", "rule": None},
    {"kind": "performance", "monitor": "m", "metric": "accuracy", "below": 0.8}. `config` holds
    the rest: the data, the evaluation data, gates, the alias, the deployment, the canary policy.
    """

    model_name: str
    pipeline: str  # the entrypoint of the training pipeline
    triggers: tuple[dict[str, Any], ...] = ()
    config: dict[str, Any] = field(default_factory=dict)
    cooldown_ms: int = 3_600_000
    enabled: bool = True
    # Set by the store.
    cursor: dict[str, Any] = field(default_factory=dict)  # what the triggers saw last
    in_flight: int | None = None  # the id of the retraining in flight, if any
    last_triggered_ms: int | None = None
    next_check_ms: int | None = None
    lease_owner: str | None = None
    lease_until_ms: int | None = None
    created_by: str | None = None
    created_ms: int = 0
    updated_ms: int = 0


@dataclass(frozen=True, slots=True)
class Retraining:
    """One retraining of a model: its trigger, where it stands, and what it produced."""

    id: int
    model_name: str
    state: str  # one of RETRAINING_STATES
    trigger: dict[str, Any] = field(default_factory=dict)  # {"kind": ..., "reason": ...}
    started_ms: int = 0
    updated_ms: int = 0
    finished_ms: int | None = None
    pipeline_run_id: str | None = None
    challenger_version: int | None = None
    champion_version: int | None = None
    approval_request_id: int | None = None
    deployment: str | None = None
    reason: str | None = None  # why it ended where it did, in one line
    detail: dict[str, Any] = field(default_factory=dict)  # gate outcomes, canary analysis, ...

    @property
    def active(self) -> bool:
        """Return True while the retraining is in flight."""
        return self.state in RETRAINING_ACTIVE_STATES


@dataclass(frozen=True, slots=True)
class RetrainingEvent:
    """One step of a retraining, as it happened."""

    retraining_id: int
    time_ms: int
    state: str
    message: str
    detail: dict[str, Any] = field(default_factory=dict)
