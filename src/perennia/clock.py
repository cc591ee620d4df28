"""Wall-clock time in the one unit Perennia stores: integer milliseconds since the epoch (UTC)."""

from __future__ import annotations

import time


def now_ms() -> int:
    """Return the current UTC time in milliseconds since the epoch."""
    return time.time_ns() // 1_000_000
