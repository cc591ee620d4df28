"""Monitoring: drift statistics now; profiles, monitors and alerts to come."""

from __future__ import annotations
