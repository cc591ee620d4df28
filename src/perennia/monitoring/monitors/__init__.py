"""Monitors over the prediction log: each window's quality, drift and performance as values."""

from __future__ import annotations

from perennia.monitoring.monitors.window import WindowValues, evaluate_window

__all__ = ["WindowValues", "evaluate_window"]
