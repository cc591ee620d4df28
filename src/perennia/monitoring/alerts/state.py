"""Where one rule's alert stands between observations: inactive, pending or firing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from perennia.errors import InvalidInput
from perennia.monitoring.alerts.checks import check_keys

STATES = ("inactive", "pending", "firing")


@dataclass(frozen=True)
class AlertState:
    """One rule's alert state: everything `evaluate` needs to carry on after a restart.

    `since_ms` is when the condition started holding (pending) or the alert fired (firing);
    `cleared_ms` is when a firing alert's condition stopped holding (keep-firing countdown);
    `last_resolved_ms` starts the cooldown; `last_time_ms` is the newest observation's time,
    which later observations may not precede; `fingerprint` names the alert it belongs to.
    """

    status: str = "inactive"
    since_ms: int | None = None
    last_resolved_ms: int | None = None
    fingerprint: str = ""
    last_time_ms: int | None = None
    cleared_ms: int | None = None

    def __post_init__(self) -> None:
        if self.status not in STATES:
            raise InvalidInput(f"status {self.status!r:.40} is unknown; use " + ", ".join(STATES))
        if (self.since_ms is None) != (self.status == "inactive"):
            raise InvalidInput("since_ms must be set exactly when the alert is not inactive")
        if self.cleared_ms is not None and self.status != "firing":
            raise InvalidInput("cleared_ms may only be set while the alert is firing")
        for name in ("since_ms", "last_resolved_ms", "last_time_ms", "cleared_ms"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise InvalidInput(f"{name} must be an int of milliseconds or None, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        """Return the state as a JSON-ready dict that `from_dict` reads back."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AlertState:
        """Return the state a `to_dict()` answer describes."""
        check_keys(data, tuple(f.name for f in fields(cls)), "alert state")
        return cls(**data)
