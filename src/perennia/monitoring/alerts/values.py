"""Monitored-value keys: what `feature.age.psi` or `estimated.f1` names, and picking its value.

A rule watches one key of a monitor's output. Four shapes are understood, and each maps to one
Prometheus gauge (see `gauges.py`, whose samples the generated alert expressions query):

- `feature.<feature>.<method>`: a feature's drift score (`perennia_drift_score`); the feature
  may be `*`, meaning "any feature", and may itself contain dots (the method is the last part).
- `estimated.<metric>`: estimated performance without labels (`perennia_estimated_performance`).
- `realised.<metric>` (or `realized.`): performance measured on labelled data
  (`perennia_realised_performance`).
- anything else, e.g. `drift.share_drifted`: a monitor's own value (`perennia_monitor_value`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from perennia.errors import InvalidInput
from perennia.monitoring.alerts.checks import check_observed, check_text

WORD = re.compile(r"[A-Za-z0-9_]{1,64}")
ANY_FEATURE = "*"
MAX_KEY = 256
KINDS = ("drift", "estimated", "realised", "monitor")


@dataclass(frozen=True)
class ValueKey:
    """A parsed monitored-value key: its kind and the feature, method or metric it names."""

    key: str
    kind: str  # one of KINDS
    feature: str | None = None
    method: str | None = None
    metric: str | None = None

    @property
    def any_feature(self) -> bool:
        """Return True for `feature.*.<method>`, which stands for every feature's score."""
        return self.feature == ANY_FEATURE


def parse_value_key(key: object, field: str = "value") -> ValueKey:
    """Return the parsed form of a monitored-value key, or raise InvalidInput naming the fix."""
    text = check_text(key, field, limit=MAX_KEY)
    if text != text.strip() or "\n" in text or "\t" in text:
        raise InvalidInput(f"{field} {text!r:.80} must not hold tabs, newlines or edge spaces")
    head, _, rest = text.partition(".")
    if head == "feature":
        feature, _, method = rest.rpartition(".")
        if not feature or not WORD.fullmatch(method):
            raise InvalidInput(
                f"{field} {text!r:.80} must look like feature.<feature>.<method>, "
                "e.g. feature.age.psi or feature.*.psi"
            )
        return ValueKey(text, "drift", feature=feature, method=method)
    if head in ("estimated", "realised", "realized"):
        if not WORD.fullmatch(rest):
            raise InvalidInput(
                f"{field} {text!r:.80} must look like {head}.<metric>, e.g. {head}.f1 "
                "(letters, digits and _)"
            )
        kind = "estimated" if head == "estimated" else "realised"
        return ValueKey(text, kind, metric=rest)
    return ValueKey(text, "monitor")


def pick_value(
    key: ValueKey,
    values: Mapping[str, float | None],
    op: str,
    holds: Callable[[float], bool],
) -> float | None:
    """Return the value a rule on `key` sees in a monitor's output, or None if it has none.

    A plain key is looked up. `feature.*.<method>` sees the feature that triggers the rule if
    any does (the largest score for `>`/`>=`, the smallest for `<`/`<=`), so the rule holds
    exactly when some feature's score does, as Prometheus's per-feature alerts would.
    """
    if not key.any_feature:
        return check_observed(values.get(key.key), key.key)
    suffix = f".{key.method}"
    found = [
        number
        for name, value in values.items()
        if name.startswith("feature.") and name.endswith(suffix) and len(name) > 8 + len(suffix)
        if (number := check_observed(value, name)) is not None
    ]
    if not found:
        return None
    if op in (">", ">="):
        return max(found)
    if op in ("<", "<="):
        return min(found)
    return next((v for v in found if holds(v)), found[0])
