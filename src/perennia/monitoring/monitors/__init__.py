"""Monitors over the prediction log: each window's quality, drift and performance as values.

`create_monitor` stores one, `run_monitor` computes every complete window since the last,
`monitor_values` reads the time series back, and `MonitorScheduler` runs scheduled monitors
inside `perennia server`.
"""

from __future__ import annotations

from perennia.monitoring.monitors.reference import load_reference, log_reference_profile
from perennia.monitoring.monitors.runner import run_monitor
from perennia.monitoring.monitors.scheduler import MonitorScheduler
from perennia.monitoring.monitors.sdk import (
    create_monitor,
    delete_monitor,
    get_monitor,
    list_monitors,
    monitor_values,
)
from perennia.monitoring.monitors.window import WindowValues, evaluate_window

__all__ = [
    "MonitorScheduler",
    "WindowValues",
    "create_monitor",
    "delete_monitor",
    "evaluate_window",
    "get_monitor",
    "list_monitors",
    "load_reference",
    "log_reference_profile",
    "monitor_values",
    "run_monitor",
]
