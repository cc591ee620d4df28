"""The automation parts: cron schedules (`store.schedules`), and retraining policies, the
retrainings they start and their events (`store.retraining`).

Schedules and policies are claimed with leases, the way monitors are: of the server replicas
(or `perennia scheduler` processes) racing for a due schedule or a policy to check, exactly one
gets it until it releases it or the lease lapses. A retraining starts only through
`start_retraining`, a compare-and-set on its policy, so at most one is in flight per model and a
trigger inside the cooldown starts nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from perennia.entities import Page, Retraining, RetrainingEvent, RetrainingPolicy, Schedule
from perennia.store.limits import DEFAULT_SEARCH_MAX_RESULTS
from perennia.store.protocols.monitors import UNCHANGED, Unchanged

LEASE_MS = 15 * 60 * 1000
DEFAULT_RETRAININGS = 100


class ScheduleStore(Protocol):
    """Cron schedules and their leases (`store.schedules`)."""

    def create_schedule(self, schedule: Schedule, username: str | None = None) -> Schedule:
        """Store a new schedule and return it as stored (AlreadyExists when the name is taken).

        The caller computes `next_run_ms` from the cron expression (the store does not parse
        cron); the times, the creator, the last run and the lease are the store's to set.
        """
        ...

    def get_schedule(self, name: str) -> Schedule:
        """Return the schedule called `name`, or raise NotFound."""
        ...

    def list_schedules(
        self, max_results: int = DEFAULT_SEARCH_MAX_RESULTS, page_token: str | None = None
    ) -> Page[Schedule]:
        """Return one page of schedules, by name."""
        ...

    def update_schedule(
        self,
        name: str,
        *,
        cron: str | Unchanged = UNCHANGED,
        params: dict[str, Any] | Unchanged = UNCHANGED,
        enabled: bool | Unchanged = UNCHANGED,
        description: str | Unchanged = UNCHANGED,
        next_run_ms: int | None | Unchanged = UNCHANGED,
    ) -> Schedule:
        """Return the schedule after changing the fields given (NotFound if there is none)."""
        ...

    def delete_schedule(self, name: str) -> None:
        """Remove the schedule (NotFound if there is none)."""
        ...

    def claim_due_schedules(
        self, now_ms: int, owner: str, lease_ms: int = LEASE_MS, limit: int = 10
    ) -> list[Schedule]:
        """Return up to `limit` enabled schedules due at `now_ms`, each now leased to `owner`
        until `now_ms + lease_ms`; of several callers racing for one, exactly one gets it."""
        ...

    def release_schedule(
        self,
        name: str,
        owner: str,
        next_run_ms: int | None,
        *,
        ran_ms: int | None = None,
        status: str | None = None,
        error: str | None = None,
        run_id: str | None = None,
    ) -> bool:
        """Return True after ending `owner`'s lease, setting the next firing and (when `ran_ms`
        is given) the last run's time, status, error and run id; False when `owner` does not
        hold the lease any more."""
        ...


class RetrainingStore(Protocol):
    """Retraining policies with their leases, retrainings and their events (`store.retraining`)."""

    def set_retraining_policy(
        self, policy: RetrainingPolicy, username: str | None = None
    ) -> RetrainingPolicy:
        """Create or replace the policy of `policy.model_name` and return it as stored.

        Replacing keeps what the store sets (cursor, in-flight retraining, last trigger, lease);
        a new policy is first checked at once.
        """
        ...

    def get_retraining_policy(self, model_name: str) -> RetrainingPolicy:
        """Return the retraining policy of `model_name`, or raise NotFound."""
        ...

    def list_retraining_policies(
        self, max_results: int = DEFAULT_SEARCH_MAX_RESULTS, page_token: str | None = None
    ) -> Page[RetrainingPolicy]:
        """Return one page of retraining policies, by model name."""
        ...

    def delete_retraining_policy(self, model_name: str) -> None:
        """Remove the policy (NotFound if there is none); its retrainings stay as history."""
        ...

    def claim_due_policies(
        self, now_ms: int, owner: str, lease_ms: int = LEASE_MS, limit: int = 10
    ) -> list[RetrainingPolicy]:
        """Return up to `limit` enabled policies whose `next_check_ms` has come, each now leased
        to `owner`; of several callers racing for one, exactly one gets it."""
        ...

    def release_policy(
        self,
        model_name: str,
        owner: str,
        next_check_ms: int,
        cursor: dict[str, Any] | None = None,
    ) -> bool:
        """Return True after ending `owner`'s lease, setting the next check and (when given)
        the cursor; False when `owner` does not hold the lease any more."""
        ...

    def start_retraining(
        self, model_name: str, trigger: dict[str, Any], now_ms: int, *, force: bool = False
    ) -> Retraining | None:
        """Return a new retraining in state "triggered", or None when the policy's guard says no.

        Atomic on the policy row: it starts only when no retraining of the model is in flight
        and (unless `force`) the policy is enabled and the cooldown since the last trigger has
        passed; it then becomes the policy's `in_flight` and `now_ms` its `last_triggered_ms`.
        `force` overrides the cooldown and a disabled policy, never the one in flight. NotFound
        without a policy.
        """
        ...

    def update_retraining(
        self,
        retraining_id: int,
        state: str,
        message: str,
        *,
        pipeline_run_id: str | None = None,
        challenger_version: int | None = None,
        champion_version: int | None = None,
        approval_request_id: int | None = None,
        deployment: str | None = None,
        reason: str | None = None,
        detail: dict[str, Any] | None = None,
        expected_state: str | None = None,
        expected_updated_ms: int | None = None,
    ) -> Retraining:
        """Return the retraining moved to `state`, with one event recorded (`message`, `detail`).

        Fields given (not None) are set; `detail` is merged into the stored detail. Moving to a
        terminal state sets `finished_ms` and frees the policy's `in_flight`; a terminal
        retraining does not move again (Conflict). With `expected_state` the move is a
        compare-and-set: it happens only if the stored state is that one, else Conflict
        (another process moved it first), so of callers racing from one state one moves it.
        With `expected_updated_ms` it also happens only if nothing moved the retraining since it
        was read (`updated_ms` grows with every move), which guards moves that keep the state.
        """
        ...

    def get_retraining(self, retraining_id: int) -> Retraining:
        """Return one retraining, or raise NotFound."""
        ...

    def list_retrainings(
        self, model_name: str | None = None, limit: int = DEFAULT_RETRAININGS
    ) -> list[Retraining]:
        """Return retrainings (of one model, when given), newest first."""
        ...

    def list_retraining_events(self, retraining_id: int) -> Sequence[RetrainingEvent]:
        """Return the events of one retraining, oldest first (NotFound if there is none)."""
        ...
