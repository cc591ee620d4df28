"""The registry's entities: registered models, versions, events, and their governance records.

Approval policies, requests and reviews, model card revisions, webhooks and MLflow 3's logged
models live here beside the versions they govern; `perennia.entities` re-exports every name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class VersionStatus(StrEnum):
    """Where a model version's registration stands (MLflow's names)."""

    PENDING_REGISTRATION = "PENDING_REGISTRATION"
    FAILED_REGISTRATION = "FAILED_REGISTRATION"
    READY = "READY"


class VersionState(StrEnum):
    """Whether a model version is in use, deprecated (still loadable) or archived."""

    ACTIVE = "active"
    DEPRECATED = "deprecated"
    ARCHIVED = "archived"


@dataclass(frozen=True, slots=True)
class RegisteredModel:
    """A named model in the registry: its description, owner, tags, aliases and latest version."""

    name: str
    description: str
    owner: str | None
    creation_time: int
    last_updated_time: int
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    latest_version: int | None = None


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """One registered version: its source package, run, digest, status, state, tags and aliases."""

    name: str
    version: int
    creation_time: int
    last_updated_time: int
    description: str
    user_id: str | None
    source: str
    run_id: str | None
    digest: str | None
    status: str
    status_message: str | None
    state: str
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RegistryEvent:
    """One registry change: who, when, what, on which model/version, and the state before/after."""

    event_id: int
    time: int
    username: str | None
    action: str
    model_name: str
    version: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class ApprovalStatus(StrEnum):
    """Where an approval request stands; APPLIED means the alias has moved."""

    PENDING = "PENDING"
    APPLIED = "APPLIED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"


@dataclass(frozen=True, slots=True)
class MetricGate:
    """A condition on the source run's latest metric, e.g. test_roc_auc >= 0.9."""

    metric: str
    op: str
    threshold: float

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.threshold:g}"


@dataclass(frozen=True, slots=True)
class ApprovalPolicy:
    """What moving one alias of one registered model needs: approvals, reviewer role, gates."""

    name: str
    alias: str
    required_approvals: int = 1
    reviewer_role: str = "manager"
    allow_self_approval: bool = False
    gates: list[MetricGate] = field(default_factory=list)
    updated_time: int = 0
    updated_by: str | None = None


@dataclass(frozen=True, slots=True)
class ApprovalReview:
    """One reviewer's decision on a request."""

    reviewer: str
    decision: str  # "approve" or "reject"
    comment: str
    time: int


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    """A request to point an alias at a version, its reviews and where it stands."""

    request_id: int
    name: str
    version: int
    alias: str
    requested_by: str | None
    requested_time: int
    comment: str
    status: str
    decided_time: int | None = None
    reviews: list[ApprovalReview] = field(default_factory=list)
    # What the policy still needs (approvals, reviewer roles, failing gates); computed on read.
    unmet: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ModelCardRevision:
    """One saved revision of a model card's editable sections."""

    name: str
    revision: int
    fields: dict[str, str]
    author: str | None
    time: int
    comment: str


@dataclass(frozen=True, slots=True)
class Webhook:
    """A URL that registry events are POSTed to, signed with the webhook's secret."""

    webhook_id: int
    url: str
    events: list[str]
    model_name: str | None
    active: bool
    created_by: str | None
    creation_time: int


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One event's delivery to one webhook: attempts made and the last outcome."""

    delivery_id: int
    webhook_id: int
    event_id: int
    status: str  # pending, sending, delivered, failed
    attempts: int
    next_attempt_time: int
    last_status_code: int | None = None
    last_error: str | None = None
    delivered_time: int | None = None


@dataclass(frozen=True, slots=True)
class LoggedModelMetric:
    """One metric value recorded on a logged model: which run logged it, on which dataset."""

    key: str
    value: float
    timestamp: int
    step: int = 0
    run_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None


@dataclass(frozen=True, slots=True)
class ModelLink:
    """A logged model a run consumed (direction "input") or produced ("output", at a step)."""

    model_id: str
    direction: str
    step: int | None = None


@dataclass(frozen=True, slots=True)
class LoggedModel:
    """An MLflow 3 logged model: a model's artifacts inside an experiment, before registration."""

    model_id: str
    experiment_id: str
    name: str
    artifact_location: str
    creation_time: int
    last_updated_time: int
    status: str
    status_message: str | None = None
    model_type: str | None = None
    source_run_id: str | None = None
    lifecycle_stage: str = "active"
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: list[LoggedModelMetric] = field(default_factory=list)


# The registered-model tag that holds a model's success criteria, as SuccessCriteria.to_json().
SUCCESS_CRITERIA_TAG = "perennia.success_criteria"


@dataclass(frozen=True, slots=True)
class SuccessCriteria:
    """What a registered model is for and how success is judged: a goal and its gates.

    `gates` are texts in the comparison grammar (`perennia.evaluate.gates`), e.g.
    "recall_at_fpr_1pct >= 0.6" or "roc_auc >= baseline - 0.005". They are the default gates of
    comparisons, approvals (the absolute ones) and canary analysis.
    """

    goal: str
    gates: tuple[str, ...]
    updated_time: int = 0
    updated_by: str | None = None

    def to_json(self) -> str:
        """Return the canonical JSON text stored in the model's criteria tag."""
        import json

        data = {
            "goal": self.goal,
            "gates": list(self.gates),
            "updated_time": self.updated_time,
            "updated_by": self.updated_by,
        }
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> SuccessCriteria:
        """Return the criteria a tag's JSON text holds; InvalidInput when it is not that shape."""
        import json

        from perennia.errors import InvalidInput

        try:
            data = json.loads(text)
            goal, gates = data["goal"], data["gates"]
            updated_time, updated_by = int(data.get("updated_time") or 0), data.get("updated_by")
        except (TypeError, ValueError, KeyError):
            data = goal = gates = None
        if not isinstance(goal, str) or not isinstance(gates, list):
            raise InvalidInput(
                f"the {SUCCESS_CRITERIA_TAG} tag is not success criteria JSON; set them again "
                "with perennia models criteria set"
            )
        if not all(isinstance(gate, str) for gate in gates):
            raise InvalidInput(f"the {SUCCESS_CRITERIA_TAG} tag holds a gate that is not text")
        by = updated_by if isinstance(updated_by, str) else None
        return cls(goal, tuple(gates), updated_time, by)
