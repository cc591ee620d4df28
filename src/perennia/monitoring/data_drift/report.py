"""What `drift` returns: one entry per column and the dataset's verdict, JSON-able."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from perennia.monitoring.data_drift.settings import DriftSettings
from perennia.monitoring.stats.result import TestResult

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class ColumnDrift:
    """One column's comparison. `computable` False means `reason` says why nothing was tested."""

    column: str
    kind: str  # "numeric" | "categorical" | "binary" | "unknown"
    computable: bool
    reason: str | None = None
    rows_ref: int = 0  # non-missing values compared
    rows_cur: int = 0
    null_share_ref: float | None = None
    null_share_cur: float | None = None
    test: TestResult | None = None  # the test whose p-value decides
    effect_name: str | None = None
    effect: float | None = None
    scores: dict[str, TestResult] = field(default_factory=dict)
    p_adjusted: float | None = None
    drifted: bool | None = None
    null_test: TestResult | None = None
    null_p_adjusted: float | None = None
    null_shift: bool = False
    out_of_range_share: float | None = None
    range_violation: bool = False
    new_categories: dict[Any, float] = field(default_factory=dict)
    vanished_categories: dict[Any, float] = field(default_factory=dict)
    plot: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the entry as a JSON-able dict (no NaN or infinity: those become None)."""
        return {
            "column": self.column,
            "kind": self.kind,
            "computable": self.computable,
            "reason": self.reason,
            "rows_ref": self.rows_ref,
            "rows_cur": self.rows_cur,
            "null_share_ref": _finite(self.null_share_ref),
            "null_share_cur": _finite(self.null_share_cur),
            "test": _result(self.test),
            "effect_name": self.effect_name,
            "effect": _finite(self.effect),
            "scores": {name: _result(value) for name, value in self.scores.items()},
            "p_adjusted": _finite(self.p_adjusted),
            "drifted": self.drifted,
            "null_test": _result(self.null_test),
            "null_p_adjusted": _finite(self.null_p_adjusted),
            "null_shift": self.null_shift,
            "out_of_range_share": _finite(self.out_of_range_share),
            "range_violation": self.range_violation,
            "new_categories": {str(k): v for k, v in self.new_categories.items()},
            "vanished_categories": {str(k): v for k, v in self.vanished_categories.items()},
        }


@dataclass(frozen=True)
class DriftReport:
    """Per-column drift and the dataset verdict (`drifted` None when nothing was computable)."""

    columns: tuple[ColumnDrift, ...]
    settings: DriftSettings
    rows_ref: int
    rows_cur: int
    drifted: bool | None
    multivariate: dict[str, Any] = field(default_factory=dict)

    @property
    def drifted_columns(self) -> list[str]:
        """Return the names of the drifted columns, largest effect first."""
        hits = [c for c in self.columns if c.drifted or c.null_shift]
        return [c.column for c in sorted(hits, key=lambda c: -(c.effect or 0.0))]

    @property
    def share_drifted(self) -> float | None:
        """Return the share of judged columns (comparable, or with a missing-share test) that
        drifted or changed their missing share (None when none could be judged)."""
        judged = [c for c in self.columns if c.computable or c.null_test is not None]
        if not judged:
            return None
        return sum(1 for c in judged if c.drifted or c.null_shift) / len(judged)

    def column(self, name: str) -> ColumnDrift:
        """Return the entry for column `name`; KeyError if the report has none."""
        for entry in self.columns:
            if entry.column == name:
                return entry
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """Return the report as a JSON-able dict."""
        return {
            "rows_ref": self.rows_ref,
            "rows_cur": self.rows_cur,
            "drifted": self.drifted,
            "share_drifted": self.share_drifted,
            "drifted_columns": self.drifted_columns,
            "settings": self.settings.to_dict(),
            "columns": [c.to_dict() for c in self.columns],
            "multivariate": self.multivariate,
        }

    def to_frame(self) -> pd.DataFrame:
        """Return one row per column: kind, test, p-values, effect, verdict, data quality."""
        import pandas as pd

        rows = []
        for c in self.columns:
            rows.append(
                {
                    "column": c.column,
                    "kind": c.kind,
                    "computable": c.computable,
                    "test": c.test.method if c.test else None,
                    "statistic": c.test.statistic if c.test else None,
                    "p_value": c.test.p_value if c.test else None,
                    "p_adjusted": c.p_adjusted,
                    "effect_name": c.effect_name,
                    "effect": c.effect,
                    "drifted": c.drifted,
                    "null_share_ref": c.null_share_ref,
                    "null_share_cur": c.null_share_cur,
                    "null_shift": c.null_shift,
                    "out_of_range_share": c.out_of_range_share,
                    "new_categories": len(c.new_categories),
                    "reason": c.reason,
                }
            )
        return pd.DataFrame(rows)

    def to_html(self, title: str = "Drift report") -> str:
        """Return a self-contained HTML page: the drift table and each column's distributions."""
        from perennia.monitoring.data_drift.html import render

        return render(self, title)

    def save_html(self, path: Any, title: str = "Drift report") -> None:
        """Write `to_html()` to `path`."""
        from pathlib import Path

        Path(path).write_text(self.to_html(title), encoding="utf-8")


def _finite(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def _result(value: TestResult | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return {
        "method": value.method,
        "statistic": _finite(value.statistic),
        "p_value": _finite(value.p_value),
        "effect": _finite(value.effect),
    }
