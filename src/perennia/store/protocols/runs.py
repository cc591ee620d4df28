"""The runs part: create, read, update and search runs; track their heartbeats."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from perennia.entities import Page, Reader, Run, RunInfo, ViewType
from perennia.store.limits import DEFAULT_SEARCH_MAX_RESULTS

if TYPE_CHECKING:
    import pandas as pd


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
        columns: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Return matching runs as a DataFrame with metrics.*, params.* and tags.* columns
        (only `columns`, such as ["run_id", "params.lr", "metrics.loss"], when given)."""
        ...

    def purge_deleted(self, older_than_ms: int, *, dry_run: bool = False) -> int:
        """Permanently remove runs trashed before the cutoff; return how many (with `dry_run`,
        how many would go, removing nothing)."""
        ...
