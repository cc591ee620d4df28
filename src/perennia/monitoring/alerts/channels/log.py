"""Alerts written to Python logging: WARNING when one fires, INFO when it resolves."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from perennia.monitoring.alerts.channels.base import DeliveryResult, check_events
from perennia.monitoring.alerts.checks import MONITOR_NAME, check_pattern
from perennia.monitoring.alerts.events import AlertEvent

logger = logging.getLogger(__name__)


class LogChannel:
    """Logs one line per event on this module's logger; the full event rides along as `alert`."""

    def __init__(self, *, name: str = "log") -> None:
        self.name = check_pattern(name, "name", MONITOR_NAME, "letters, digits and _ . : -")

    def __repr__(self) -> str:
        return f"LogChannel(name={self.name!r})"

    def send(self, events: Sequence[AlertEvent]) -> DeliveryResult:
        """Log each event; return a delivered result (logging does not fail)."""
        events = check_events(events)
        for event in events:
            level = logging.WARNING if event.firing else logging.INFO
            # `extra` lets a JSON log formatter keep the event's fields instead of parsing text.
            logger.log(level, "%s", event.summary(), extra={"alert": event.to_dict()})
        return DeliveryResult(self.name, ok=True, attempts=1 if events else 0)
