"""Input checks the alert rules, channels and generators share: names, label sets, numbers."""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping
from typing import Any

from perennia.errors import InvalidInput

# Prometheus accepts an alert name only if it is a valid metric name; colons are reserved for
# recording rules, so they are left out too.
RULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
MONITOR_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}")
MAX_LABEL_VALUE = 1024
MAX_ANNOTATION_VALUE = 16_384
MAX_LABELS = 64
MAX_DURATION_MS = 366 * 86_400_000  # a year: anything longer is a unit mistake
MAX_WAIT_SECONDS = 300.0  # network timeouts and retry waits


def check_pattern(value: object, field: str, pattern: re.Pattern[str], hint: str) -> str:
    """Return `value` if it is a string matching `pattern`, else raise InvalidInput with `hint`."""
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{field} must be a non-empty string ({hint}), got {value!r:.80}")
    if not pattern.fullmatch(value):
        raise InvalidInput(f"{field} {value!r:.80} is not allowed: use {hint}")
    return value


def check_text(value: object, field: str, *, limit: int, empty: bool = False) -> str:
    """Return `value` if it is a string of at most `limit` characters without control codes."""
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string, got {type(value).__name__}")
    if not value and not empty:
        raise InvalidInput(f"{field} must not be empty")
    if len(value) > limit:
        raise InvalidInput(f"{field} is {len(value)} characters long; at most {limit} allowed")
    if any(ord(c) < 32 and c not in "\n\t" or ord(c) == 127 for c in value):
        raise InvalidInput(f"{field} {value!r:.80} must not contain control characters")
    return value


def check_mapping(
    value: object, field: str, *, limit: int, reserved: frozenset[str] = frozenset()
) -> dict[str, str]:
    """Return a sorted copy of a str -> str mapping whose keys are Prometheus label names."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{field} must be a mapping of names to strings, got {value!r:.80}")
    if len(value) > MAX_LABELS:
        raise InvalidInput(f"{field} has {len(value)} entries; at most {MAX_LABELS} allowed")
    checked: dict[str, str] = {}
    for key in sorted(value, key=str):
        name = check_pattern(key, f"{field} key", LABEL_NAME, "letters, digits and _")
        if name.startswith("__"):
            raise InvalidInput(f"{field} key {name!r} starts with '__', which Prometheus reserves")
        if name in reserved:
            raise InvalidInput(
                f"{field} key {name!r} is set by the rule itself; use the rule's {name} field"
            )
        checked[name] = check_text(value[key], f"{field}[{name!r}]", limit=limit, empty=True)
    return checked


def check_number(value: object, field: str) -> float:
    """Return `value` as a finite float, refusing booleans, NaN and infinities."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidInput(f"{field} must be a number, got {value!r:.80}")
    number = float(value)
    if not math.isfinite(number):
        raise InvalidInput(f"{field} must be finite, got {number}")
    return number


def check_ms(value: object, field: str, *, limit: int = MAX_DURATION_MS) -> int:
    """Return `value` as a non-negative integer count of milliseconds no larger than `limit`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidInput(f"{field} must be whole milliseconds (an int), got {value!r:.80}")
    ms = int(value)
    if ms < 0:
        raise InvalidInput(f"{field} must be >= 0 milliseconds, got {ms}")
    if ms > limit:
        raise InvalidInput(f"{field} is {ms} ms; at most {limit} ms allowed")
    return ms


def check_keys(data: object, allowed: tuple[str, ...], what: str) -> Mapping[str, Any]:
    """Return `data` if it is a mapping holding only `allowed` keys, else raise InvalidInput."""
    if not isinstance(data, Mapping):
        raise InvalidInput(f"{what} must be a mapping, got {data!r:.80}")
    unknown = sorted(str(k) for k in data if k not in allowed)
    if unknown:
        raise InvalidInput(
            f"{what}: unknown key {unknown[0]!r:.80}; accepted keys are " + ", ".join(allowed)
        )
    return data


def check_observed(value: object, field: str = "value") -> float | None:
    """Return an observed value as a float, or None when it is None or NaN (not computable)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidInput(f"{field} must be a number or None (not computable), got {value!r:.80}")
    number = float(value)
    # NaN is what a statistic returns when it cannot be computed: the same as no value.
    return None if math.isnan(number) else number


def check_seconds(value: object, field: str, *, low: float) -> float:
    """Return `value` as seconds from `low` to MAX_WAIT_SECONDS, refusing anything else."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidInput(f"{field} must be a number of seconds, got {value!r:.80}")
    seconds = float(value)
    if not math.isfinite(seconds) or not low <= seconds <= MAX_WAIT_SECONDS:
        raise InvalidInput(
            f"{field} must be from {low:g} to {MAX_WAIT_SECONDS:g} seconds, got {value}"
        )
    return seconds
