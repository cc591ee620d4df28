"""The shared entity types, defined once and used by the SDK, the stores and the server.

Times are integer milliseconds since the Unix epoch (UTC), as in storage and in MLflow;
the `*_datetime` properties give timezone-aware views for people.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class RunStatus(StrEnum):
    """Where a run is in its life."""

    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"

    @property
    def is_terminal(self) -> bool:
        """Return True for states a run never leaves on its own."""
        return self in (RunStatus.FINISHED, RunStatus.FAILED, RunStatus.KILLED)


class LifecycleStage(StrEnum):
    """Whether an experiment or run is live or in the trash."""

    ACTIVE = "active"
    DELETED = "deleted"


class ViewType(StrEnum):
    """Which lifecycle stages a search returns."""

    ACTIVE_ONLY = "ACTIVE_ONLY"
    DELETED_ONLY = "DELETED_ONLY"
    ALL = "ALL"

    def stages(self) -> tuple[str, ...]:
        """Return the lifecycle stages this view includes."""
        if self is ViewType.ACTIVE_ONLY:
            return (LifecycleStage.ACTIVE.value,)
        if self is ViewType.DELETED_ONLY:
            return (LifecycleStage.DELETED.value,)
        return (LifecycleStage.ACTIVE.value, LifecycleStage.DELETED.value)


def ms_to_datetime(ms: int | None) -> datetime | None:
    """Return the UTC datetime for a millisecond timestamp, or None."""
    return None if ms is None else datetime.fromtimestamp(ms / 1000.0, tz=UTC)


@dataclass(frozen=True, slots=True)
class Experiment:
    """A named group of runs."""

    experiment_id: str
    name: str
    artifact_location: str | None
    lifecycle_stage: str
    creation_time: int
    last_update_time: int
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Metric:
    """One point of a metric's time series."""

    key: str
    value: float
    timestamp: int
    step: int = 0


@dataclass(frozen=True, slots=True)
class Param:
    """An immutable run input such as a hyper-parameter."""

    key: str
    value: str


@dataclass(frozen=True, slots=True)
class RunTag:
    """A mutable key/value annotation on a run."""

    key: str
    value: str


@dataclass(frozen=True, slots=True)
class RunInfo:
    """A run's identity and lifecycle."""

    run_id: str
    run_name: str
    experiment_id: str
    status: str
    start_time: int
    end_time: int | None
    user_id: str | None
    lifecycle_stage: str
    parent_run_id: str | None = None
    source_name: str | None = None
    git_commit: str | None = None
    heartbeat_time: int | None = None
    error: str | None = None

    @property
    def run_uuid(self) -> str:
        """Return the run id (MLflow's older name for it)."""
        return self.run_id

    @property
    def start_datetime(self) -> datetime | None:
        """Return the start time as an aware UTC datetime."""
        return ms_to_datetime(self.start_time)

    @property
    def end_datetime(self) -> datetime | None:
        """Return the end time as an aware UTC datetime, or None while running."""
        return ms_to_datetime(self.end_time)


@dataclass(frozen=True, slots=True)
class RunData:
    """A run's latest metric values, params and tags."""

    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Dataset:
    """A description of a data set: its identity (name + content digest), shape and origin."""

    name: str
    digest: str
    source: str
    source_type: str
    schema: list[dict[str, Any]]
    row_count: int
    targets: list[str] = field(default_factory=list)
    profile: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DatasetInput:
    """A dataset used by a run, and how (context: training, evaluation, ...), with any other
    tags the logger attached to this use (key -> value, in the order they were given)."""

    dataset: Dataset
    context: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DatasetSummary:
    """One dataset some run of an experiment consumed, in one context (MLflow's summaries)."""

    experiment_id: str
    name: str
    digest: str
    context: str | None = None


@dataclass(frozen=True, slots=True)
class RunInputs:
    """Everything a run consumed."""

    dataset_inputs: list[DatasetInput] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Run:
    """A run: info, data and inputs, shaped like MLflow's `Run`."""

    info: RunInfo
    data: RunData = field(default_factory=RunData)
    inputs: RunInputs = field(default_factory=RunInputs)


@dataclass(frozen=True, slots=True)
class ArtifactEntry:
    """One file of a run's artifact manifest: its path in the run and the digest of its bytes."""

    path: str
    digest: str
    size: int


@dataclass(frozen=True, slots=True)
class FileInfo:
    """One entry of an artifact listing: a file, or a directory holding files."""

    path: str
    is_dir: bool
    file_size: int | None = None
    digest: str | None = None


class Role(StrEnum):
    """What a user may do in one experiment; each role includes the ones before it."""

    VIEWER = "viewer"
    EDITOR = "editor"
    MANAGER = "manager"

    @property
    def rank(self) -> int:
        """Return the role's position: viewer 1, editor 2, manager 3."""
        return ("viewer", "editor", "manager").index(self.value) + 1


@dataclass(frozen=True, slots=True)
class User:
    """Someone who may use the server."""

    user_id: int
    username: str
    is_admin: bool
    creation_time: int


@dataclass(frozen=True, slots=True)
class Reader:
    """Whose listing this is: searches return only what `user_id` holds an explicit role on.

    Stores take `reader=None` to mean "everything" (embedded use, administrators, and servers
    whose default role already lets every user read every experiment and model).
    """

    user_id: int


@dataclass(frozen=True, slots=True)
class ApiToken:
    """An API token's public record (its secret is shown once at creation and never stored)."""

    token_id: int
    username: str
    name: str
    creation_time: int
    revoked_time: int | None = None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One mutating request the server answered: who, when, what, on which target, with what result."""

    time: int
    username: str | None
    method: str
    path: str
    target: str | None
    status: int


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of results and the token for the next page (None on the last page)."""

    items: list[T]
    next_page_token: str | None = None

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> T:
        return self.items[index]


@dataclass(slots=True)
class MetricBatch:
    """Metric points for one run as parallel columns: the form every hot path moves."""

    keys: list[str] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)
    timestamps: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.keys)

    def append(self, key: str, value: float, step: int, timestamp: int) -> None:
        """Add one point."""
        self.keys.append(key)
        self.values.append(value)
        self.steps.append(step)
        self.timestamps.append(timestamp)

    def extend(self, other: MetricBatch) -> None:
        """Add every point of `other`."""
        self.keys.extend(other.keys)
        self.values.extend(other.values)
        self.steps.extend(other.steps)
        self.timestamps.extend(other.timestamps)

    @classmethod
    def from_metrics(cls, metrics: list[Metric]) -> MetricBatch:
        """Return a batch holding `metrics`."""
        batch = cls()
        for m in metrics:
            batch.append(m.key, m.value, m.step, m.timestamp)
        return batch

    def to_metrics(self) -> list[Metric]:
        """Return the batch as Metric entities."""
        return [
            Metric(k, v, t, s)
            for k, v, s, t in zip(self.keys, self.values, self.steps, self.timestamps, strict=True)
        ]


def to_dict(entity: Any) -> Any:
    """Return a JSON-ready structure for an entity (non-finite floats become strings)."""
    if dataclasses.is_dataclass(entity) and not isinstance(entity, type):
        return {f.name: to_dict(getattr(entity, f.name)) for f in dataclasses.fields(entity)}
    if isinstance(entity, dict):
        return {k: to_dict(v) for k, v in entity.items()}
    if isinstance(entity, list | tuple):
        return [to_dict(v) for v in entity]
    if isinstance(entity, float) and not math.isfinite(entity):
        return "NaN" if math.isnan(entity) else ("Infinity" if entity > 0 else "-Infinity")
    return entity


_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def decode_float(value: Any) -> float:
    """Return a float from JSON, where non-finite values travel as "NaN", "Infinity", "-Infinity"."""
    if isinstance(value, str):
        return _NON_FINITE[value]
    return float(value)


def from_dict(cls: Any, data: Any) -> Any:
    """Return an entity of type `cls` rebuilt from `to_dict` output (the inverse of `to_dict`)."""
    if data is None:
        return None
    origin = typing.get_origin(cls)
    if origin in (types.UnionType, typing.Union):
        options = [a for a in typing.get_args(cls) if a is not type(None)]
        return from_dict(options[0], data)
    if origin is list:
        (item,) = typing.get_args(cls) or (Any,)
        return [from_dict(item, v) for v in data]
    if origin is dict:
        _, item = typing.get_args(cls) or (str, Any)
        return {k: from_dict(item, v) for k, v in data.items()}
    if origin is Page:
        (item,) = typing.get_args(cls)
        return Page([from_dict(item, v) for v in data["items"]], data.get("next_page_token"))
    if cls is float:
        return decode_float(data)
    if dataclasses.is_dataclass(cls):
        hints = _hints(cls)
        return cls(
            **{
                f.name: from_dict(hints[f.name], data[f.name])
                for f in dataclasses.fields(cls)
                if f.name in data
            }
        )
    return data


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


_INF = math.inf


def encode_floats(values: list[float]) -> list[Any]:
    """Return floats ready for JSON: finite ones as they are, others as "NaN"/"Infinity" strings."""
    # One comparison per value: NaN and the infinities are the only floats outside (-inf, inf).
    return [v if -_INF < v < _INF else to_dict(float(v)) for v in values]


def decode_floats(values: list[Any]) -> list[Any]:
    """Return JSON numbers as floats, turning "NaN"/"Infinity" strings back; leaves junk for checks."""
    return [
        v
        if v.__class__ is float
        else _NON_FINITE.get(v, v)
        if v.__class__ is str
        else float(v)
        if v.__class__ is int
        else v
        for v in values
    ]


# The registry's entities live in their own module; they are part of this one set.
from perennia.entities.automation import (  # noqa: E402, F401
    Retraining,
    RetrainingEvent,
    RetrainingPolicy,
    Schedule,
)
from perennia.entities.datasets import DatasetEvent, DatasetVersion  # noqa: E402, F401
from perennia.entities.deployment import (  # noqa: E402, F401
    BatchingConfig,
    CanaryPolicy,
    Deployment,
    RolloutState,
    Strategy,
    Variant,
)
from perennia.entities.monitoring import (  # noqa: E402, F401
    AlertEventRecord,
    AlertStateRecord,
    Monitor,
    MonitorPoint,
    MonitorRun,
)
from perennia.entities.registry import (  # noqa: E402, F401
    ApprovalPolicy,
    ApprovalRequest,
    ApprovalReview,
    ApprovalStatus,
    LoggedModel,
    LoggedModelMetric,
    MetricGate,
    ModelCardRevision,
    ModelLink,
    ModelVersion,
    RegisteredModel,
    RegistryEvent,
    SuccessCriteria,
    VersionState,
    VersionStatus,
    Webhook,
    WebhookDelivery,
)
