"""Alert events: one firing or one resolve of a rule, as channels and subscribers receive it."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from perennia.errors import InvalidInput
from perennia.monitoring.alerts.checks import check_keys

STATUSES = ("firing", "resolved")
ZERO_TIME = "0001-01-01T00:00:00Z"  # Go's zero time: Alertmanager's endsAt of a firing alert
FIELDS = (
    "rule",
    "status",
    "value",
    "threshold",
    "op",
    "value_key",
    "starts_at_ms",
    "ends_at_ms",
    "fingerprint",
    "labels",
    "annotations",
)


@dataclass(frozen=True)
class AlertEvent:
    """A rule started firing (`ends_at_ms` None) or resolved; `value` is what triggered it."""

    rule: str
    status: str
    value: float
    threshold: float
    op: str
    value_key: str
    starts_at_ms: int
    ends_at_ms: int | None
    fingerprint: str
    labels: dict[str, str] = field(default_factory=dict, hash=False)
    annotations: dict[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise InvalidInput(f"status {self.status!r:.40} is unknown; use firing or resolved")
        if (self.ends_at_ms is None) != (self.status == "firing"):
            raise InvalidInput("ends_at_ms must be None while firing and set once resolved")

    @property
    def firing(self) -> bool:
        """Return True for a firing event, False for a resolve."""
        return self.status == "firing"

    def summary(self) -> str:
        """Return one line for people: status, rule, the value against its threshold, since when."""
        monitor = self.labels.get("monitor", "?")
        line = (
            f"{self.status.upper()} {self.rule}: {self.value_key} = {_number(self.value)} "
            f"({'' if self.firing else 'no longer '}{self.op} {_number(self.threshold)}) "
            f"on monitor {monitor}, since {rfc3339(self.starts_at_ms)}"
        )
        return line if self.firing else f"{line}, until {rfc3339(self.ends_at_ms)}"

    def to_dict(self) -> dict[str, Any]:
        """Return the event as a JSON-ready dict (infinite values as "+Inf"/"-Inf" strings)."""
        data = {name: getattr(self, name) for name in FIELDS}
        data["value"] = _encode(self.value)
        data["labels"], data["annotations"] = dict(self.labels), dict(self.annotations)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AlertEvent:
        """Return the event a `to_dict()` answer describes."""
        check_keys(data, FIELDS, "alert event")
        missing = [name for name in FIELDS[:9] if name not in data]
        if missing:
            raise InvalidInput(f"alert event: {missing[0]!r} is required")
        return cls(**{**data, "value": _decode(data["value"])})


def rfc3339(ms: int | None) -> str:
    """Return a millisecond timestamp in RFC 3339 UTC as Go writes it (zero fractions trimmed)."""
    if ms is None:
        return ZERO_TIME
    moment = datetime.fromtimestamp(ms // 1000, tz=UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{ms % 1000:03d}".rstrip("0")
    return f"{text}.{fraction}Z" if fraction else f"{text}Z"


def _number(value: float) -> str:
    return f"{value:.6g}"


def _encode(value: float) -> float | str:
    # JSON has no infinities; Prometheus's own JSON API writes them as these strings too.
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return value


def _decode(value: object) -> float:
    if value in ("+Inf", "-Inf"):
        return math.inf if value == "+Inf" else -math.inf
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"alert event: value must be a number, got {value!r:.80}")
    return float(value)
