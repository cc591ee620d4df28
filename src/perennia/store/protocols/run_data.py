"""What a run records: metric points, params, tags, dataset inputs and its artifact manifest."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from perennia.entities import (
    ArtifactEntry,
    DatasetInput,
    DatasetSummary,
    Metric,
    MetricBatch,
    Param,
    RunTag,
)


class MetricStore(Protocol):
    """Append metric points and read their history."""

    def log(self, run_id: str, batch: MetricBatch) -> None:
        """Append a batch of points to a run in one transaction."""
        ...

    def history(self, run_id: str, key: str) -> list[Metric]:
        """Return every point of one metric ordered by step, then timestamp."""
        ...

    def history_downsampled(
        self,
        run_id: str,
        key: str,
        max_points: int = 2000,
        start: int | None = None,
        end: int | None = None,
        method: str = "minmax",
    ) -> MetricBatch:
        """Return at most `max_points` points of one metric between steps `start` and `end`
        (inclusive), ordered by step: every point when they fit, else each step bucket's exact
        min and max (`minmax`) or the LTTB shape (`lttb`, ranges of up to 1,000,000 points)."""
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

    def summaries(
        self, experiment_ids: Sequence[str], max_results: int = 1000
    ) -> list[DatasetSummary]:
        """Return the distinct (experiment, dataset, context) uses by the experiments' runs."""
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
