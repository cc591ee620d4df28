"""Dependency-free SVG charts for every report: line, grouped bar, heatmap, scatter and histogram.

Every chart is one `<svg>` string with a `viewBox` (so it scales with its container), a
`<title>` and `aria-label`, hover `<title>` tooltips on its points and bars, and one calm palette.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from perennia._util.report.axes import (
    CHAR,
    HEIGHT,
    MAX_HOVER,
    MAX_POINTS,
    PALETTE,
    WIDTH,
    Frame,
    Mark,
    Rule,
    Series,
    clamp,
    domain,
    legend,
    nice_ticks,
    num,
    svg_document,
    tick_label,
)

__all__ = [
    "MAX_POINTS",
    "PALETTE",
    "Mark",
    "Rule",
    "Series",
    "bar_chart",
    "heatmap",
    "histogram",
    "line_chart",
    "nice_ticks",
    "scatter",
    "tick_label",
]


def _points(xs: Sequence, ys: Sequence) -> list[tuple[int, float, float]]:
    pairs = [(i, num(x), num(y)) for i, (x, y) in enumerate(zip(xs, ys, strict=False))]
    return [(i, x, y) for i, x, y in pairs if x is not None and y is not None]


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _hover(
    frame: Frame, series: Series, colour: str, points, x_name: str, y_name: str
) -> list[str]:
    stride = max(1, math.ceil(len(points) / MAX_HOVER))
    out, radius = [], 3.5 if series.markers else 4.5
    kind = "dot" if series.markers else "hit"
    for i, x, y in points[::stride]:
        tip = f"{series.name}\n{x_name}: {_fmt(x)}\n{y_name}: {_fmt(y)}"
        if series.notes is not None and i < len(series.notes) and series.notes[i]:
            tip += f"\n{series.notes[i]}"
        out.append(
            f'<circle class="{kind}" cx="{frame.px(x):.1f}" cy="{frame.py(y):.1f}" r="{radius}" fill="{colour}"><title>{escape(tip)}</title></circle>'
        )
    return out


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    x_label: str,
    y_label: str,
    x_domain: tuple[float, float] | None = None,
    y_domain: tuple[float, float] | None = None,
    diagonal: str | None = None,
    rules: Sequence[Rule] = (),
    marks: Sequence[Mark] = (),
) -> str:
    """Return a line chart of `series`, with an optional labelled y=x diagonal, rules and marks."""
    cleaned = [(s, _points(s.x, s.y)) for s in series]
    cleaned = [(s, pts) for s, pts in cleaned if pts]
    colours = [s.color or PALETTE[i % len(PALETTE)] for i, (s, _) in enumerate(cleaned)]
    items = [
        (s.name, c, "dash" if s.dashed else "line")
        for (s, _), c in zip(cleaned, colours, strict=True)
    ]
    if diagonal:
        items.append((diagonal, "#9ca3af", "dash"))
    legend_rows, legend_height = legend(items)
    xs = [x for _, pts in cleaned for _, x, _ in pts] + [m.x for m in marks]
    ys = [y for _, pts in cleaned for _, _, y in pts] + [m.y for m in marks]
    ys += [r.value for r in rules if r.axis == "y" and num(r.value) is not None]
    xs += [r.value for r in rules if r.axis == "x" and num(r.value) is not None]
    height = HEIGHT + legend_height
    frame = Frame(domain(xs, x_domain), domain(ys, y_domain), top=legend_height + 10, height=height)
    frame.place_labels(rules)
    body = frame.axes(x_label, y_label) + legend_rows
    if diagonal:
        lo = max(frame.x_ticks[0], frame.y_ticks[0])
        hi = min(frame.x_ticks[-1], frame.y_ticks[-1])
        body.append(
            f'<line class="diagonal" x1="{frame.px(lo):.1f}" y1="{frame.py(lo):.1f}" x2="{frame.px(hi):.1f}" y2="{frame.py(hi):.1f}"><title>{escape(diagonal)}</title></line>'
        )
    body += frame.rules(rules)
    for (s, pts), colour in zip(cleaned, colours, strict=True):
        path = " ".join(f"{frame.px(x):.1f},{frame.py(y):.1f}" for _, x, y in pts)
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        body.append(
            f'<polyline class="series" points="{path}" stroke="{colour}"{dash}><title>{escape(s.name)}</title></polyline>'
        )
        body += _hover(frame, s, colour, pts, x_label, y_label)
    body += _marks(frame, marks, x_label, y_label)
    return svg_document(title, height, body)


def _marks(frame: Frame, marks: Sequence[Mark], x_label: str, y_label: str) -> list[str]:
    out, taken = [], []
    for mark in marks:
        if num(mark.x) is None or num(mark.y) is None:
            continue
        x, y = frame.px(mark.x), frame.py(mark.y)
        anchor, dx = ("end", -9) if x > (frame.left + frame.right) * 0.6 else ("start", 9)
        ty = y + 14
        while any(abs(ty - oy) < 13 and abs(x - ox) < 120 for ox, oy in taken):
            ty += 13
        taken.append((x, ty))
        tip = escape(f"{mark.label}\n{x_label}: {_fmt(mark.x)}\n{y_label}: {_fmt(mark.y)}")
        out.append(
            f'<circle class="mark" cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{mark.color}"><title>{tip}</title></circle>'
        )
        out.append(
            f'<text class="note" style="fill:{mark.color}" x="{x + dx:.1f}" y="{ty:.1f}" text-anchor="{anchor}">{escape(mark.label)}</text>'
        )
    return out


def _short(label: str, limit: int = 14) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def bar_chart(
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence]],
    *,
    title: str,
    y_label: str,
    x_label: str = "",
    y_domain: tuple[float, float] | None = None,
    rules: Sequence[Rule] = (),
    flagged: Sequence[str] = (),
) -> str:
    """Return a grouped bar chart: one group per category, one bar per series; flagged categories in red."""
    categories = [str(c) for c in categories]
    items = [(name, PALETTE[i % len(PALETTE)], "box") for i, (name, _) in enumerate(series)]
    legend_rows, legend_height = legend(items) if len(series) > 1 else ([], 0.0)
    values = [num(v) for _, vals in series for v in vals] + [num(r.value) for r in rules]
    values = [v for v in values if v is not None] + [0.0]
    longest = max((len(_short(c)) for c in categories), default=1)
    slot = (WIDTH - 110) / max(len(categories), 1)
    tilt = longest * CHAR > slot - 4
    bottom = 44 + (longest * CHAR * 0.6 if tilt else 0)
    height = HEIGHT + legend_height + (bottom - 44)
    frame = Frame(
        [0, 1],
        domain(values, y_domain),
        top=legend_height + 10,
        height=height,
        bottom=bottom,
        x_band=True,
    )
    body = frame.axes(x_label, y_label) + legend_rows
    slot = (frame.right - frame.left) / max(len(categories), 1)
    bar = min(38.0, slot * 0.8 / max(len(series), 1))
    base = frame.py(max(frame.y_ticks[0], 0.0))
    for ci, category in enumerate(categories):
        start = frame.left + slot * ci + (slot - bar * len(series)) / 2
        for si, (name, vals) in enumerate(series):
            value = num(vals[ci]) if ci < len(vals) else None
            x = start + si * bar
            tip = escape(f"{category}\n{name}: {'—' if value is None else _fmt(value)}")
            if value is None:
                body.append(
                    f'<text class="note" x="{x + bar / 2:.1f}" y="{base - 4:.1f}" text-anchor="middle">—<title>{tip}</title></text>'
                )
                continue
            top = frame.py(value)
            colour = PALETTE[si % len(PALETTE)]
            edge = ' class="bar flagged"' if category in flagged else ' class="bar"'
            body.append(
                f'<rect{edge} x="{x + 1:.1f}" y="{min(top, base):.1f}" width="{max(bar - 2, 1):.1f}" height="{abs(base - top):.1f}" fill="{colour}"><title>{tip}</title></rect>'
            )
        body.append(
            _category_label(
                frame, category, frame.left + slot * (ci + 0.5), tilt, category in flagged
            )
        )
    body += frame.rules(rules)
    return svg_document(title, height, body)


def _category_label(frame: Frame, category: str, x: float, tilt: bool, flagged: bool) -> str:
    cls = ' class="flag"' if flagged else ""
    text = escape(_short(category)) + (" ⚑" if flagged else "")
    y = frame.bottom + 16
    if tilt:
        return f'<text{cls} transform="translate({x:.1f} {y - 4:.1f}) rotate(-35)" text-anchor="end">{text}<title>{escape(category)}</title></text>'
    return f'<text{cls} x="{x:.1f}" y="{y:.1f}" text-anchor="middle">{text}<title>{escape(category)}</title></text>'


def heatmap(labels: Sequence, matrix: Sequence[Sequence], *, title: str) -> str:
    """Return a confusion-matrix heatmap: counts and row-normalised % per cell (rows true, columns predicted)."""
    labels = [str(v) for v in labels][:25]
    n = max(len(labels), 1)
    rows = [[num(v) or 0.0 for v in row[: len(labels)]] for row in matrix[: len(labels)]]
    widest = min(max((len(lab) for lab in labels), default=1), 16)
    left = 36 + widest * CHAR
    cell = min(88.0, (WIDTH - left - 16) / n)
    top, bottom = 8.0, 8.0 + cell * n
    tilt = widest * CHAR > cell - 4
    band = widest * CHAR * 0.71 + 16 if tilt else 20
    height = bottom + band + 44
    size = max(8.0, min(13.0, cell / 4.2))
    body = []
    for i, row in enumerate(rows):
        total = sum(row)
        for j, count in enumerate(row):
            share = count / total if total else 0.0
            body.append(
                _cell(
                    left + j * cell,
                    top + i * cell,
                    cell,
                    count,
                    share,
                    i == j,
                    size,
                    labels[i],
                    labels[j],
                )
            )
    for k, lab in enumerate(labels):
        short, tip = escape(_short(lab, 16)), f"<title>{escape(lab)}</title>"
        body.append(
            f'<text x="{left - 6:.1f}" y="{top + (k + 0.5) * cell + 4:.1f}" text-anchor="end">{short}{tip}</text>'
        )
        x = left + (k + 0.5) * cell
        if tilt:
            body.append(
                f'<text transform="translate({x + 3:.1f} {bottom + 10:.1f}) rotate(-45)" text-anchor="end">{short}{tip}</text>'
            )
        else:
            body.append(
                f'<text x="{x:.1f}" y="{bottom + 15:.1f}" text-anchor="middle">{short}{tip}</text>'
            )
    body.append(
        f'<text class="label" x="{left + cell * n / 2:.1f}" y="{bottom + band + 10:.1f}" text-anchor="middle">Predicted label</text>'
    )
    body.append(
        f'<text class="label" transform="translate(12 {top + cell * n / 2:.1f}) rotate(-90)" text-anchor="middle">True label</text>'
    )
    body.append(
        f'<text class="note" x="{left:.1f}" y="{height - 8:.1f}">Count and share of the true-label row. Blue: correct; red: errors.</text>'
    )
    return svg_document(title, height, body)


def _cell(x, y, size, count, share, diagonal, font, true_label, predicted) -> str:
    base = (47, 95, 152) if diagonal else (196, 78, 82)
    strength = 0.08 + 0.92 * share if count else 0.0
    rgb = [round(255 + (c - 255) * strength) for c in base]
    ink = "#ffffff" if strength > 0.55 else "#1f2937"
    tip = escape(
        f"True {true_label}, predicted {predicted}\n{count:,.0f} rows ({share:.1%} of the row)"
    )
    parts = [
        f'<g class="cell"><rect x="{x + 1:.1f}" y="{y + 1:.1f}" width="{size - 2:.1f}" height="{size - 2:.1f}" rx="3" fill="rgb({rgb[0]},{rgb[1]},{rgb[2]})"><title>{tip}</title></rect>'
    ]
    centre, middle = x + size / 2, y + size / 2
    if size >= 30:
        parts.append(
            f'<text x="{centre:.1f}" y="{middle - 1:.1f}" text-anchor="middle" style="fill:{ink};font-size:{font:.1f}px;font-weight:600">{count:,.0f}</text>'
        )
        parts.append(
            f'<text x="{centre:.1f}" y="{middle + font:.1f}" text-anchor="middle" style="fill:{ink};font-size:{font * 0.85:.1f}px">{share:.1%}</text>'
        )
    else:
        parts.append(
            f'<text x="{centre:.1f}" y="{middle + font / 3:.1f}" text-anchor="middle" style="fill:{ink};font-size:{font:.1f}px">{share:.0%}</text>'
        )
    return "".join(parts) + "</g>"


def scatter(
    xs: Sequence, ys: Sequence, *, title: str, x_label: str, y_label: str, zero_line: bool = True
) -> str:
    """Return a scatter plot (at most MAX_POINTS points, evenly thinned) with an optional y=0 line."""
    points = _points(xs, ys)
    stride = max(1, math.ceil(len(points) / MAX_POINTS))
    points = points[::stride]
    y_values = [y for _, _, y in points] + ([0.0] if zero_line else [])
    frame = Frame(domain([x for _, x, _ in points], None), domain(y_values, None))
    body = frame.axes(x_label, y_label)
    if zero_line:
        body += frame.rules([Rule(0.0, "zero")])
    for _, x, y in points:
        tip = escape(f"{x_label}: {_fmt(x)}\n{y_label}: {_fmt(y)}")
        body.append(
            f'<circle class="pt" cx="{frame.px(x):.1f}" cy="{frame.py(y):.1f}" r="2.6"><title>{tip}</title></circle>'
        )
    return svg_document(title, HEIGHT, body)


def histogram(
    values: Sequence, *, title: str, x_label: str, bins: int = 30, rules: Sequence[Rule] = ()
) -> str:
    """Return a histogram of `values` in `bins` equal-width bins, with optional vertical rules."""
    finite = [clamp(v) for v in (num(v) for v in values) if v is not None]
    low, high = (min(finite), max(finite)) if finite else (0.0, 1.0)
    if high == low:
        pad = max(0.5, abs(low) * 1e-9)  # 0.5 alone vanishes next to huge values
        low, high = low - pad, high + pad
    width = (high - low) / bins
    counts = [0] * bins
    for v in finite:
        counts[min(int((v - low) / width), bins - 1)] += 1
    frame = Frame(nice_ticks(low, high), domain([0, max(counts, default=1)], None))
    rules = [Rule(r.value, r.label, "x", r.color) for r in rules]
    frame.place_labels(rules)
    body = frame.axes(x_label, "Rows")
    for k, count in enumerate(counts):
        x0, x1 = frame.px(low + k * width), frame.px(low + (k + 1) * width)
        y = frame.py(count)
        tip = f"{_fmt(low + k * width)} to {_fmt(low + (k + 1) * width)}: {count:,} rows"
        body.append(
            f'<rect class="bar" x="{x0 + 0.5:.1f}" y="{y:.1f}" width="{max(x1 - x0 - 1, 0.5):.1f}" height="{frame.bottom - y:.1f}" fill="{PALETTE[0]}"><title>{tip}</title></rect>'
        )
    body += frame.rules(rules)
    return svg_document(title, HEIGHT, body)
