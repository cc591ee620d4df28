"""PromQL pieces: label matchers, durations, and the gauge expression behind each value key."""

from __future__ import annotations

from collections.abc import Mapping

from perennia.errors import InvalidInput
from perennia.monitoring.alerts.checks import check_text
from perennia.monitoring.alerts.values import ValueKey

DRIFT_GAUGE = "perennia_drift_score"
ESTIMATED_GAUGE = "perennia_estimated_performance"
REALISED_GAUGE = "perennia_realised_performance"
MONITOR_GAUGE = "perennia_monitor_value"
# Largest unit first; a duration is written in the largest unit that divides it exactly.
UNITS = (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1))


def string_literal(value: str) -> str:
    """Return `value` as a PromQL double-quoted string (backslash, quote, newline escaped)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def selector(metric: str, labels: Mapping[str, str]) -> str:
    """Return `metric{name="value",...}` with the labels in the given order."""
    matchers = ",".join(f"{name}={string_literal(value)}" for name, value in labels.items())
    return f"{metric}{{{matchers}}}"


def duration(ms: int) -> str:
    """Return milliseconds as a Prometheus duration: 1800000 -> "30m", 90000 -> "90s"."""
    if ms == 0:
        return "0s"
    for unit, size in UNITS:
        if ms % size == 0:
            return f"{ms // size}{unit}"
    raise AssertionError("unreachable: every integer is a whole number of milliseconds")


def check_model(model: object) -> str:
    """Return `model` if it can name a model in labels and group names, else raise."""
    name = check_text(model, "model", limit=256)
    if "\n" in name or "\t" in name:
        raise InvalidInput(f"model {name!r:.80} must be one line")
    return name


def value_selector(model: str, monitor: str, key: ValueKey) -> str:
    """Return the PromQL selecting the gauge series a monitored-value key is exported as."""
    if key.kind == "drift":
        labels = {"model": model}
        if not key.any_feature:
            labels["feature"] = key.feature or ""
        labels["method"] = key.method or ""
        # One alert per feature; `max` folds away any other label (instance, job).
        return f"max by (feature) ({selector(DRIFT_GAUGE, labels)})"
    if key.kind in ("estimated", "realised"):
        gauge = ESTIMATED_GAUGE if key.kind == "estimated" else REALISED_GAUGE
        return selector(gauge, {"model": model, "metric": key.metric or ""})
    return selector(MONITOR_GAUGE, {"monitor": monitor, "value": key.key})
