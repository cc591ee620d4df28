"""Monitoring: drift, reference profiles, model performance per window, alerts.

    from perennia.monitoring import drift, profile

    report = drift(reference_df, current_df)          # or drift(profile(reference), window)
    report.drifted, report.drifted_columns
    report.save_html("drift.html")

Everything is imported on first use, so `import perennia.monitoring` costs nothing until a
function is called. The sub-packages: `stats` (two-sample tests), `drift`, `profiles`,
`performance` (realised and CBPE-estimated metrics, thresholds), `alerts` (rules, channels,
Prometheus and Grafana).
"""

from __future__ import annotations

import importlib
from typing import Any

_HOME = {
    "drift": "perennia.monitoring.data_drift.engine",
    "DriftReport": "perennia.monitoring.data_drift.report",
    "ColumnDrift": "perennia.monitoring.data_drift.report",
    "DriftSettings": "perennia.monitoring.data_drift.settings",
    "multivariate_drift": "perennia.monitoring.data_drift.multivariate",
    "profile": "perennia.monitoring.profiles.build",
    "DatasetProfile": "perennia.monitoring.profiles.dataset",
    "performance": "perennia.monitoring.model_performance.estimate",
    "PerformanceResult": "perennia.monitoring.model_performance.result",
    "AlertRule": "perennia.monitoring.alerts.rules",
    "create_monitor": "perennia.monitoring.monitors.sdk",
    "get_monitor": "perennia.monitoring.monitors.sdk",
    "list_monitors": "perennia.monitoring.monitors.sdk",
    "delete_monitor": "perennia.monitoring.monitors.sdk",
    "monitor_values": "perennia.monitoring.monitors.sdk",
    "run_monitor": "perennia.monitoring.monitors.runner",
    "log_reference_profile": "perennia.monitoring.monitors.reference",
    "load_reference": "perennia.monitoring.monitors.reference",
}
_PACKAGES = ("stats", "data_drift", "profiles", "model_performance", "alerts", "monitors")

__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    if name in _PACKAGES:
        return importlib.import_module(f"perennia.monitoring.{name}")
    if name not in _HOME:
        raise AttributeError(f"module 'perennia.monitoring' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__ + list(_PACKAGES))
