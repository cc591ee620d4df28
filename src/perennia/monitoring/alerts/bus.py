"""An in-process publish/subscribe bus for alert events (the retraining loop listens here).

Events live only in memory: a subscriber that is not registered when an event is published
never sees it, and nothing survives a restart. Persisting events (and replaying them to late
subscribers) comes with the store's alerts part; until then the bus is the hand-off between
the evaluator and whoever acts on alerts in the same process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from perennia.errors import InvalidInput
from perennia.monitoring.alerts.events import AlertEvent

logger = logging.getLogger(__name__)

Subscriber = Callable[[AlertEvent], object]


class AlertBus:
    """Delivers each published event to every current subscriber, in subscription order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[Subscriber] = []

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Add `callback(event)`; return a function that unsubscribes it."""
        if not callable(callback):
            raise InvalidInput(
                f"callback must be callable with one AlertEvent, got {callback!r:.80}"
            )
        with self._lock:
            self._subscribers.append(callback)
        return lambda: self.unsubscribe(callback)

    def unsubscribe(self, callback: Subscriber) -> None:
        """Remove `callback` if it is subscribed (no error when it is not)."""
        with self._lock:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

    def publish(self, event: AlertEvent) -> int:
        """Call every subscriber with `event`; return how many returned without raising."""
        if not isinstance(event, AlertEvent):
            raise InvalidInput(f"event must be an AlertEvent, got {type(event).__name__}")
        with self._lock:
            # A copy, so a subscriber may (un)subscribe from inside its callback.
            subscribers = list(self._subscribers)
        delivered = 0
        for callback in subscribers:
            try:
                callback(event)
            except Exception:  # noqa: BLE001 - one failing subscriber must not starve the rest
                logger.exception("alert subscriber %r failed on %s", callback, event.summary())
            else:
                delivered += 1
        return delivered

    def __len__(self) -> int:
        with self._lock:
            return len(self._subscribers)
