"""Cron schedules: run a pipeline (or any callable) named by an entrypoint on a cron expression.

from perennia.automation.schedules import create_schedule

create_schedule("nightly-train", "my_project.pipelines:training", "0 3 * * *",
                params={"rows": 10_000})

The schedule is stored; `perennia server` (every replica, one firing each: a lease in the
store) or `perennia scheduler` runs it. Cron expressions are read by croniter in UTC: five
fields, or six with seconds last ("* * * * * */10" fires every ten seconds). The entrypoint is
resolved when the schedule is created, so a typo fails here, not at 3 a.m.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from perennia.automation.entrypoints import load_entrypoint, normalise_entrypoint
from perennia.clock import now_ms
from perennia.errors import InvalidInput

__all__ = [
    "Firing",
    "create_schedule",
    "delete_schedule",
    "get_schedule",
    "list_schedules",
    "next_fire_ms",
    "run_schedule_now",
    "update_schedule",
]


@dataclass(frozen=True, slots=True)
class Firing:
    """How one firing of a schedule went: its time, status, error and pipeline run."""

    name: str
    fire_ms: int
    status: str  # "FINISHED" or "FAILED"
    error: str | None = None
    run_id: str | None = None


def check_cron(cron: Any) -> str:
    """Return `cron` when croniter reads it and it fires at all, or raise InvalidInput."""
    from croniter import croniter

    example = "'0 3 * * *' (03:00 UTC daily) or '* * * * * */10' (every 10 seconds)"
    if not isinstance(cron, str) or not cron.strip():
        raise InvalidInput(f"cron must be a cron expression such as {example}, got {cron!r:.80}")
    cron = cron.strip()
    if not croniter.is_valid(cron):
        raise InvalidInput(
            f"cron {cron!r:.80} is not a cron expression croniter reads; e.g. {example}"
        )
    next_fire_ms(cron, now_ms())  # an expression that never fires ("0 0 30 2 *") fails here
    return cron


def next_fire_ms(cron: str, after_ms: int) -> int:
    """Return the first firing of `cron` strictly after `after_ms` (epoch milliseconds, UTC)."""
    from datetime import UTC, datetime

    from croniter import CroniterBadDateError, croniter

    start = datetime.fromtimestamp(after_ms / 1000, UTC)
    try:
        fire = croniter(cron, start).get_next(float)
    except (CroniterBadDateError, ValueError, KeyError) as error:
        raise InvalidInput(
            f"cron {cron!r:.80} never fires after {start:%Y-%m-%d}: {error}"
        ) from None
    fire_ms = int(round(fire * 1000))
    # croniter drops the milliseconds of `start`: a firing in that same second is not "after".
    return fire_ms if fire_ms > after_ms else next_fire_ms(cron, (after_ms // 1000 + 1) * 1000)


def _check_target(target: Any) -> str:
    """Return the entrypoint once it resolves to a Pipeline or a callable, else raise."""
    text = normalise_entrypoint(target, "target")
    found = load_entrypoint(text, "target")
    if not callable(found) and not callable(getattr(found, "run", None)):
        raise InvalidInput(
            f"target {text!r} is a {type(found).__name__}; name a Pipeline or a function"
        )
    return text


def create_schedule(
    name: str,
    target: str,
    cron: str,
    params: dict[str, Any] | None = None,
    *,
    description: str = "",
    enabled: bool = True,
) -> Any:
    """Return the stored Schedule running `target` (an entrypoint) with `params` on `cron`."""
    from perennia.data.session import acting_user, current_store
    from perennia.entities import Schedule

    cron = check_cron(cron)
    target = _check_target(target)
    if params is not None and not isinstance(params, dict):
        raise InvalidInput(f"params must be a dict of the target's arguments, got {params!r:.80}")
    draft = Schedule(
        name=name,
        target=target,
        cron=cron,
        params=dict(params or {}),
        enabled=enabled,
        description=description,
        next_run_ms=next_fire_ms(cron, now_ms()) if enabled is True else None,
    )
    return current_store().schedules.create_schedule(draft, username=acting_user())


def get_schedule(name: str) -> Any:
    """Return the stored Schedule `name` (NotFound when there is none)."""
    from perennia.data.session import current_store

    return current_store().schedules.get_schedule(name)


def list_schedules() -> list[Any]:
    """Return every stored schedule, by name."""
    from perennia.data.session import current_store

    store, found, token = current_store(), [], None
    while True:
        page = store.schedules.list_schedules(page_token=token)
        found += list(page.items)
        token = page.next_page_token
        if not token:
            return found


def update_schedule(
    name: str,
    *,
    cron: str | None = None,
    params: dict[str, Any] | None = None,
    enabled: bool | None = None,
    description: str | None = None,
) -> Any:
    """Return the schedule after changing the fields given; its next firing follows them."""
    from perennia.data.session import current_store

    store = current_store()
    old = store.schedules.get_schedule(name)
    changes: dict[str, Any] = {}
    if cron is not None:
        changes["cron"] = check_cron(cron)
    if params is not None:
        changes["params"] = params
    if enabled is not None:
        changes["enabled"] = enabled
    if description is not None:
        changes["description"] = description
    if "cron" in changes or "enabled" in changes:
        on = changes.get("enabled", old.enabled)
        cron_now = changes.get("cron", old.cron)
        changes["next_run_ms"] = next_fire_ms(cron_now, now_ms()) if on is True else None
    return store.schedules.update_schedule(name, **changes)


def delete_schedule(name: str) -> None:
    """Remove the schedule `name` (NotFound when there is none)."""
    from perennia.data.session import current_store

    current_store().schedules.delete_schedule(name)


def run_schedule_now(name: str) -> Firing:
    """Return how running the schedule's target here and now went (its timing is untouched).

    The stored last run describes scheduled firings only; this one is the caller's, recorded as
    a tracking run when the target is a pipeline.
    """
    from perennia.automation.scheduler import fire

    return fire(get_schedule(name), now_ms())
