"""What every alert channel is: something that sends a group of events and reports how it went."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from perennia.errors import InvalidInput, PerenniaError
from perennia.monitoring.alerts.events import AlertEvent


class DeliveryFailed(PerenniaError):
    """A channel could not deliver alerts (the receiver refused, timed out or was unreachable)."""

    error_code = "TEMPORARILY_UNAVAILABLE"
    http_status = 502


@dataclass(frozen=True)
class DeliveryResult:
    """How one `send` ended: delivered or not, after how many attempts, and why not."""

    channel: str
    ok: bool
    attempts: int
    status_code: int | None = None
    error: str | None = None

    def raise_for_failure(self) -> DeliveryResult:
        """Return the result when it delivered; raise DeliveryFailed naming the reason otherwise."""
        if not self.ok:
            raise DeliveryFailed(
                f"channel {self.channel!r}: delivery failed after {self.attempts} attempt(s): "
                f"{self.error}"
            )
        return self


@runtime_checkable
class Channel(Protocol):
    """Sends alert events somewhere people or programs will see them."""

    name: str

    def send(self, events: Sequence[AlertEvent]) -> DeliveryResult:
        """Deliver `events` as one notification; return the outcome (never raise on failure)."""
        ...


def check_events(events: object) -> list[AlertEvent]:
    """Return `events` as a list after checking each is an AlertEvent."""
    if isinstance(events, AlertEvent):
        return [events]
    if not isinstance(events, Sequence):
        raise InvalidInput(f"events must be a list of AlertEvent, got {type(events).__name__}")
    for event in events:
        if not isinstance(event, AlertEvent):
            raise InvalidInput(f"events must hold AlertEvent objects, got {type(event).__name__}")
    return list(events)


def group_status(events: Sequence[AlertEvent]) -> str:
    """Return "firing" if any event fires, else "resolved" (Alertmanager's group status)."""
    return "firing" if any(event.firing for event in events) else "resolved"
