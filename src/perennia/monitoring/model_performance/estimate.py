"""`performance()`: per-window realised and estimated performance with calibrated alerts, in one call.

The reference (a labelled table from a period the model was known to be fine on) does three
jobs: it fits CBPE's calibration, it is cut into chunks the size of a typical monitoring
window, and each metric's values on those chunks set that metric's thresholds
(`thresholds.reference_thresholds`). Realised values are judged against the realised values
of the chunks and estimated values against the estimated ones: each statistic against its
own unchanged-data distribution. With the default "prediction" method the bounds are scaled
to each window's size (labelled rows for realised metrics, predictions for estimated ones).
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from perennia.errors import InvalidInput
from perennia.monitoring.model_performance import cbpe as cbpe_module
from perennia.monitoring.model_performance.inputs import Columns, Prepared, prepare
from perennia.monitoring.model_performance.realised import choose_metrics, limits, realised_metrics
from perennia.monitoring.model_performance.result import Metric, PerformanceResult, WindowResult
from perennia.monitoring.model_performance.thresholds import METHODS, reference_thresholds
from perennia.monitoring.model_performance.windows import Window, count_windows, split_windows

if TYPE_CHECKING:
    import numpy as np

MIN_CHUNKS = 10  # the default chunk size leaves the reference at least this many chunks


@dataclasses.dataclass(frozen=True)
class _Alerting:
    method: str
    target_rate: float
    n_values: int
    chunk_size: int
    values: dict[str, dict[str, list[float | None]]]  # kind -> metric -> value per chunk


def performance(
    predictions: Any,
    labels: Any = None,
    *,
    task: str,
    window: str | int | None = None,
    count: int | None = None,
    reference: Any = None,
    prediction: str | None = None,
    probabilities: str | None = None,
    label: str = "ground_truth",
    time_column: str = "time_ms",
    pos_label: Any = 1,
    threshold: float = 0.5,
    classes: Any = None,
    metrics: Sequence[str] | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
    calibration: str = "auto",
    threshold_method: str = "prediction",
    target_rate: float = 0.01,
    bonferroni: bool = False,
    chunk_size: int | None = None,
) -> PerformanceResult:
    """Return each window's realised and (with a reference) estimated metrics and alerts.

    `predictions` is a table of logged predictions; `labels` a table of `prediction_id,
    ground_truth[, time_ms]` (or None when the table has a `label` column already). Windows are
    `window=` ("1h", "1d", milliseconds) or `count=` rows. `reference` is a labelled table with
    the same columns; without it there are no estimates and no thresholds.
    """
    if threshold_method not in METHODS:
        raise InvalidInput(f"threshold_method={threshold_method!r} is not one of {METHODS}")
    columns = Columns(prediction, probabilities, label, time_column)
    options = {"task": task, "columns": columns, "pos_label": pos_label, "threshold": threshold}
    ref = None
    if reference is not None:
        ref = prepare(reference, None, classes=classes, name="reference", **options)
        ref = _labelled_only(ref, label)
        classes = ref.classes if classes is None else classes
    current = prepare(predictions, labels, classes=classes, **options)
    span = {"start_ms": start_ms, "end_ms": end_ms, "time_column": time_column}
    windows = split_windows(current.frame, window=window, count=count, **span)
    notes: list[str] = []
    estimator = _estimator(ref, current, calibration, threshold, notes)
    realised_names = choose_metrics(task, current.scores is not None, metrics)
    names = (realised_names, _estimated_names(estimator, metrics))
    results = [_measured(current, w, estimator, names) for w in windows]
    alerting = None
    if ref is not None:
        size = chunk_size if chunk_size is not None else _default_chunk_size(windows, ref.n)
        values = _chunk_values(ref, estimator, size, names, time_column)
        alerting = _alerting(values, size, threshold_method, target_rate, bonferroni, notes)
        results = [_judged(w, alerting) for w in results]
    else:
        notes.append("no reference given: no estimated metrics and no thresholds")
    settings = {
        "window": window,
        "count": count,
        "start_ms": start_ms,
        "end_ms": end_ms,
        "decision_threshold": threshold if task == "binary" else None,
        "threshold_method": threshold_method,
        "target_rate": target_rate,
        "bonferroni": bonferroni,
        "rate_per_value": None if alerting is None else target_rate / alerting.n_values,
    }
    calibration_info = None if estimator is None else estimator.calibrator_.to_dict()
    summary = _reference_summary(ref, alerting)
    return PerformanceResult(task, results, settings, summary, calibration_info, notes)


def _measured(
    current: Prepared, window: Window, estimator: Any, names: tuple[tuple[str, ...], ...]
) -> WindowResult:
    """Return one window's counts with its realised and estimated metrics (no bounds yet)."""
    return WindowResult(
        window.index,
        window.start_ms,
        window.end_ms,
        window.size,
        int(current.labelled[window.rows].sum()),
        realised_metrics(current, window.rows, names[0]),
        _estimate(estimator, current, window.rows, names[1]),
    )


def _labelled_only(ref: Prepared, label: str) -> Prepared:
    """Return the reference's labelled rows; a reference without labels cannot set anything."""
    import numpy as np

    if not ref.labelled.any():
        raise InvalidInput(f"reference has no labels; give it a {label!r} column (or set label=)")
    keep = np.flatnonzero(ref.labelled)
    if keep.size == ref.n:
        return ref
    scores = None if ref.scores is None else ref.scores[keep]
    return dataclasses.replace(
        ref,
        frame=ref.frame.iloc[keep].reset_index(drop=True),
        labelled=ref.labelled[keep],
        truth=ref.truth[keep],
        predicted=ref.predicted[keep],
        scores=scores,
    )


def _estimator(
    ref: Prepared | None, current: Prepared, calibration: str, threshold: float, notes: list[str]
) -> Any:
    """Return CBPE fitted on the reference, or None when the task or the data cannot have it."""
    if ref is None or current.task == "regression":
        return None
    if ref.scores is None or current.scores is None:
        notes.append("no probabilities= given: performance is not estimated before labels")
        return None
    if current.task == "binary":
        estimator = cbpe_module.CBPE(threshold=threshold, calibration=calibration)
        return estimator.fit(ref.truth, ref.scores)
    estimator = cbpe_module.MulticlassCBPE(calibration=calibration)
    return estimator.fit(ref.truth, ref.scores, classes=ref.classes)


def _estimated_names(estimator: Any, metrics: Sequence[str] | None) -> tuple[str, ...]:
    if estimator is None:
        return ()
    offered = (
        cbpe_module.BINARY if isinstance(estimator, cbpe_module.CBPE) else cbpe_module.MULTICLASS
    )
    if metrics is None:
        return offered
    chosen = [metrics] if isinstance(metrics, str) else list(metrics)
    return tuple(m for m in offered if m in chosen)


def _estimate(
    estimator: Any, prepared: Prepared, rows: np.ndarray, names: tuple[str, ...]
) -> dict[str, Metric]:
    if estimator is None or not names:
        return {}
    return estimator.estimate(prepared.scores[rows], y_pred=prepared.predicted[rows], metrics=names)


def _default_chunk_size(windows: list[Window], reference_rows: int) -> int:
    """Return the typical window's row count, capped so the reference gives MIN_CHUNKS chunks."""
    sizes = [w.size for w in windows if w.size]
    typical = int(statistics.median(sizes)) if sizes else reference_rows
    return max(1, min(typical, reference_rows // MIN_CHUNKS))


def _chunk_values(
    ref: Prepared,
    estimator: Any,
    size: int,
    names: tuple[tuple[str, ...], ...],
    time: str,
) -> dict[str, dict[str, list[float | None]]]:
    """Return each metric's value on each full chunk of `size` reference rows, in time order."""
    from perennia.monitoring.model_performance.windows import time_values

    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise InvalidInput(f"chunk_size={size!r} must be a positive number of rows")
    realised_names, estimated_names = names
    times = time_values(ref.frame[time].to_numpy(), time) if time in ref.frame.columns else None
    chunks = [c for c in count_windows(ref.n, size, times=times) if c.size == size]
    values: dict[str, dict[str, list[float | None]]] = {
        "realised": {name: [] for name in realised_names},
        "estimated": {name: [] for name in estimated_names},
    }
    for chunk in chunks:
        for kind, computed in (
            ("realised", realised_metrics(ref, chunk.rows, realised_names)),
            ("estimated", _estimate(estimator, ref, chunk.rows, estimated_names)),
        ):
            for name, metric in computed.items():
                values[kind][name].append(metric.value)
    return values


def _alerting(
    values: dict[str, dict[str, list[float | None]]],
    size: int,
    method: str,
    target_rate: float,
    bonferroni: bool,
    notes: list[str],
) -> _Alerting:
    """Return the thresholds' basis, keeping only the metrics the reference can set bounds for."""
    usable: dict[str, dict[str, list[float | None]]] = {kind: {} for kind in values}
    candidates = sum(len(by_metric) for by_metric in values.values())
    for kind, by_metric in values.items():
        for name, chunk_values in by_metric.items():
            try:
                reference_thresholds(
                    chunk_values,
                    target_rate=target_rate,
                    method=method,
                    n_values=max(candidates, 1) if bonferroni else 1,
                )
            except InvalidInput as exc:
                notes.append(f"no thresholds for {kind} {name}: {exc}")
                continue
            usable[kind][name] = chunk_values
    monitored = sum(len(by_metric) for by_metric in usable.values())
    n_values = max(monitored, 1) if bonferroni else 1
    return _Alerting(method, target_rate, n_values, size, usable)


def _judged(window: WindowResult, alerting: _Alerting) -> WindowResult:
    """Return the window with bounds and alert flags on every metric the reference covers."""
    sizes = {"realised": window.n_labelled, "estimated": window.n_predictions}
    judged = {}
    for kind, size in sizes.items():
        metrics = dict(getattr(window, kind))
        for name, metric in metrics.items():
            chunk_values = alerting.values[kind].get(name)
            if chunk_values is None or size == 0:
                continue
            scaled = alerting.method == "prediction"
            bounds = reference_thresholds(
                chunk_values,
                target_rate=alerting.target_rate,
                method=alerting.method,
                n_values=alerting.n_values,
                limits=limits(name),
                chunk_size=alerting.chunk_size if scaled else None,
                window_size=size if scaled else None,
            )
            metrics[name] = dataclasses.replace(
                metric, lower=bounds.lower, upper=bounds.upper, alert=bounds.breached(metric.value)
            )
        judged[kind] = metrics
    return dataclasses.replace(window, **judged)


def _reference_summary(ref: Prepared | None, alerting: _Alerting | None) -> dict[str, Any]:
    if ref is None:
        return {}
    summary: dict[str, Any] = {"labelled_rows": ref.n}
    if alerting is None:
        return summary
    summary["chunk_size"] = alerting.chunk_size
    spread: dict[str, dict[str, Any]] = {}
    for kind, by_metric in alerting.values.items():
        for name, chunk_values in by_metric.items():
            finite = [v for v in chunk_values if v is not None]
            spread.setdefault(kind, {})[name] = {
                "chunks": len(finite),
                "mean": statistics.fmean(finite) if finite else None,
                "std": statistics.stdev(finite) if len(finite) > 1 else None,
            }
    summary["metrics"] = spread
    return summary
