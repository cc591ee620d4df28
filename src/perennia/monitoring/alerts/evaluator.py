"""The alert state machine: an observation of a rule's value in, a new state and maybe an event out.

    inactive --holds--> pending --held for_ms--> firing --clear for keep_firing_ms--> inactive
        ^                  |                                                  (resolved event)
        +----- clears -----+

- With `for_ms == 0` a holding observation fires at once (no visible pending step).
- An alert that resolved at R cannot fire before R + `cooldown_ms`: while cooling down a
  holding condition waits as pending and fires on the first holding observation after the
  cooldown has passed (and `for_ms` has been met), so flapping values do not page every time.
- A firing alert emits exactly one firing event and, later, exactly one resolved event;
  pending alerts emit nothing (as in Prometheus, which only sends firing and resolved alerts).
- A value of None (or NaN) means "not computable" (too few rows, no labels yet): it changes
  nothing, neither starting nor clearing the condition, nor advancing any timer.
- Time only moves forward: an observation older than the state's newest one is refused.

The state is a plain frozen dataclass: keep it wherever the rule lives and pass it back in.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from dataclasses import dataclass, replace

from perennia.errors import InvalidInput
from perennia.monitoring.alerts.checks import check_observed
from perennia.monitoring.alerts.events import AlertEvent
from perennia.monitoring.alerts.rules import AlertRule
from perennia.monitoring.alerts.state import AlertState


@dataclass(frozen=True)
class Evaluation:
    """What one observation did: the rule's new state and the event it emitted, if any."""

    state: AlertState
    event: AlertEvent | None = None


def evaluate(
    rule: AlertRule, state: AlertState | None, value: float | None, time_ms: int
) -> Evaluation:
    """Return the rule's new state and its event (or None) after observing `value` at `time_ms`."""
    current = _own_state(rule, state)
    if isinstance(time_ms, bool) or not isinstance(time_ms, numbers.Integral) or time_ms < 0:
        raise InvalidInput(f"time_ms must be a non-negative int of milliseconds, got {time_ms!r}")
    time_ms = int(time_ms)
    if current.last_time_ms is not None and time_ms < current.last_time_ms:
        raise InvalidInput(
            f"time_ms {time_ms} is earlier than the last observation of rule {rule.name!r} "
            f"({current.last_time_ms}); observations must arrive in time order"
        )
    observed = check_observed(value)
    if observed is None:
        return Evaluation(current)
    holds = rule.holds(observed)
    current = replace(current, last_time_ms=time_ms)
    if current.status == "firing":
        return _while_firing(rule, current, observed, holds, time_ms)
    if not holds:
        return Evaluation(replace(current, status="inactive", since_ms=None))
    since = current.since_ms if current.status == "pending" else time_ms
    assert since is not None  # a pending state always has since_ms (checked by AlertState)
    cooling = (
        current.last_resolved_ms is not None
        and time_ms < current.last_resolved_ms + rule.cooldown_ms
    )
    if time_ms - since < rule.for_ms or cooling:
        return Evaluation(replace(current, status="pending", since_ms=since))
    fired = replace(current, status="firing", since_ms=time_ms)
    return Evaluation(fired, _event(rule, current, "firing", observed, time_ms, None))


def replay(
    rule: AlertRule,
    observations: Iterable[tuple[int, float | None]],
    state: AlertState | None = None,
) -> tuple[AlertState, list[AlertEvent]]:
    """Return the final state and every event after feeding `(time_ms, value)` pairs in order."""
    events: list[AlertEvent] = []
    current = _own_state(rule, state)
    for time_ms, value in observations:
        outcome = evaluate(rule, current, value, time_ms)
        current = outcome.state
        if outcome.event is not None:
            events.append(outcome.event)
    return current, events


def _own_state(rule: AlertRule, state: AlertState | None) -> AlertState:
    if state is None:
        return AlertState(fingerprint=rule.fingerprint)
    if not isinstance(state, AlertState):
        raise InvalidInput(f"state must be an AlertState or None, got {type(state).__name__}")
    if not state.fingerprint:
        return replace(state, fingerprint=rule.fingerprint)
    if state.fingerprint != rule.fingerprint:
        # Changing a rule's name or labels makes it a different alert to every receiver;
        # carrying the old state over would resolve an alert nobody saw fire.
        raise InvalidInput(
            f"state has fingerprint {state.fingerprint}, but rule {rule.name!r} has "
            f"{rule.fingerprint}: its name or labels changed; start again from AlertState()"
        )
    return state


def _while_firing(
    rule: AlertRule, state: AlertState, value: float, holds: bool, time_ms: int
) -> Evaluation:
    if holds:
        return Evaluation(replace(state, cleared_ms=None))
    cleared = time_ms if state.cleared_ms is None else state.cleared_ms
    if time_ms - cleared < rule.keep_firing_ms:
        return Evaluation(replace(state, cleared_ms=cleared))
    resolved = AlertState(
        fingerprint=state.fingerprint, last_resolved_ms=time_ms, last_time_ms=time_ms
    )
    assert state.since_ms is not None
    return Evaluation(resolved, _event(rule, state, "resolved", value, state.since_ms, time_ms))


def _event(
    rule: AlertRule,
    state: AlertState,
    status: str,
    value: float,
    starts_at_ms: int,
    ends_at_ms: int | None,
) -> AlertEvent:
    return AlertEvent(
        rule=rule.name,
        status=status,
        value=value,
        threshold=rule.threshold,
        op=rule.op,
        value_key=rule.value,
        starts_at_ms=starts_at_ms,
        ends_at_ms=ends_at_ms,
        fingerprint=state.fingerprint,
        labels=rule.alert_labels,
        annotations=dict(rule.annotations),
    )
