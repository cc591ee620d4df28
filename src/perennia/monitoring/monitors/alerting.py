"""A monitor's alert rules, applied to each newly computed window; events stored and sent.

A monitor's config may hold `alerts` (a list of `AlertRule.to_dict()` mappings) and `channels`
(a list of `channel_from_config` mappings: webhook, email, log). After a run, each rule sees the
windows in time order, from its stored state: `evaluate` moves it through pending, firing and
resolved with its for-duration, keep-firing time and cooldown. The new states and the events
are stored in one transaction (a re-run never stores an event twice), then each event goes to
every channel and to the in-process `BUS`, which the retraining loop subscribes to. Windows
re-evaluated only to catch late labels are older than a rule's last observation and are not
seen again by it: alerts follow time forward.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from perennia.clock import now_ms
from perennia.config import CHANNEL_SECRET_PREFIX, secret_from_env
from perennia.errors import InvalidInput
from perennia.monitoring.alerts.bus import AlertBus
from perennia.monitoring.alerts.channels.config import channel_from_config
from perennia.monitoring.alerts.evaluator import evaluate
from perennia.monitoring.alerts.events import AlertEvent
from perennia.monitoring.alerts.rules import AlertRule
from perennia.monitoring.alerts.state import AlertState
from perennia.monitoring.monitors.window import WindowValues

log = logging.getLogger(__name__)
BUS = AlertBus()


SECRET_KEYS = {"secret_env": "secret", "password_env": "password"}


def check_channels(channels: Any) -> list[dict[str, Any]]:
    """Return channel configs that build, refusing secrets written in them (use *_env names)."""
    if not isinstance(channels, Sequence) or isinstance(channels, (str, bytes)):
        raise InvalidInput("channels must be a list of channel configs such as {'type': 'log'}")
    checked = []
    for config in channels:
        if not isinstance(config, dict):
            raise InvalidInput(f"a channel config must be a mapping, got {config!r:.80}")
        for plain in SECRET_KEYS.values():
            if plain in config:
                raise InvalidInput(
                    f"channel {plain!r} would be stored where every reader sees it; give "
                    f"{plain}_env, the name of an environment variable of the server, instead"
                )
        for key in SECRET_KEYS:
            name = config.get(key)
            if key in config and not (
                isinstance(name, str) and name.startswith(CHANNEL_SECRET_PREFIX)
            ):
                raise InvalidInput(
                    f"{key} must name a variable {CHANNEL_SECRET_PREFIX}..., got {name!r:.80}"
                )
        # Built once with stand-in secrets, so a bad URL or address fails now.
        channel_from_config(_with_secrets(config, lambda _: "x" * 32))
        checked.append(dict(config))
    return checked


def monitor_rules(config: dict[str, Any]) -> list[AlertRule]:
    """Return the alert rules of a monitor's config (InvalidInput naming a bad one)."""
    return [AlertRule.from_dict(item) for item in config.get("alerts", [])]


def apply_alerts(store: Any, monitor: Any, windows: Sequence[WindowValues]) -> list[AlertEvent]:
    """Return the events the monitor's rules raised over `windows`, after storing and sending them."""
    from perennia.entities.monitoring import AlertEventRecord, AlertStateRecord

    rules = monitor_rules(monitor.config)
    if not rules or not windows:
        return []
    stored = store.alerts.get_alert_states(monitor.name)
    states = {
        rule.name: AlertState.from_dict(stored[rule.name].state) if rule.name in stored else None
        for rule in rules
    }
    events: list[AlertEvent] = []
    for window in sorted(windows, key=lambda w: w.end_ms):
        if window.status == "failed":
            continue
        for rule in rules:
            state = states[rule.name]
            if (
                state is not None
                and state.last_time_ms is not None
                and window.end_ms <= state.last_time_ms
            ):
                continue
            step = evaluate(rule, state, rule.pick(window.values), window.end_ms)
            states[rule.name] = step.state
            if step.event is not None:
                events.append(step.event)
    now = now_ms()
    records = [
        AlertStateRecord(monitor.name, name, state.to_dict(), now)
        for name, state in states.items()
        if state is not None
    ]
    stored_events = [
        AlertEventRecord(
            event_id=0,
            monitor=monitor.name,
            rule=event.rule,
            status=event.status,
            fingerprint=event.fingerprint,
            time_ms=event.starts_at_ms if event.status == "firing" else event.ends_at_ms,
            event=event.to_dict(),
            recorded_ms=now,
        )
        for event in events
    ]
    stored = store.alerts.record_alert_step(monitor.name, records, stored_events)
    # The store keeps an event once: one already there (another run of this monitor got there
    # first) comes back with its earlier time and is not sent again.
    fresh = {(r.rule, r.fingerprint, r.status, r.time_ms) for r in stored if r.recorded_ms >= now}
    events = [e for e, r in zip(events, stored_events, strict=True) if _key(r) in fresh]
    _send(monitor, events)
    return events


def _key(record: Any) -> tuple[str, str, str, int]:
    return (record.rule, record.fingerprint, record.status, record.time_ms)


def _send(monitor: Any, events: list[AlertEvent]) -> None:
    if not events:
        return
    for config in monitor.config.get("channels", []):
        try:
            result = channel_from_config(_with_secrets(config, secret_from_env)).send(events)
            if not result.ok:
                log.warning(
                    "monitor %s: channel %s failed: %s", monitor.name, result.channel, result.error
                )
        except Exception:  # noqa: BLE001 - one failing channel must not stop the others
            log.exception(
                "monitor %s: a channel could not send %d event(s)", monitor.name, len(events)
            )
    for event in events:
        BUS.publish(event)


def _with_secrets(config: dict[str, Any], lookup: Any) -> dict[str, Any]:
    """Return `config` with each `*_env` key replaced by the secret `lookup` finds for it."""
    resolved = {k: v for k, v in config.items() if k not in SECRET_KEYS}
    for key, plain in SECRET_KEYS.items():
        if key in config:
            resolved[plain] = lookup(config[key])
    return resolved
