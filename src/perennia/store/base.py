"""The store interface: small per-entity protocols that every backend implements.

The SDK, the CLI and (later) the server talk only to these protocols. `SqlStore` implements
them over SQLite and PostgreSQL; a REST client implements them over HTTP.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from perennia.entities import (
    ApiToken,
    ArtifactEntry,
    AuditEntry,
    DatasetInput,
    Experiment,
    Metric,
    MetricBatch,
    Page,
    Param,
    Reader,
    Role,
    Run,
    RunInfo,
    RunTag,
    User,
    ViewType,
)

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_SEARCH_MAX_RESULTS = 1_000
MAX_SEARCH_RESULTS = 50_000


class ExperimentStore(Protocol):
    """Create, find, rename, delete and restore experiments."""

    def create(
        self, name: str, artifact_location: str | None = None, tags: dict[str, str] | None = None
    ) -> str:
        """Return the id of a new experiment; AlreadyExists if the name is taken."""
        ...

    def get(self, experiment_id: str) -> Experiment:
        """Return the experiment; NotFound if there is none."""
        ...

    def get_by_name(self, name: str) -> Experiment | None:
        """Return the experiment with this name, or None."""
        ...

    def search(
        self,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = DEFAULT_SEARCH_MAX_RESULTS,
        name_like: str | None = None,
        page_token: str | None = None,
        reader: Reader | None = None,
    ) -> Page[Experiment]:
        """Return a page of experiments ordered by id (with a `reader`, only what it may read)."""
        ...

    def rename(self, experiment_id: str, new_name: str) -> None:
        """Give an experiment a new unique name."""
        ...

    def delete(self, experiment_id: str) -> None:
        """Move an experiment (and its runs' visibility) to the trash."""
        ...

    def restore(self, experiment_id: str) -> None:
        """Take an experiment out of the trash."""
        ...

    def set_tag(self, experiment_id: str, key: str, value: str) -> None:
        """Set one experiment tag."""
        ...

    def purge_deleted(self, older_than_ms: int) -> int:
        """Permanently remove experiments trashed before the cutoff; return how many."""
        ...


class RunStore(Protocol):
    """Create, read, update and search runs; track their heartbeats."""

    def create(
        self,
        experiment_id: str,
        *,
        run_name: str | None = None,
        user_id: str | None = None,
        start_time: int | None = None,
        tags: dict[str, str] | None = None,
        parent_run_id: str | None = None,
        source_name: str | None = None,
        git_commit: str | None = None,
    ) -> Run:
        """Return a new RUNNING run in the experiment."""
        ...

    def get(self, run_id: str) -> Run:
        """Return the run with its latest metrics, params, tags and inputs; NotFound if absent."""
        ...

    def update(
        self,
        run_id: str,
        *,
        status: str | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
        error: str | None = None,
    ) -> RunInfo:
        """Return the run info after changing its status, end time, name or error."""
        ...

    def delete(self, run_id: str) -> None:
        """Move a run to the trash."""
        ...

    def restore(self, run_id: str) -> None:
        """Take a run out of the trash."""
        ...

    def heartbeat(self, run_ids: Sequence[str], now_ms: int) -> None:
        """Record that the given live runs are still alive."""
        ...

    def mark_stale_killed(self, cutoff_ms: int) -> list[str]:
        """Mark RUNNING runs whose heartbeat is older than the cutoff KILLED; return their ids."""
        ...

    def search(
        self,
        experiment_ids: Sequence[str],
        filter_string: str = "",
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = DEFAULT_SEARCH_MAX_RESULTS,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
        reader: Reader | None = None,
    ) -> Page[Run]:
        """Return a page of runs matching the filter, in the requested order.

        With a `reader`, only runs in experiments it may read; an empty `experiment_ids`
        searches every experiment (the reader's, when given).
        """
        ...

    def search_frame(
        self,
        experiment_ids: Sequence[str],
        filter_string: str = "",
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int | None = None,
        order_by: Sequence[str] | None = None,
        reader: Reader | None = None,
    ) -> pd.DataFrame:
        """Return matching runs as a DataFrame with metrics.*, params.* and tags.* columns."""
        ...

    def purge_deleted(self, older_than_ms: int) -> int:
        """Permanently remove runs trashed before the cutoff; return how many."""
        ...


class MetricStore(Protocol):
    """Append metric points and read their history."""

    def log(self, run_id: str, batch: MetricBatch) -> None:
        """Append a batch of points to a run in one transaction."""
        ...

    def history(self, run_id: str, key: str) -> list[Metric]:
        """Return every point of one metric ordered by step, then timestamp."""
        ...


class ParamStore(Protocol):
    """Record immutable params."""

    def log(self, run_id: str, params: Sequence[Param]) -> None:
        """Record params; Conflict if a key already holds a different value."""
        ...


class TagStore(Protocol):
    """Set and delete run tags."""

    def set(self, run_id: str, tags: Sequence[RunTag]) -> None:
        """Set (insert or overwrite) tags."""
        ...

    def delete(self, run_id: str, key: str) -> None:
        """Delete one tag; NotFound if it is not set."""
        ...


class InputStore(Protocol):
    """Record which datasets a run consumed."""

    def log(self, run_id: str, inputs: Sequence[DatasetInput]) -> None:
        """Record dataset inputs (idempotent)."""
        ...

    def list(self, run_id: str) -> list[DatasetInput]:
        """Return the run's dataset inputs."""
        ...


class ArtifactIndex(Protocol):
    """The per-run manifest: artifact path to content digest and size."""

    def record(self, run_id: str, entries: Sequence[ArtifactEntry]) -> None:
        """Add or replace manifest entries."""
        ...

    def list(self, run_id: str, prefix: str = "") -> list[ArtifactEntry]:
        """Return the entries under a path prefix, ordered by path."""
        ...

    def get(self, run_id: str, path: str) -> ArtifactEntry:
        """Return one entry; NotFound if the run has no such artifact."""
        ...

    def digests_in_use(self) -> set[str]:
        """Return every digest some run still refers to."""
        ...


@runtime_checkable
class Store(Protocol):
    """A whole metadata store: its per-entity parts plus the one cross-entity write."""

    uri: str
    experiments: ExperimentStore
    runs: RunStore
    metrics: MetricStore
    params: ParamStore
    tags: TagStore
    inputs: InputStore
    artifacts: ArtifactIndex

    def log_batch(
        self,
        run_id: str,
        metrics: MetricBatch | None = None,
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        """Write metrics, params and tags of one run in a single transaction."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class AccessStore(Protocol):
    """Users, API tokens and per-experiment roles (SQL stores; the server uses them)."""

    def create_user(self, username: str, password: str | None, *, is_admin: bool = False) -> User:
        """Return a new user."""
        ...

    def authenticate_password(self, username: str, password: str) -> User | None:
        """Return the user when the password matches, else None."""
        ...

    def create_token(self, username: str, name: str) -> tuple[ApiToken, str]:
        """Return a new token's record and its secret."""
        ...

    def authenticate_token(self, secret: str) -> User | None:
        """Return the user a live token belongs to, else None."""
        ...

    def set_role(self, experiment_id: str, username: str, role: Role | str | None) -> None:
        """Give a user a role in an experiment (None removes it)."""
        ...

    def role_of(self, experiment_id: str, user_id: int) -> Role | None:
        """Return the user's explicit role in an experiment, or None."""
        ...


class AuditLog(Protocol):
    """The append-only record of mutating requests."""

    def record(self, entry: AuditEntry) -> None:
        """Append one entry."""
        ...

    def list(self, limit: int = 100, username: str | None = None) -> list[AuditEntry]:
        """Return the newest entries first."""
        ...
