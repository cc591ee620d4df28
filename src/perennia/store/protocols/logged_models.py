"""The logged-models part: MLflow 3's logged models, kept behind the server's MLflow API."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from perennia.entities import LoggedModel, Page


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
    ) -> Page[LoggedModel]:
        """Return one page of the experiments' logged models, newest first, optionally filtered."""
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

    def delete(self, model_id: str) -> None:
        """Mark the logged model deleted."""
        ...
