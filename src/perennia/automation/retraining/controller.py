"""Driving retrainings: start one by hand, move one on, wait for one, and the periodic check.

`check_due_policies` is what the server's retrainings scheduler (or `perennia scheduler`) calls
every few seconds. Of the replicas calling it at once, each policy is claimed by exactly one
(a lease in the store); that one reads the triggers since the policy's cursor, starts a
retraining when one fired (the store's `start_retraining` says no while another is in flight or
inside the cooldown), moves the retraining in flight on until it has to wait, and releases the
policy with its next check time and the new cursor.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from perennia.automation.retraining.flow import step
from perennia.automation.retraining.moves import Superseded, move
from perennia.automation.retraining.promotion import finish
from perennia.automation.retraining.triggers import check_triggers
from perennia.clock import now_ms as _now_ms
from perennia.entities import Retraining, RetrainingEvent
from perennia.errors import NotFound, StoreUnavailable

log = logging.getLogger(__name__)
CHECK_INTERVAL_MS = 60_000  # an idle policy's triggers are read once a minute
IN_FLIGHT_INTERVAL_MS = 5_000  # a retraining waiting on a canary or a reviewer is read sooner
MAX_STEPS = 20  # one check moves a retraining on at most this many states


def _store() -> Any:
    from perennia.data.session import current_store

    return current_store()


def trigger(model_name: str, reason: str = "manual", force: bool = False) -> Retraining | None:
    """Return a new retraining of `model_name`, or None when one is in flight, it cools down or
    the policy is disabled.

    `force` skips the cooldown and a disabled policy (never the one-in-flight guard). NotFound
    without a policy.
    """
    from perennia.data.session import acting_user

    retrainings = _store().retraining
    retrainings.get_retraining_policy(model_name)  # NotFound, named, before anything starts
    record = {"kind": "manual", "reason": reason, "by": acting_user()}
    return retrainings.start_retraining(model_name, record, _now_ms(), force=force)


def advance(retraining_id: int) -> Retraining:
    """Return the retraining after moving it on by one state (unchanged while it must wait)."""
    return _advance(_store(), retraining_id)


def run_until_settled(
    retraining_id: int, timeout_s: float = 600.0, poll_s: float = 1.0
) -> Retraining:
    """Return the retraining once it has ended or waits for a reviewer, or at the timeout.

    A canary is waited for (the serving replicas' rollout controller decides it); an approval
    request is not, since a person decides it: advance again after they have.
    """
    store = _store()
    deadline = time.monotonic() + timeout_s
    while True:
        before = store.retraining.get_retraining(retraining_id)
        after = _advance(store, retraining_id)
        if not after.active or after.state == "awaiting_approval":
            return after
        if time.monotonic() >= deadline:
            return after
        if (after.state, after.updated_ms) == (before.state, before.updated_ms):
            time.sleep(poll_s)


def check_due_policies(store: Any, owner: str, now_ms: int | None = None) -> list[str]:
    """Return the models whose policies this call checked (claimed, triggered, advanced, released)."""
    now = _now_ms() if now_ms is None else now_ms
    checked = []
    for policy in store.retraining.claim_due_policies(now, owner):
        cursor, busy = None, False
        try:
            cursor, busy = _check(store, policy, now)
        except StoreUnavailable:
            raise
        except Exception:  # noqa: BLE001 - one broken policy must not stop the others
            log.exception("retraining policy of %s: check failed", policy.model_name)
        finally:
            wait = IN_FLIGHT_INTERVAL_MS if busy else CHECK_INTERVAL_MS
            store.retraining.release_policy(policy.model_name, owner, _now_ms() + wait, cursor)
        checked.append(policy.model_name)
    return checked


def _check(store: Any, policy: Any, now: int) -> tuple[dict[str, Any], bool]:
    """Return the policy's new cursor and whether a retraining is in flight after the check."""
    fired, cursor = check_triggers(policy, store, now)
    in_flight = policy.in_flight
    if fired and in_flight is None:
        record = fired[0].record()
        if len(fired) > 1:
            record["also"] = [f.reason for f in fired[1:]]
        started = store.retraining.start_retraining(policy.model_name, record, now)
        if started is None:
            log.info("%s: %s, but the cooldown holds", policy.model_name, fired[0].reason)
        else:
            log.info("%s: retraining %s started: %s", policy.model_name, started.id, record)
            in_flight = started.id
    elif fired:
        log.info("%s: %s while retraining %s runs", policy.model_name, fired[0].reason, in_flight)
    if in_flight is None:
        return cursor, False
    current = None
    for _ in range(MAX_STEPS):
        previous = current
        current = _advance(store, in_flight)
        if not current.active or (previous is not None and current == previous):
            break
    return cursor, current is not None and current.active


def _advance(store: Any, retraining_id: int) -> Retraining:
    """Return the retraining moved on by one state; an unexpected error ends it as failed."""
    retrainings = store.retraining
    retraining = retrainings.get_retraining(retraining_id)
    if not retraining.active:
        return retraining
    try:
        policy = retrainings.get_retraining_policy(retraining.model_name)
    except NotFound:
        return _cancel(store, retraining)
    try:
        return step(retraining, policy, store)
    except Superseded as exc:  # another process moved it on: nothing more to do here
        log.info("retraining %s: left to another process: %s", retraining.id, exc)
        return retrainings.get_retraining(retraining.id)
    except StoreUnavailable:
        raise
    except Exception as exc:  # noqa: BLE001 - every terminal state says why, bugs included
        log.exception("retraining %s: step from %s failed", retraining.id, retraining.state)
        return _fail(store, retraining, policy, exc)


def _cancel(store: Any, retraining: Retraining) -> Retraining:
    """Return the retraining cancelled because its policy is gone."""
    try:
        return move(
            store,
            retraining,
            "cancelled",
            "the retraining policy was deleted",
            reason=f"the retraining policy of {retraining.model_name} was deleted",
        )
    except Superseded:
        return store.retraining.get_retraining(retraining.id)


def _fail(store: Any, read: Retraining, policy: Any, exc: Exception) -> Retraining:
    """Return the retraining ended as failed by `exc`, raised by a step from `read`'s state.

    The step may have moved it on before failing (the alias included): it is read again, and
    `finish` moves @alias back when the approval had moved it.
    """
    current = store.retraining.get_retraining(read.id)
    if not current.active:  # the step had ended it already
        return current
    try:
        return finish(
            store,
            current,
            policy,
            "failed",
            f"unexpected error while {read.state}",
            f"{read.state}: {type(exc).__name__}: {exc}",
        )
    except Superseded:
        return store.retraining.get_retraining(read.id)


def get_retraining(retraining_id: int) -> Retraining:
    """Return one retraining (NotFound when there is none)."""
    return _store().retraining.get_retraining(retraining_id)


def list_retrainings(model_name: str | None = None, limit: int = 100) -> list[Retraining]:
    """Return retrainings (of one model, when given), newest first."""
    return _store().retraining.list_retrainings(model_name, limit)


def retraining_events(retraining_id: int) -> list[RetrainingEvent]:
    """Return the events of one retraining, oldest first."""
    return list(_store().retraining.list_retraining_events(retraining_id))
