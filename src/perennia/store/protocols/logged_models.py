"""The logged-models part: MLflow 3's logged models, kept behind the server's MLflow API."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from perennia.entities import LoggedModel, LoggedModelMetric, ModelLink, Page


class LoggedModelStore(Protocol):
    """MLflow 3 logged models: created, tagged, given params and finalized by mlflow clients."""

    def create(
        self,
        experiment_id: str,
        name: str,
        *,
        source_run_id: str | None = None,
        model_type: str | None = None,
        params: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> LoggedModel:
        """Return a new PENDING logged model with its artifact location."""
        ...

    def get(self, model_id: str) -> LoggedModel:
        """Return the logged model, or raise NotFound."""
        ...

    def finalize(self, model_id: str, status: str) -> LoggedModel:
        """Return the model after setting its final status (READY or FAILED)."""
        ...

    def search(
        self,
        experiment_ids: Sequence[str],
        max_results: int = 100,
        page_token: str | None = None,
        *,
        name: str | None = None,
        source_run_id: str | None = None,
        datasets: Sequence[tuple[str, str | None]] | None = None,
    ) -> Page[LoggedModel]:
        """Return one page of the experiments' logged models, newest first, optionally filtered
        (by name, source run, or a metric on one of the (name, digest) datasets)."""
        ...

    def set_tags(self, model_id: str, tags: dict[str, str]) -> None:
        """Set tags on a logged model."""
        ...

    def delete_tag(self, model_id: str, key: str) -> None:
        """Delete one tag of a logged model."""
        ...

    def log_params(self, model_id: str, params: dict[str, str]) -> None:
        """Record params on a logged model."""
        ...

    def log_metrics(self, model_id: str, metrics: Sequence[LoggedModelMetric]) -> None:
        """Record metric values on a logged model."""
        ...

    def link_run(self, run_id: str, links: Sequence[ModelLink]) -> None:
        """Record logged models the run consumed or produced (each link once)."""
        ...

    def run_links(self, run_ids: Sequence[str]) -> dict[str, list[ModelLink]]:
        """Return the model links of each of the runs that has any."""
        ...

    def delete(self, model_id: str) -> None:
        """Mark the logged model deleted."""
        ...
