"""Data drift: `drift(reference, current)` compares every column once and decides across them."""

from __future__ import annotations

from perennia.monitoring.data_drift.engine import drift
from perennia.monitoring.data_drift.report import ColumnDrift, DriftReport
from perennia.monitoring.data_drift.settings import DriftSettings

__all__ = ["ColumnDrift", "DriftReport", "DriftSettings", "drift"]
