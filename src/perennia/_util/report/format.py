"""Text for report pages: numbers for people, escaping, HTML tables, number cells and badges."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from html import escape

DASH = "—"


def number(value) -> str:
    """Return `value` as display text: 4 significant digits, thousands separators, None as a dash."""
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if not isinstance(value, float):
        try:
            value = float(value)
        except (TypeError, ValueError):
            return escape(str(value))
    if not math.isfinite(value):
        return DASH
    magnitude = abs(value)
    if magnitude >= 1e4:
        return f"{value:,.0f}" if magnitude < 1e15 else f"{value:.3e}"
    if value == 0:
        return "0"
    if magnitude < 1e-4:
        return f"{value:.3e}"
    text = f"{value:.4g}"
    return text if "e" not in text else f"{value:,.0f}"


def count(value) -> str:
    """Return an integer count with thousands separators (a dash when missing)."""
    if value is None:
        return DASH
    try:
        return f"{round(float(value)):,}"
    except (TypeError, ValueError, OverflowError):
        return DASH


def percent(value) -> str:
    """Return a fraction as a percentage with one decimal (a dash when missing)."""
    if value is None or not isinstance(value, int | float) or not math.isfinite(value):
        return DASH
    return f"{value:.1%}"


def text(value) -> str:
    """Return any user-supplied value as escaped HTML text."""
    return DASH if value is None else escape(str(value), quote=True)


def interval(bounds) -> str:
    """Return "low – high" for an interval (such as a bootstrap CI), or a dash when it is missing."""
    if not bounds or len(bounds) != 2 or any(b is None for b in bounds):
        return DASH
    return f"{number(bounds[0])} – {number(bounds[1])}"


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], *, cls: str = "") -> str:
    """Return an HTML table from escaped header and cell strings (a cell may be a whole <td>).

    Columns whose every cell is a number cell get right-aligned headers.
    """
    rows = [[_td(c) for c in row] for row in rows]
    numeric = [
        bool(rows) and all(i < len(r) and r[i].startswith('<td class="num') for r in rows)
        for i in range(len(headers))
    ]
    head = "".join(
        f'<th class="num">{h}</th>' if n else f"<th>{h}</th>"
        for h, n in zip(headers, numeric, strict=True)
    )
    body = "".join("<tr>" + "".join(row) + "</tr>" for row in rows)
    klass = f' class="{cls}"' if cls else ""
    return f'<div class="table-wrap"><table{klass}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _td(cell: str) -> str:
    return cell if cell.startswith("<td") else f"<td>{cell}</td>"


def num_cell(value, *, bar: bool = False) -> str:
    """Return a right-aligned number cell; `bar` adds a small meter of the value (a 0–1 fraction)."""
    if bar and isinstance(value, int | float) and math.isfinite(value):
        share = min(max(value, 0.0), 1.0)
        meter = f'<span class="meter" style="--v:{share * 100:.1f}%" aria-hidden="true"></span>'
        return f'<td class="num">{meter}{number(value)}</td>'
    return f'<td class="num">{number(value)}</td>'


def badge(kind: str, words: str) -> str:
    """Return a coloured status pill; `kind` is one of ok, warn, bad, info."""
    return f'<span class="badge {kind}">{escape(words)}</span>'
