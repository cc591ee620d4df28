"""What performance monitoring returns: per window, each metric realised and estimated.

A metric that cannot be computed on a window (no labels yet, one class only, no predicted
positives) is `None` with a `reason`, never 0 or NaN, so a dashboard shows a gap and an alert
rule sees "unknown", not a collapse. `to_dict` is JSON-ready (no NaN, no numpy types) and
`to_frame` is one row per window, kind and metric: the long shape SQL and Grafana read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

KINDS = ("realised", "estimated")


@dataclass(frozen=True)
class Metric:
    """One metric on one window: its value (or why there is none) and its alert bounds."""

    value: float | None
    reason: str | None = None  # set exactly when value is None
    lower: float | None = None
    upper: float | None = None
    alert: bool | None = None  # None: no value or no thresholds to judge it by

    @classmethod
    def of(cls, value: float) -> Metric:
        """Return a computed value, or not computable when it is NaN or infinite."""
        number = float(value)
        if math.isfinite(number):
            return cls(number)
        return cls(None, f"the metric is {number} on this window")

    @classmethod
    def missing(cls, reason: str) -> Metric:
        """Return a not-computable entry saying why."""
        return cls(None, reason)

    def to_dict(self) -> dict[str, Any]:
        """Return the entry as JSON-ready values."""
        return {
            "value": self.value,
            "reason": self.reason,
            "lower": self.lower,
            "upper": self.upper,
            "alert": self.alert,
        }


@dataclass(frozen=True)
class WindowResult:
    """One window's counts and its realised and estimated metrics by name."""

    index: int
    start_ms: int | None
    end_ms: int | None
    n_predictions: int
    n_labelled: int
    realised: dict[str, Metric] = field(default_factory=dict)
    estimated: dict[str, Metric] = field(default_factory=dict)

    @property
    def label_coverage(self) -> float | None:
        """Return the share of the window's predictions that have a label (None when empty)."""
        return self.n_labelled / self.n_predictions if self.n_predictions else None

    @property
    def alerts(self) -> list[tuple[str, str]]:
        """Return the (kind, metric) pairs whose value breached its thresholds."""
        return [
            (kind, name)
            for kind in KINDS
            for name, metric in getattr(self, kind).items()
            if metric.alert
        ]

    def to_dict(self) -> dict[str, Any]:
        """Return the window as JSON-ready values."""
        return {
            "index": self.index,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "n_predictions": self.n_predictions,
            "n_labelled": self.n_labelled,
            "label_coverage": self.label_coverage,
            "realised": {name: m.to_dict() for name, m in self.realised.items()},
            "estimated": {name: m.to_dict() for name, m in self.estimated.items()},
        }


@dataclass(frozen=True)
class PerformanceResult:
    """Per-window performance of one model, the thresholds' basis and the choices made."""

    task: str
    windows: list[WindowResult]
    settings: dict[str, Any] = field(default_factory=dict)  # window, threshold method, rates
    reference: dict[str, Any] = field(default_factory=dict)  # chunks and their values' spread
    calibration: dict[str, Any] | None = None  # CBPE's calibration decision, when estimated
    notes: list[str] = field(default_factory=list)

    @property
    def alerts(self) -> list[tuple[int, str, str]]:
        """Return (window index, kind, metric) for every breached threshold, oldest first."""
        return [(w.index, kind, name) for w in self.windows for kind, name in w.alerts]

    def to_dict(self) -> dict[str, Any]:
        """Return the whole result as JSON-ready values (None where a value is missing)."""
        return _plain(
            {
                "task": self.task,
                "settings": self.settings,
                "reference": self.reference,
                "calibration": self.calibration,
                "notes": list(self.notes),
                "windows": [w.to_dict() for w in self.windows],
            }
        )

    def to_frame(self) -> pd.DataFrame:
        """Return one row per window, kind and metric, with counts, value, bounds and alert."""
        import pandas as pd

        rows = [
            {
                "window": w.index,
                "start_ms": w.start_ms,
                "end_ms": w.end_ms,
                "n_predictions": w.n_predictions,
                "n_labelled": w.n_labelled,
                "label_coverage": w.label_coverage,
                "kind": kind,
                "metric": name,
                **metric.to_dict(),
            }
            for w in self.windows
            for kind in KINDS
            for name, metric in getattr(w, kind).items()
        ]
        columns = ["window", "start_ms", "end_ms", "n_predictions", "n_labelled"]
        columns += ["label_coverage", "kind", "metric", "value", "reason", "lower", "upper"]
        columns.append("alert")
        frame = pd.DataFrame(rows, columns=columns)
        # Columns that can be missing hold Python values and None (never NaN), so the frame
        # converts to JSON or SQL NULLs as `to_dict` does; `.astype(float)` gives numbers back.
        nullable = ("start_ms", "end_ms", "label_coverage", "value", "reason", "lower", "upper")
        for name in (*nullable, "alert"):
            frame[name] = pd.Series([row[name] for row in rows], dtype=object)
        return frame


def _plain(value: Any) -> Any:
    """Return `value` with numpy scalars as Python ones and NaN or infinities as None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
