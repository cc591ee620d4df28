"""The experiments part: create, find, rename, delete and restore experiments."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from perennia.entities import Experiment, Page, Reader, ViewType
from perennia.store.limits import DEFAULT_SEARCH_MAX_RESULTS


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
        *,
        order_by: Sequence[tuple[str, bool]] | None = None,
    ) -> Page[Experiment]:
        """Return a page of experiments ordered by id, or by (field, descending) pairs over
        name, experiment_id, creation_time and last_update_time then id (with a `reader`, only
        what it may read)."""
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

    def delete_tag(self, experiment_id: str, key: str) -> None:
        """Delete one experiment tag (NotFound if the experiment has no such tag)."""
        ...

    def purge_deleted(self, older_than_ms: int, *, dry_run: bool = False) -> int:
        """Permanently remove experiments trashed before the cutoff; return how many (with
        `dry_run`, how many would go, removing nothing)."""
        ...
