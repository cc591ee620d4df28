"""The automation scheduler: fires due cron schedules, once each across every replica.

Each `perennia server` process (and `perennia scheduler`) runs an `AutomationScheduler` thread.
Every `interval` seconds it claims the due schedules one at a time (a lease in the store, so of
the replicas racing for one firing exactly one gets it; a replica that dies mid-run loses the
lease when it lapses and another takes the firing over), runs the target right after its claim
(so a lease covers one firing, never a queue of them), and releases it with the outcome and the
next firing: the first time of the schedule's current cron after both the firing that was due
and now (a cron changed while the target ran holds). So a
firing missed while no scheduler ran (or while a long run held the lease) runs once, late, and
not once per missed period. It also runs extra periodic jobs, each `job(store, owner)`, such as
the retraining loop's policy checks.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from perennia.automation.schedules import Firing, next_fire_ms
from perennia.clock import now_ms
from perennia.entities import Schedule

log = logging.getLogger(__name__)
LEASE_MS = 15 * 60 * 1000
MAX_ERROR = 4_000

Job = Callable[[Any, str], Any]
_FIRE_MS: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "perennia_fire_ms", default=None
)


def current_fire_ms() -> int | None:
    """Return the time of the firing being run (epoch ms), or None outside a firing.

    A target reads it to know which firing it is (the due time, not the late wall clock).
    """
    return _FIRE_MS.get()


@contextmanager
def _firing(fire_ms: int) -> Iterator[None]:
    token = _FIRE_MS.set(fire_ms)
    try:
        yield
    finally:
        _FIRE_MS.reset(token)


def _is_pipeline(target: Any) -> bool:
    try:
        from perennia.automation.pipeline import Pipeline
    except ImportError:  # the pipeline package is optional to this module's tests
        return False
    return isinstance(target, Pipeline)


def _outcome(name: str, fire_ms: int, result: Any) -> Firing:
    """Return the Firing a pipeline run (or a plain callable's return) stands for."""
    status = getattr(result, "status", None)
    run_id = getattr(result, "run_id", None)
    if status is None:  # a plain callable returned; raising is how it fails
        return Firing(name, fire_ms, "FINISHED", run_id=run_id if isinstance(run_id, str) else None)
    error = getattr(result, "error", None)
    if status != "FINISHED":
        error = error or f"the pipeline ended {status}"
    return Firing(
        name,
        fire_ms,
        "FINISHED" if status == "FINISHED" else "FAILED",
        error and error[:MAX_ERROR],
        run_id,
    )


def fire(schedule: Schedule, fire_ms: int) -> Firing:
    """Return how running `schedule`'s target once, as its firing at `fire_ms`, went.

    A Pipeline runs as `target.run(params=schedule.params)`; a plain callable is called as
    `target(**schedule.params)`. Failures are caught and reported, never raised.
    """
    from perennia.automation.entrypoints import load_entrypoint

    try:
        target = load_entrypoint(schedule.target, "target")
        with _firing(fire_ms):
            if _is_pipeline(target) or (not callable(target) and hasattr(target, "run")):
                result = target.run(params=dict(schedule.params))
            else:
                result = target(**schedule.params)
    except Exception as error:  # noqa: BLE001 - the outcome records any failure of the target
        text = f"{type(error).__name__}: {error}"
        return Firing(schedule.name, fire_ms, "FAILED", text[:MAX_ERROR])
    return _outcome(schedule.name, fire_ms, result)


def _reread(schedules: Any, schedule: Schedule) -> Schedule:
    """Return `schedule` as stored now (the one given when it cannot be read)."""
    try:
        return schedules.get_schedule(schedule.name)
    except Exception:  # noqa: BLE001 - deleted or unreachable: the release says which
        return schedule


def _following(schedule: Schedule, after: int) -> tuple[int | None, str | None]:
    """Return the schedule's first firing after `after` (None when disabled), and why there
    is none when its cron cannot fire (None when it can)."""
    if not schedule.enabled:
        return None, None
    try:
        return next_fire_ms(schedule.cron, after), None
    except Exception as error:  # noqa: BLE001 - e.g. a cron an older version let through
        reason = f"{type(error).__name__}: {error}"[:500]
        return None, (
            f"cron {schedule.cron!r:.80} cannot fire ({reason}); the schedule is disabled: give "
            f"it a cron croniter reads with update_schedule({schedule.name!r}, cron=..., "
            "enabled=True)"
        )


class AutomationScheduler:
    """A daemon thread firing due schedules (and running `jobs`) every `interval` seconds."""

    def __init__(
        self,
        store: Any,
        interval: float = 5.0,
        jobs: Sequence[Job] = (),
        *,
        owner: str | None = None,
        lease_ms: int = LEASE_MS,
        settings: Any = None,
    ) -> None:
        self.store = store
        # A server's settings: its targets' tracking runs go to its own store and artifacts.
        self.settings = settings
        self.interval = interval
        self.jobs = list(jobs)
        self.owner = owner or f"automation-{uuid.uuid4().hex[:12]}"
        self.lease_ms = lease_ms
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="perennia-automation", daemon=True)

    def start(self) -> AutomationScheduler:
        """Start the thread; return the scheduler."""
        if self.settings is not None:
            from perennia.tracking import fluent

            # `perennia server --backend-store-uri` sets no environment; without this a
            # pipeline fired here would log to the working folder's embedded store instead.
            fluent.set_tracking_uri(self.settings.resolved_tracking_uri())
            fluent.set_artifacts_uri(self.settings.resolved_artifacts_uri())
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the thread to stop after its current firing; wait up to `timeout` seconds."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def run_due(self, now: int | None = None) -> list[Firing]:
        """Return the firings of the due schedules this scheduler claimed and ran, once.

        One schedule is claimed at a time and fired right after its claim, so each lease covers
        one firing, not a queue of them. The pass ends when none is due, when the scheduler is
        stopping, or when a schedule fired in this pass is due again (it waits for the next).
        `now` (epoch ms) is when claims and next firings are reckoned from; the clock when None.
        """
        firings: list[Firing] = []
        fired: set[str] = set()
        while not self._stop.is_set():
            at = now_ms() if now is None else now
            claimed = self.store.schedules.claim_due_schedules(at, self.owner, self.lease_ms, 1)
            if not claimed:
                break
            (schedule,) = claimed
            if schedule.name in fired:  # a fast cron due again: hand it back for the next pass
                self.store.schedules.release_schedule(
                    schedule.name, self.owner, schedule.next_run_ms
                )
                break
            fired.add(schedule.name)
            due = schedule.next_run_ms if schedule.next_run_ms is not None else at
            firing = fire(schedule, due)
            self._release(schedule, firing, max(due, now_ms() if now is None else now))
            firings.append(firing)
        return firings

    def _release(self, claimed: Schedule, firing: Firing, after: int) -> None:
        """End the lease on `claimed` with `firing`'s outcome and the first firing after `after`.

        The next firing follows the schedule as it is now (its cron may have changed while the
        target ran), and a cron croniter no longer reads disables the schedule, saying why.
        """
        schedules, name = self.store.schedules, claimed.name
        current = _reread(schedules, claimed)
        following, broken = _following(current, after)
        error = firing.error
        if broken is not None:
            error = broken if error is None else f"{error[: MAX_ERROR - len(broken) - 2]}; {broken}"
        released = schedules.release_schedule(
            name,
            self.owner,
            following,
            ran_ms=firing.fire_ms,
            status=firing.status,
            error=error,
            run_id=firing.run_id,
        )
        if not released:
            log.warning("schedule %s: the lease lapsed while it ran", name)
            return
        if broken is not None:
            log.error("schedule %s: %s", name, broken)
            schedules.update_schedule(name, enabled=False, next_run_ms=None)
            return
        # A change committed between the re-read and the release: follow it too.
        latest = _reread(schedules, current)
        changed = (latest.cron, latest.enabled) != (current.cron, current.enabled)
        if changed and latest.next_run_ms == following:
            schedules.update_schedule(name, next_run_ms=_following(latest, after)[0])

    def run_jobs(self) -> None:
        """Run each extra job once, `job(store, owner)`; a failing job is logged, not raised."""
        for job in self.jobs:
            try:
                job(self.store, self.owner)
            except Exception:  # noqa: BLE001 - one broken job must not stop the others
                log.exception("automation job %r failed; it runs again next time", job)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_due()
            except Exception:  # noqa: BLE001 - a database hiccup must not end the thread
                log.exception("the automation scheduler could not claim due schedules")
            self.run_jobs()
            self._stop.wait(self.interval)
