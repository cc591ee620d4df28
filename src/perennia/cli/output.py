"""Terminal output shared by every command: rich consoles, tables and human-friendly values."""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from perennia.entities import ms_to_datetime


def _width(stream) -> int | None:
    # Rich falls back to 80 columns when output is piped, which folds ordinary tables.
    return None if stream.isatty() or "COLUMNS" in os.environ else 120


console = Console(width=_width(sys.stdout))
err_console = Console(stderr=True, width=_width(sys.stderr))

STATUS_STYLES = {
    "FINISHED": "green",
    "RUNNING": "cyan",
    "FAILED": "red",
    "KILLED": "magenta",
    "SCHEDULED": "yellow",
}


def fmt_time(ms: int | None, short: bool = False) -> str:
    """Return a UTC timestamp as `YYYY-MM-DD HH:MM:SS` (or `MM-DD HH:MM` if short), or ''."""
    moment = ms_to_datetime(ms)
    if moment is None:
        return ""
    return moment.strftime("%m-%d %H:%M" if short else "%Y-%m-%d %H:%M:%S")


def fmt_duration(start_ms: int | None, end_ms: int | None) -> str:
    """Return a compact duration such as `4.2s` or `3m05s`."""
    if start_ms is None or end_ms is None:
        return ""
    seconds = max(0.0, (end_ms - start_ms) / 1000)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}m{seconds:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


def fmt_value(value: Any) -> str:
    """Return a number with four significant decimals, or the value as text."""
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        return (
            f"{value:.4g}" if abs(value) >= 1e4 or (value and abs(value) < 1e-3) else f"{value:.4f}"
        )
    return "" if value is None else str(value)


def fmt_status(status: str) -> str:
    """Return the status wrapped in its colour."""
    style = STATUS_STYLES.get(status, "white")
    return f"[{style}]{status}[/{style}]"


def table(
    title: str | None,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    no_wrap: int = 0,
    **options: Any,
) -> Table:
    """Return a rich table with the house style; the first `no_wrap` columns never wrap."""
    options.setdefault("box", box.SIMPLE_HEAD)
    options.setdefault("pad_edge", False)
    result = Table(
        title=title, title_justify="left", title_style="bold", header_style="bold cyan", **options
    )
    for index, column in enumerate(columns):
        result.add_column(column, overflow="fold", no_wrap=index < no_wrap)
    for row in rows:
        result.add_row(*[fmt_value(v) if not isinstance(v, str) else v for v in row])
    return result


def key_values(title: str, values: dict[str, Any], sort: bool = True) -> Table:
    """Return a two-column table of a dict (sorted by key unless `sort` is False)."""
    return table(
        title, ["key", "value"], sorted(values.items()) if sort else values.items(), no_wrap=1
    )
