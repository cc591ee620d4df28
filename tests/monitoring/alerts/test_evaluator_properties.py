"""Properties of the alert state machine over arbitrary observation series (hypothesis)."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from perennia.monitoring.alerts import evaluate
from tests.monitoring.alerts.conftest import make_rule

durations = st.sampled_from([0, 1, 2, 3, 5, 8]).map(lambda steps: steps * 1_000)
values = st.one_of(st.none(), st.just(math.nan), st.sampled_from([0.1, 0.5, 0.9, math.inf]))
series = st.lists(
    st.tuples(st.integers(min_value=0, max_value=3_000), values), min_size=1, max_size=60
).map(lambda steps: _timed(steps))


def _timed(steps: list[tuple[int, float | None]]) -> list[tuple[int, float | None]]:
    now, out = 0, []
    for gap, value in steps:
        now += gap
        out.append((now, value))
    return out


def _run(rule, observations):
    """Return, per observation, (time, value, state after it, event or None)."""
    state, trace = None, []
    for time_ms, value in observations:
        outcome = evaluate(rule, state, value, time_ms)
        state = outcome.state
        trace.append((time_ms, value, state, outcome.event))
    return trace


@settings(max_examples=300, deadline=None)
@given(for_ms=durations, keep=durations, cooldown=durations, observations=series)
def test_events_alternate_and_respect_every_timer(for_ms, keep, cooldown, observations):
    rule = make_rule(for_ms=for_ms, keep_firing_ms=keep, cooldown_ms=cooldown)
    trace = _run(rule, observations)
    # Indexes, not times: two observations may share a millisecond and disagree.
    events = [(i, e) for i, (_, _, _, e) in enumerate(trace) if e is not None]
    seen = [
        (i, t, v) for i, (t, v, _, _) in enumerate(trace) if v is not None and not math.isnan(v)
    ]

    # Alternating, starting with a firing: never two firings (or two resolves) in a row.
    assert [e.status for _, e in events] == ["firing", "resolved"] * (len(events) // 2) + (
        ["firing"] if len(events) % 2 else []
    )
    for index, (at, event) in enumerate(events):
        time_ms = trace[at][0]
        if event.firing:
            assert event.starts_at_ms == time_ms and rule.holds(event.value)
            # The condition held at every computable observation for at least for_ms.
            assert any(
                time_ms - start >= for_ms
                and all(rule.holds(v) for i, _, v in seen if first <= i <= at)
                for first, start, _ in seen
            )
            if index > 0:  # no re-firing inside the cooldown after the previous resolve
                assert time_ms >= events[index - 1][1].ends_at_ms + cooldown
        else:
            fired_at, fired = events[index - 1]
            assert event.starts_at_ms == fired.starts_at_ms <= event.ends_at_ms == time_ms
            assert event.fingerprint == fired.fingerprint == rule.fingerprint
            assert not rule.holds(event.value)
            # The condition was clear at every computable observation for keep_firing_ms.
            assert any(
                time_ms - start >= keep
                and all(not rule.holds(v) for i, _, v in seen if first <= i <= at)
                for first, start, _ in seen
                if first > fired_at
            )
    final = trace[-1][2]
    assert (final.status == "firing") == bool(events and events[-1][1].firing)


@settings(max_examples=300, deadline=None)
@given(for_ms=durations, keep=durations, cooldown=durations, observations=series)
def test_an_alert_fires_and_resolves_as_soon_as_its_timers_allow(
    for_ms, keep, cooldown, observations
):
    rule = make_rule(for_ms=for_ms, keep_firing_ms=keep, cooldown_ms=cooldown)
    trace = _run(rule, observations)
    seen: list[tuple[int, bool]] = []  # (time, holds) of computable observations so far
    for time_ms, value, state, event in trace:
        if value is None or math.isnan(value):
            continue
        seen.append((time_ms, rule.holds(value)))
        stretch = time_ms  # when the current run of equal outcomes began
        for t, holds in reversed(seen):
            if holds != seen[-1][1]:
                break
            stretch = t
        resolved = state.last_resolved_ms
        cooling = resolved is not None and time_ms < resolved + cooldown
        if seen[-1][1] and time_ms - stretch >= for_ms and not cooling:
            assert state.status == "firing", (time_ms, state)
        if not seen[-1][1] and time_ms - stretch >= keep:
            assert state.status != "firing", (time_ms, state)
        if event is not None and not event.firing:
            assert state.status == "inactive" and resolved == time_ms
