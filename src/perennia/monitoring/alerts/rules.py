"""Alert rules: which monitored value to watch, the condition, and how patiently to fire.

The timing fields follow Prometheus's alerting rules, plus one of Perennia's own:

- `for_ms`: the condition must hold this long before the alert fires (Prometheus `for`);
  until then the alert is pending.
- `keep_firing_ms`: a firing alert stays firing this long after the condition clears
  (Prometheus `keep_firing_for`), so a value hovering at the threshold does not resolve it.
- `cooldown_ms`: after a resolve, the alert cannot fire again for this long (anti-flap).
  Prometheus has no equivalent; the generated Prometheus rules leave it out.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from perennia.errors import InvalidInput
from perennia.monitoring.alerts.checks import (
    MAX_ANNOTATION_VALUE,
    MAX_LABEL_VALUE,
    MONITOR_NAME,
    RULE_NAME,
    check_keys,
    check_mapping,
    check_ms,
    check_number,
    check_pattern,
)
from perennia.monitoring.alerts.fingerprint import fingerprint
from perennia.monitoring.alerts.values import ValueKey, parse_value_key, pick_value

OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
SEVERITIES = ("critical", "warning", "info")
# Labels every alert carries, filled from the rule's own fields.
RESERVED_LABELS = frozenset({"alertname", "monitor", "severity"})
FIELDS = (
    "name",
    "monitor",
    "value",
    "op",
    "threshold",
    "for_ms",
    "cooldown_ms",
    "keep_firing_ms",
    "labels",
    "annotations",
    "severity",
)


@dataclass(frozen=True)
class AlertRule:
    """A condition on one monitored value (`value op threshold`) and when to fire on it."""

    name: str
    monitor: str
    value: str
    op: str
    threshold: float
    for_ms: int = 0
    cooldown_ms: int = 0
    keep_firing_ms: int = 0
    # Treat these two as read-only: they are validated copies (excluded from the hash).
    labels: dict[str, str] = field(default_factory=dict, hash=False)
    annotations: dict[str, str] = field(default_factory=dict, hash=False)
    severity: str = "warning"

    def __post_init__(self) -> None:
        check_pattern(
            self.name, "name", RULE_NAME, "letters, digits and _, not starting with a digit"
        )
        check_pattern(self.monitor, "monitor", MONITOR_NAME, "letters, digits and _ . : -")
        parse_value_key(self.value, "value")
        if not isinstance(self.op, str) or self.op not in OPS:
            raise InvalidInput(
                f"op {self.op!r:.40} is not a comparison; use one of " + " ".join(OPS)
            )
        if self.severity not in SEVERITIES:
            raise InvalidInput(
                f"severity {self.severity!r:.40} is unknown; use one of " + ", ".join(SEVERITIES)
            )
        set_ = object.__setattr__  # frozen: normalise once, at construction
        set_(self, "threshold", check_number(self.threshold, "threshold"))
        for name in ("for_ms", "cooldown_ms", "keep_firing_ms"):
            set_(self, name, check_ms(getattr(self, name), name))
        labels = check_mapping(
            self.labels, "labels", limit=MAX_LABEL_VALUE, reserved=RESERVED_LABELS
        )
        set_(self, "labels", labels)
        set_(
            self,
            "annotations",
            check_mapping(self.annotations, "annotations", limit=MAX_ANNOTATION_VALUE),
        )

    @property
    def value_key(self) -> ValueKey:
        """Return the parsed monitored-value key (its kind, feature, method or metric)."""
        return parse_value_key(self.value)

    @property
    def alert_labels(self) -> dict[str, str]:
        """Return the labels the rule's alerts carry: its own plus alertname, monitor, severity."""
        return {
            **self.labels,
            "alertname": self.name,
            "monitor": self.monitor,
            "severity": self.severity,
        }

    @property
    def fingerprint(self) -> str:
        """Return the 16-hex fingerprint of the rule's alert labels (Alertmanager's)."""
        return fingerprint(self.alert_labels)

    def holds(self, value: float) -> bool:
        """Return True when `value op threshold` is true."""
        return OPS[self.op](value, self.threshold)

    def pick(self, values: Mapping[str, float | None]) -> float | None:
        """Return the value this rule watches in a monitor's output mapping, or None."""
        return pick_value(self.value_key, values, self.op, self.holds)

    def to_dict(self) -> dict[str, Any]:
        """Return the rule as a JSON-ready dict that `from_dict` reads back."""
        return {name: _copy(getattr(self, name)) for name in FIELDS}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AlertRule:
        """Return the rule a `to_dict()` answer (or a config mapping) describes."""
        check_keys(data, FIELDS, "alert rule")
        missing = [name for name in FIELDS[:5] if name not in data]
        if missing:
            raise InvalidInput(f"alert rule: {missing[0]!r} is required")
        return cls(**data)


def _copy(value: Any) -> Any:
    return dict(value) if isinstance(value, dict) else value
