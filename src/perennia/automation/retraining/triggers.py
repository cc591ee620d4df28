"""Which of a policy's triggers fired since the policy's cursor, and the cursor to store next.

The cursor holds, per trigger, the last thing it saw: a time for a schedule, a version number for
new data, an event id for an alert, a window end for a performance bound. Only what is newer
counts, and the cursor moves on whether or not a retraining starts, so an alert that fires
again inside the cooldown (or while a retraining is in flight) is seen once and dropped, not
queued. A trigger the policy has never checked counts what happened since the policy was
created.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from perennia.entities import RetrainingPolicy
from perennia.errors import NotFound

ALERT_SCAN = 100


@dataclass(frozen=True)
class Fired:
    """One trigger that fired: the trigger record a retraining starts with."""

    kind: str
    reason: str
    detail: dict[str, Any]

    def record(self) -> dict[str, Any]:
        """Return the trigger as stored on the retraining: kind, reason and what it saw."""
        return {"kind": self.kind, "reason": self.reason, **self.detail}


def cursor_key(trigger: dict[str, Any]) -> str:
    """Return the cursor's key of one trigger (stable across edits of the others)."""
    kind = trigger["kind"]
    if kind == "schedule":
        return f"schedule:{trigger['cron']}"
    if kind == "new_data":
        return f"new_data:{trigger['dataset']}"
    if kind == "alert":
        return f"alert:{trigger['monitor']}:{trigger.get('rule') or '*'}"
    return f"performance:{trigger['monitor']}:{trigger['metric']}"


def check_triggers(
    policy: RetrainingPolicy, store: Any, now_ms: int
) -> tuple[list[Fired], dict[str, Any]]:
    """Return the triggers that fired since the cursor, and the new cursor."""
    cursor = dict(policy.cursor)
    fired = []
    for trigger in policy.triggers:
        key = cursor_key(trigger)
        check = _CHECKS.get(trigger["kind"])
        if check is None:
            continue
        try:
            found, seen = check(trigger, cursor.get(key), policy, store, now_ms)
        except NotFound:
            # The monitor or dataset was deleted since the policy was set: nothing can fire.
            continue
        cursor[key] = seen
        if found is not None:
            fired.append(found)
    return fired, cursor


def _schedule(
    trigger: dict[str, Any], seen: Any, policy: RetrainingPolicy, store: Any, now_ms: int
) -> tuple[Fired | None, int]:
    from datetime import UTC, datetime

    from croniter import croniter

    since = int(seen) if seen is not None else policy.created_ms
    start = datetime.fromtimestamp(since / 1000, tz=UTC)
    due = croniter(trigger["cron"], start).get_next(datetime)
    due_ms = int(due.timestamp() * 1000)
    if due_ms > now_ms:
        return None, since
    reason = f"schedule {trigger['cron']!r} was due at {due.isoformat()}"
    return Fired("schedule", reason, {"cron": trigger["cron"], "due_ms": due_ms}), now_ms


def _new_data(
    trigger: dict[str, Any], seen: Any, policy: RetrainingPolicy, store: Any, now_ms: int
) -> tuple[Fired | None, int]:
    versions = store.datasets.versions(trigger["dataset"])  # newest first
    newest = versions[0].version
    if seen is None:
        fresh = [v for v in versions if v.created_at > policy.created_ms]
    else:
        fresh = [v for v in versions if v.version > int(seen)]
    if not fresh:
        return None, newest
    ref = fresh[0].ref
    reason = f"new data version {ref} registered"
    return Fired("new_data", reason, {"dataset": trigger["dataset"], "version": ref}), newest


def _alert(
    trigger: dict[str, Any], seen: Any, policy: RetrainingPolicy, store: Any, now_ms: int
) -> tuple[Fired | None, int]:
    monitor, rule = trigger["monitor"], trigger.get("rule")
    events = store.alerts.list_alert_events(
        monitor=monitor, rule=rule, status="firing", limit=ALERT_SCAN
    )
    if seen is None:
        fresh = [e for e in events if e.recorded_ms > policy.created_ms]
        newest = max((e.event_id for e in events), default=0)
    else:
        fresh = [e for e in events if e.event_id > int(seen)]
        newest = max([int(seen), *(e.event_id for e in events)])
    if not fresh:
        return None, newest
    event = max(fresh, key=lambda e: e.event_id)
    reason = f"alert {event.rule} of monitor {monitor} fired"
    detail = {"monitor": monitor, "rule": event.rule, "event_id": event.event_id}
    detail["alert_time_ms"] = event.time_ms
    return Fired("alert", reason, detail), newest


def _performance(
    trigger: dict[str, Any], seen: Any, policy: RetrainingPolicy, store: Any, now_ms: int
) -> tuple[Fired | None, int | None]:
    monitor, metric, bound = trigger["monitor"], trigger["metric"], float(trigger["below"])
    since = None if seen is None else int(seen) + 1
    points = [
        p
        for p in store.monitors.list_points(monitor, keys=[metric], since_ms=since)
        if seen is not None or p.computed_ms > policy.created_ms
    ]
    if not points:
        return None, seen
    newest = max(points, key=lambda p: p.window_end_ms)
    if newest.value is None or newest.value >= bound:
        return None, newest.window_end_ms
    reason = f"{metric} of monitor {monitor} is {newest.value:.4g}, below {bound:g}"
    detail = {"monitor": monitor, "metric": metric, "value": newest.value, "below": bound}
    detail["window_end_ms"] = newest.window_end_ms
    return Fired("performance", reason, detail), newest.window_end_ms


_CHECKS = {
    "schedule": _schedule,
    "new_data": _new_data,
    "alert": _alert,
    "performance": _performance,
}
