"""Checks on monitors, their windows and their leases before anything is stored or sent.

Shared by the SQL store (the authority) and the REST client (before sending), so both refuse the
same input with the same message. Each check returns the cleaned value or raises InvalidInput
naming the field and what would be accepted.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from perennia.entities.monitoring import MONITOR_RUN_STATUSES, Monitor, MonitorPoint, MonitorRun
from perennia.errors import InvalidInput
from perennia.store.deployment_checks import check_deployment_name
from perennia.store.limits import KEY_LENGTH, NAME_LENGTH
from perennia.store.registry_checks import check_model_name, check_text
from perennia.store.validation import validate_dataset_json

# A monitor's name becomes a URL path segment, a Grafana label and an alert's name: letters,
# digits and `_ . -`, starting with a letter or digit (so never '.' or '..').
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}")
_SHA256_REF = re.compile(r"sha256:[0-9a-f]{64}")
MAX_NAME = 128
MAX_REFERENCE = 4_000
MAX_CONFIG_CHARS = 65_536
# A window's summary holds a whole report (every column's statistics), never its plots.
MAX_SUMMARY_CHARS = 1_048_576
MAX_ERROR = 65_536
MAX_DESCRIPTION = 65_536
# Windows, schedules and leases are at most a leap year: a longer one is a typo in units.
MAX_PERIOD_MS = 366 * 24 * 3600 * 1000
# Times stay exact in JSON (and a time plus a period cannot overflow a 64-bit column).
MAX_TIME_MS = 2**53
MAX_POINTS = 100_000
MAX_KEYS = 1_000
MAX_POINTS_LISTED = 100_000
MAX_RUNS_LISTED = 10_000
MAX_CLAIMS = 1_000
_MAX_VERSION = 2**31 - 1


def _integer(value: Any, field: str, low: int, high: int) -> int:
    """Return `value` if it is an int (not a bool) from `low` to `high`, else raise."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(
            f"{field} must be an integer from {low:,} to {high:,}, got {value!r:.40}"
        )
    return value


def _no_controls(value: str, field: str) -> str:
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidInput(f"{field} may not hold control characters, got {value!r:.80}")
    return value


def check_monitor_name(name: Any, field: str = "monitor name") -> str:
    """Return a valid monitor name (1-128 letters, digits, _ . -, starting alnum), or raise."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidInput(
            f"{field} must be 1-{MAX_NAME} letters, digits, '_', '.' or '-' starting with a "
            f"letter or digit (e.g. 'fraud-daily'), got {name!r:.80}"
        )
    return name


def check_time(value: Any, field: str, *, optional: bool = False) -> int | None:
    """Return epoch milliseconds (0 to 2**53), None when `optional` allows it, or raise."""
    if value is None and optional:
        return None
    return _integer(value, field, 0, MAX_TIME_MS)


def check_period(value: Any, field: str, *, optional: bool = False) -> int | None:
    """Return a period in milliseconds (1 ms to 366 days), None when `optional`, or raise."""
    if value is None and optional:
        return None
    return _integer(value, field, 1, MAX_PERIOD_MS)


def check_reference(reference: Any) -> str:
    """Return the reference profile's URI or "sha256:<hex>" digest, or raise InvalidInput."""
    text = check_text(reference, "reference", MAX_REFERENCE)
    if not text or text != text.strip() or any(c.isspace() for c in text):
        raise InvalidInput(
            "reference must name the reference profile without spaces, e.g. "
            f"'datasets:/train@3' or 'sha256:<64 hex>', got {text!r:.80}"
        )
    _no_controls(text, "reference")
    if text.startswith("sha256:") and not _SHA256_REF.fullmatch(text):
        raise InvalidInput(
            f"reference {text!r:.80} must be 'sha256:' and 64 lowercase hex characters"
        )
    return text


def check_config(config: Any) -> dict[str, Any]:
    """Return the monitor's config (a plain JSON object up to 65,536 characters), or raise."""
    return validate_dataset_json(config, "config", MAX_CONFIG_CHARS, dict)


def check_description(description: Any) -> str:
    """Return the description (text up to 65,536 characters, no NUL), or raise InvalidInput."""
    return check_text(description, "description", MAX_DESCRIPTION)


def check_username(username: Any) -> str | None:
    """Return who acts (None, or a name fit for the column), or raise InvalidInput."""
    if username is None:
        return None
    return _no_controls(check_text(username, "username", NAME_LENGTH), "username")


def check_monitor(monitor: Any) -> Monitor:
    """Return the draft Monitor with every field the caller sets checked, or raise InvalidInput.

    The times, the creator and the lease are the store's to set and are not checked.
    """
    if not isinstance(monitor, Monitor):
        raise InvalidInput(f"expected a Monitor, got {type(monitor).__name__}")
    m = monitor
    deployment = None if m.deployment is None else check_deployment_name(m.deployment)
    model_name = None if m.model_name is None else check_model_name(m.model_name)
    version = m.model_version
    if version is not None:
        version = _integer(version, "model_version", 1, _MAX_VERSION)
        if model_name is None:
            raise InvalidInput("model_version needs model_name: name the model it is a version of")
    return replace(
        m,
        name=check_monitor_name(m.name),
        reference=check_reference(m.reference),
        window_ms=check_period(m.window_ms, "window_ms"),
        deployment=deployment,
        model_name=model_name,
        model_version=version,
        schedule_ms=check_period(m.schedule_ms, "schedule_ms", optional=True),
        config=check_config(m.config),
        description=check_description(m.description),
        next_run_ms=check_time(m.next_run_ms, "next_run_ms", optional=True),
    )


def check_key(key: Any) -> str:
    """Return a point's key (1-250 characters of text, no control characters), or raise."""
    if not isinstance(key, str) or not key or len(key) > KEY_LENGTH:
        raise InvalidInput(
            f"point key must be 1-{KEY_LENGTH} characters of text (e.g. 'feature.age.psi'), "
            f"got {key!r:.80}"
        )
    return _no_controls(key, "point key")


def check_value(key: str, value: Any) -> float | None:
    """Return a point's value as a finite float, or None (not computable); else raise."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(
            f"point {key!r} value must be a number or None, got {type(value).__name__}"
        )
    try:
        number = float(value)
    except OverflowError:
        raise InvalidInput(f"point {key!r} value is too large for a 64-bit float") from None
    if not math.isfinite(number):
        raise InvalidInput(
            f"point {key!r} value is {number}; record None for a value that is not computable"
        )
    return number


def check_run(name: str, run: Any) -> MonitorRun:
    """Return a window's run of monitor `name`, every field checked, or raise InvalidInput."""
    if not isinstance(run, MonitorRun):
        raise InvalidInput(f"expected a MonitorRun, got {type(run).__name__}")
    if run.monitor != name:
        raise InvalidInput(f"the run names monitor {run.monitor!r:.80}, not {name!r}")
    start = check_time(run.window_start_ms, "window_start_ms")
    end = check_time(run.window_end_ms, "window_end_ms")
    if end < start:
        raise InvalidInput(
            f"window_end_ms {end} is before window_start_ms {start}; a window ends after it starts"
        )
    if run.status not in MONITOR_RUN_STATUSES:
        raise InvalidInput(
            f"status must be one of {', '.join(MONITOR_RUN_STATUSES)}, got {run.status!r:.40}"
        )
    error = check_text(run.error, "error", MAX_ERROR, optional=True)
    if (run.status == "failed") != bool(error):
        raise InvalidInput(
            "error must say why a failed window failed, and be None for an ok or empty one"
        )
    return replace(
        run,
        window_start_ms=start,
        window_end_ms=end,
        computed_ms=check_time(run.computed_ms, "computed_ms"),
        summary=validate_dataset_json(run.summary, "summary", MAX_SUMMARY_CHARS, dict),
        error=error,
    )


def check_points(run: MonitorRun, points: Any) -> list[MonitorPoint]:
    """Return a checked window's points: each of `run`'s window and time, each key once."""
    if isinstance(points, str | bytes | dict) or not isinstance(points, Sequence):
        raise InvalidInput(f"points must be a list of MonitorPoint, got {type(points).__name__}")
    if len(points) > MAX_POINTS:
        raise InvalidInput(f"a window holds {len(points):,} points; at most {MAX_POINTS:,}")
    seen: set[str] = set()
    checked = []
    window = (run.monitor, run.window_start_ms, run.window_end_ms, run.computed_ms)
    for point in points:
        if not isinstance(point, MonitorPoint):
            raise InvalidInput(f"expected a MonitorPoint, got {type(point).__name__}")
        key = check_key(point.key)
        if key in seen:
            raise InvalidInput(f"point key {key!r} is given twice in one window")
        seen.add(key)
        at = (point.monitor, point.window_start_ms, point.window_end_ms, point.computed_ms)
        if at != window:
            raise InvalidInput(
                f"point {key!r} must carry its run's monitor, window and computed_ms "
                f"{window!r}, got {at!r:.120}"
            )
        checked.append(replace(point, key=key, value=check_value(key, point.value)))
    return checked


def check_keys(keys: Any) -> list[str] | None:
    """Return the keys a listing is limited to (None: every key), or raise InvalidInput."""
    if keys is None:
        return None
    if isinstance(keys, str | bytes | dict) or not isinstance(keys, Sequence):
        raise InvalidInput(f"keys must be a list of point keys, got {type(keys).__name__}")
    if not 1 <= len(keys) <= MAX_KEYS:
        raise InvalidInput(f"keys must list 1 to {MAX_KEYS:,} keys (or be None for all)")
    return sorted({check_key(key) for key in keys})


def check_limit(limit: Any, most: int) -> int:
    """Return a result limit from 1 to `most`, or raise InvalidInput."""
    return _integer(limit, "limit", 1, most)


def check_owner(owner: Any) -> str:
    """Return a lease owner (1-256 characters of text, e.g. 'scheduler-3f2a'), or raise."""
    if not isinstance(owner, str) or not owner or len(owner) > NAME_LENGTH:
        raise InvalidInput(
            f"owner must be 1-{NAME_LENGTH} characters naming the claimer, got {owner!r:.80}"
        )
    return _no_controls(check_text(owner, "owner", NAME_LENGTH), "owner")
