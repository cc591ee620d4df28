"""The monitors part: stored monitors, their computed windows as time series, and the leases
that let one server replica at a time run a scheduled monitor.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import Any, Final, Protocol

from perennia.entities import Monitor, MonitorPoint, MonitorRun, Page
from perennia.store.limits import DEFAULT_SEARCH_MAX_RESULTS

# How long a claim holds when the claimer names no lease: longer than a run of many windows.
LEASE_MS = 15 * 60 * 1000
DEFAULT_POINTS = 10_000
DEFAULT_RUNS = 100


class Unchanged(Enum):
    """The type of `UNCHANGED`, the default of every field `update_monitor` may change."""

    UNCHANGED = "UNCHANGED"

    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED: Final = Unchanged.UNCHANGED


class MonitorStore(Protocol):
    """Monitors, their windows' runs and points, and scheduling leases (`store.monitors`)."""

    def create_monitor(self, monitor: Monitor, username: str | None = None) -> Monitor:
        """Store a new monitor and return it as stored (AlreadyExists when the name is taken).

        `created_ms`, `updated_ms`, `created_by`, `last_window_end_ms` and the lease are the
        store's to set. A scheduled monitor is first due at the draft's `next_run_ms`, or at
        once when it names none; an unscheduled one is never due.
        """
        ...

    def get_monitor(self, name: str) -> Monitor:
        """Return the monitor called `name`, or raise NotFound."""
        ...

    def list_monitors(
        self,
        deployment: str | None = None,
        max_results: int = DEFAULT_SEARCH_MAX_RESULTS,
        page_token: str | None = None,
    ) -> Page[Monitor]:
        """Return one page of monitors (of one deployment, when given), by name."""
        ...

    def update_monitor(
        self,
        name: str,
        *,
        window_ms: int | Unchanged = UNCHANGED,
        schedule_ms: int | None | Unchanged = UNCHANGED,
        reference: str | Unchanged = UNCHANGED,
        config: dict[str, Any] | Unchanged = UNCHANGED,
        description: str | Unchanged = UNCHANGED,
    ) -> Monitor:
        """Return the monitor after changing the fields given (NotFound if there is none).

        Scheduling it (`schedule_ms` from None) makes it due at once; unscheduling it (None)
        makes it never due; a shorter schedule brings its next run no later than one new
        period from now.
        """
        ...

    def delete_monitor(self, name: str) -> None:
        """Remove the monitor with its runs, points and alerts (NotFound if there is none)."""
        ...

    def record_window(
        self,
        name: str,
        run: MonitorRun,
        points: Sequence[MonitorPoint],
        last_window_end_ms: int | None,
    ) -> None:
        """Store one computed window (its run and points) in one transaction.

        Recording a window (same start and end) again replaces its run and all its points.
        Every point must carry the run's window and `computed_ms`, each key once; values are
        finite or None. `last_window_end_ms` (None: unchanged) only ever moves forward.
        """
        ...

    def list_points(
        self,
        name: str,
        keys: Sequence[str] | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int = DEFAULT_POINTS,
    ) -> list[MonitorPoint]:
        """Return the monitor's points (of `keys`, when given) whose window ends between
        `since_ms` and `until_ms` inclusive, ordered by window end, then key."""
        ...

    def list_runs(
        self,
        name: str,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int = DEFAULT_RUNS,
    ) -> list[MonitorRun]:
        """Return the monitor's runs whose window ends between `since_ms` and `until_ms`
        inclusive, newest window end first."""
        ...

    def claim_due_monitors(
        self, now_ms: int, owner: str, lease_ms: int = LEASE_MS, limit: int = 10
    ) -> list[Monitor]:
        """Return up to `limit` scheduled monitors due at `now_ms`, each now leased to `owner`
        until `now_ms + lease_ms`.

        A monitor is due when its `next_run_ms` has come and no lease on it is live; of several
        callers racing for one monitor exactly one gets it. Oldest due first.
        """
        ...

    def release_monitor(self, name: str, owner: str, next_run_ms: int | None = None) -> bool:
        """Return True after ending `owner`'s lease and setting the next run (None: one
        `schedule_ms` from now), or False when `owner` does not hold the lease (it lapsed and
        another replica took it, or it was released already)."""
        ...
