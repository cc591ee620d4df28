"""Running a monitor: every complete window since the last one, read from the prediction log,
evaluated, and recorded in the store as one summary and a point per value.

Windows are aligned to multiples of the monitor's `window_ms` since the epoch (UTC), and only
complete windows (ending at or before `until_ms`) are computed, so a window is never recorded
half-seen. Labels arrive late: with a `task` in the config, the last `relabel_windows`
(default 24) windows before the new ones are evaluated again, and their records replaced, so
realised performance catches up as feedback lands. Recording a window twice replaces it, so a
run interrupted half-way is simply run again.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from perennia.clock import now_ms
from perennia.errors import InvalidInput
from perennia.monitoring.monitors.alerting import apply_alerts
from perennia.monitoring.monitors.reference import load_reference
from perennia.monitoring.monitors.window import WindowValues, evaluate_window
from perennia.store.monitor_checks import KEY_LENGTH

log = logging.getLogger(__name__)
MAX_WINDOWS = 1_000
# The prediction log lands in batches (the writer flushes every second by default, then
# uploads); a window is computed only once this long has passed since its end.
SETTLE_MS = 10_000
RELABEL_WINDOWS = 24


def run_monitor(
    name: str,
    *,
    until_ms: int | None = None,
    store: Any = None,
    location: str | None = None,
    max_windows: int = MAX_WINDOWS,
    client: Any = None,
) -> list[WindowValues]:
    """Return the windows computed and recorded for monitor `name` (oldest first).

    `store` and `location` (the prediction log) default to the environment's; `client` (a
    tracking Client) is where a runs:/ or models:/ reference is read from.
    """
    from perennia.data.session import current_store

    store = store or current_store()
    monitor = store.monitors.get_monitor(name)
    location = location or _default_location()
    until = now_ms() if until_ms is None else until_ms
    if isinstance(until, bool) or not isinstance(until, int):
        raise InvalidInput(f"until_ms must be epoch milliseconds (an integer), got {until!r}")
    starts = _window_starts(monitor, location, until, max_windows)
    if not starts:
        return []
    reference = load_reference(monitor.reference, client)
    width = monitor.window_ms
    table = _read(location, monitor.deployment, starts[0], starts[-1] + width)
    feedback = _feedback(location) if monitor.config.get("task") else None
    baseline = _reference_log(location, monitor, feedback)
    model = _model(monitor) if monitor.config.get("explain") else None
    previous = _last_attributions(store, monitor, starts[0]) if model is not None else None
    results = []
    try:
        for start in starts:
            window = _slice(table, start, start + width)
            try:
                values = evaluate_window(
                    window,
                    start,
                    start + width,
                    reference,
                    feedback=feedback,
                    config=monitor.config,
                    reference_log=baseline,
                    model=model,
                    previous_attributions=previous,
                )
                if model is not None:
                    previous = _attribution_values(values.values) or previous
            except Exception as exc:  # noqa: BLE001 - recorded as a failed window, then the next one
                log.exception("monitor %s: window %s failed", name, start)
                values = WindowValues(
                    start, start + width, "failed", {}, error=f"{type(exc).__name__}: {exc}"
                )
            results.append(_record(store, monitor, values))
    finally:
        # Windows recorded before a failure still get their alerts.
        apply_alerts(store, monitor, results)
    return results


def _window_starts(monitor: Any, location: str, until: int, limit: int) -> list[int]:
    width = monitor.window_ms
    settle = int(monitor.config.get("settle_ms", SETTLE_MS))
    last_end = ((until - settle) // width) * width
    start = monitor.last_window_end_ms
    if start is None:
        first = _first_time(location, monitor.deployment, last_end)
        if first is None:
            return []
        start = (first // width) * width
    elif monitor.config.get("task"):
        # Re-evaluate recent windows that held predictions: their labels may have come since.
        relabel = int(monitor.config.get("relabel_windows", RELABEL_WINDOWS))
        first = _first_time(
            location, monitor.deployment, start, since=max(start - relabel * width, 0)
        )
        if first is not None:
            start = (first // width) * width
    return list(range(start, last_end, width))[-limit:] if last_end > start else []


def _default_location() -> str:
    from perennia.config import Settings
    from perennia.data.predlog import default_location

    return default_location(Settings.from_env())


def _first_time(
    location: str, deployment: str | None, until: int, since: int | None = None
) -> int | None:
    import pyarrow.compute as pc

    times = _read(location, deployment, since, until, columns=["time_ms"])
    return None if times.num_rows == 0 else int(pc.min(times["time_ms"]).as_py())


def _read(
    location: str, deployment: str | None, since: int | None, until: int, columns: Any = None
) -> Any:
    from perennia.data.predlog import read_predictions

    return read_predictions(
        location, deployment=deployment, since_ms=since, until_ms=until, columns=columns
    )


def _feedback(location: str) -> Any:
    from perennia.data.predlog import read_feedback

    return read_feedback(location)


def _model(monitor: Any) -> Any:
    """Return the monitor's model version, loaded and digest-checked, for attributions."""
    from perennia.models import load

    if not monitor.model_name or monitor.model_version is None:
        raise InvalidInput(f"monitor {monitor.name!r} explains predictions only with a model=")
    return load(f"models:/{monitor.model_name}/{monitor.model_version}")


def _attribution_values(values: dict[str, float | None]) -> dict[str, float]:
    prefix = "attribution."
    return {
        k[len(prefix) :]: v for k, v in values.items() if k.startswith(prefix) and v is not None
    }


def _last_attributions(store: Any, monitor: Any, before: int) -> dict[str, float] | None:
    """Return the attributions of the window ending at `before`, if one was recorded."""
    points = store.monitors.list_points(monitor.name, since_ms=before, until_ms=before)
    return _attribution_values({p.key: p.value for p in points}) or None


def _reference_log(location: str, monitor: Any, feedback: Any) -> Any:
    """Return the predictions of the monitor's `reference_window` with their labels, or None."""
    span = monitor.config.get("reference_window")
    if not span:
        return None
    import pyarrow.compute as pc

    from perennia.monitoring.monitors.window import labelled

    table = _read(location, monitor.deployment, int(span[0]), int(span[1]))
    if "shadow" in table.column_names:
        table = table.filter(pc.invert(pc.fill_null(table["shadow"], False)))
    return labelled(table, feedback)


def _slice(table: Any, start: int, end: int) -> Any:
    import pyarrow.compute as pc

    times = table["time_ms"]
    return table.filter(pc.and_(pc.greater_equal(times, start), pc.less(times, end)))


def _record(store: Any, monitor: Any, values: WindowValues) -> WindowValues:
    """Return the window as recorded: values the store would refuse are dropped and named in
    its summary, and a window the store still refuses is recorded as failed, without points."""
    from perennia.entities.monitoring import MonitorPoint, MonitorRun

    clean, dropped = _storable(values.values)
    if dropped:
        values = replace(values, values=clean, summary={**values.summary, "dropped_keys": dropped})
    computed = now_ms()
    run = MonitorRun(
        monitor=monitor.name,
        window_start_ms=values.start_ms,
        window_end_ms=values.end_ms,
        computed_ms=computed,
        status=values.status,
        summary=values.summary,
        error=values.error,
    )
    points = [
        MonitorPoint(monitor.name, values.start_ms, values.end_ms, key, value, computed)
        for key, value in sorted(values.values.items())
    ]
    try:
        store.monitors.record_window(monitor.name, run, points, values.end_ms)
    except InvalidInput as exc:
        log.warning(
            "monitor %s: window %s refused by the store: %s", monitor.name, values.start_ms, exc
        )
        values = WindowValues(values.start_ms, values.end_ms, "failed", {}, error=f"refused: {exc}")
        failed = replace(run, status="failed", summary={}, error=values.error)
        store.monitors.record_window(monitor.name, failed, [], values.end_ms)
    return values


def _storable(values: dict[str, Any]) -> tuple[dict[str, float | None], list[str]]:
    """Return the values as plain finite floats or None, and the keys no store would take."""
    import math

    clean: dict[str, float | None] = {}
    dropped = []
    for key, value in values.items():
        if len(key) > KEY_LENGTH or any(ord(ch) < 32 for ch in key):
            dropped.append(key[:80])
            continue
        number = None if value is None else float(value)
        clean[key] = number if number is not None and math.isfinite(number) else None
    return clean, dropped
