"""The parts every SVG chart shares: palette, round ticks, the plot frame with its axes, legends.

Styling (fonts, grid colour, hover) comes from classes the page's CSS defines; colours that
must win over that CSS are set with `style`, not presentation attributes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

PALETTE = ("#4c78a8", "#f58518", "#54a24b", "#b279a2", "#e45756", "#72b7b2", "#9d755d", "#d4a72c")
WIDTH = 480
HEIGHT = 300
MAX_POINTS = 2000
MAX_HOVER = 200
CHAR = 6.3  # average glyph width of 11px sans-serif, for layout estimates
LIMIT = 1e300  # axes clamp here: wider spans would overflow the tick arithmetic


@dataclass
class Series:
    """One line of a line chart; `notes` adds a tooltip line per point."""

    name: str
    x: Sequence
    y: Sequence
    color: str | None = None
    dashed: bool = False
    markers: bool = False
    notes: Sequence[str] | None = None


@dataclass
class Rule:
    """A labelled reference line: horizontal at y=value (axis "y") or vertical (axis "x")."""

    value: float
    label: str
    axis: str = "y"
    color: str = "#6b7280"
    where: str = "end"


@dataclass
class Mark:
    """A labelled point, such as the chosen threshold on a ROC curve."""

    x: float
    y: float
    label: str
    color: str = "#1f2937"


def num(value) -> float | None:
    """Return `value` as a finite float, or None."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def clamp(value: float) -> float:
    """Return `value` limited to ±LIMIT, the widest span an axis can draw without overflowing."""
    return min(max(value, -LIMIT), LIMIT)


def _bounds(low, high) -> tuple[float, float]:
    """Return finite bounds with low < high and a span the tick arithmetic can resolve.

    NaN (or a non-number) takes the other bound's place, infinities are clamped, an empty or
    reversed range is widened upwards, and a span narrower than 1e-12 of the values (below
    float resolution, so every tick would round to one value) is widened around its middle.
    """
    lo, hi = _finite(low), _finite(high)
    if lo is None and hi is None:
        return 0.0, 1.0
    lo = hi if lo is None else lo
    hi = lo if hi is None else hi
    if not hi > lo:
        hi = lo + max(1.0, abs(lo) * 1e-9)
    least = max(max(abs(lo), abs(hi)) * 1e-12, 1e-300)
    if hi - lo < least:
        middle = lo / 2 + hi / 2
        lo, hi = middle - least / 2, middle + least / 2
    return lo, hi


def _finite(value) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(out) else clamp(out)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Return round tick values covering [low, high]: about `count`, at least two, increasing."""
    low, high = _bounds(low, high)
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * 0.999)
    first = math.floor(low / step + 1e-9)
    last = math.ceil(high / step - 1e-9)
    # Rounding hides float noise (0.30000000000000004); finer steps keep three more digits.
    digits = max(12, 3 - math.floor(math.log10(step)))
    return [round(i * step, digits) for i in range(first, last + 1)]


def tick_label(value: float, ticks: Sequence[float]) -> str:
    """Return `value` formatted as compactly as the spacing of `ticks` allows."""
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else 1.0
    top = max(abs(t) for t in ticks) or 1.0
    step = step or top
    # k/M keep six significant digits: enough while neighbouring ticks differ in the first four.
    if 1e4 <= top < 1e15 and step * 1e4 >= top:
        return f"{value / 1e6:g}M" if top >= 1e6 else f"{value / 1e3:g}k"
    last = _last_digit(step)
    if last < -6 or top >= 1e15:
        if value == 0:
            return "0"
        mantissa, exponent = f"{value:.{max(0, math.floor(math.log10(top)) - last)}e}".split("e")
        return f"{mantissa}e{int(exponent)}"
    text = f"{value:.{max(0, -last)}f}"
    return "0" if text.strip("-0.") == "" else text


def _last_digit(step: float) -> int:
    """Return the power of ten of the last digit ticks `step` apart need (-2 for 0.25, 0 for 5)."""
    power = math.floor(math.log10(step) + 1e-9)
    return power - 1 if round(step / 10.0**power * 10) % 10 else power


def domain(values: Sequence[float], fixed: tuple[float, float] | None) -> list[float]:
    """Return the ticks of an axis: round ones around the finite `values`, or spanning `fixed`."""
    if fixed is not None:
        return nice_ticks(*fixed) if fixed != (0.0, 1.0) else [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    finite = [v for v in (num(v) for v in values) if v is not None]
    low, high = (min(finite), max(finite)) if finite else (0.0, 1.0)
    if high == low:
        low, high = low - (abs(low) or 1) * 0.5, high + (abs(high) or 1) * 0.5
    return nice_ticks(low, high)


class Frame:
    """The plot area of a chart: its margins, its two linear scales and its axes."""

    def __init__(self, x_ticks, y_ticks, *, top=12.0, height=HEIGHT, bottom=44.0, x_band=False):
        self.x_ticks, self.y_ticks = list(x_ticks), list(y_ticks)
        widest = max((len(tick_label(t, self.y_ticks)) for t in self.y_ticks), default=3)
        self.left = 30 + widest * CHAR
        self.right = WIDTH - 16
        self.top, self.bottom, self.height = top, height - bottom, height
        self.x_band = x_band

    def px(self, x: float) -> float:
        """Return the horizontal pixel of data value `x`."""
        lo, hi = self.x_ticks[0], self.x_ticks[-1]
        x = min(max(x, lo), hi)
        return self.left + (x - lo) / (hi - lo) * (self.right - self.left)

    def py(self, y: float) -> float:
        """Return the vertical pixel of data value `y`."""
        lo, hi = self.y_ticks[0], self.y_ticks[-1]
        y = min(max(y, lo), hi)
        return self.bottom - (y - lo) / (hi - lo) * (self.bottom - self.top)

    def axes(self, x_label: str, y_label: str) -> list[str]:
        """Return the grid, axis lines, tick labels and axis titles."""
        out = ['<g class="grid">']
        for t in self.y_ticks:
            y = self.py(t)
            out.append(
                f'<line x1="{self.left:.1f}" x2="{self.right:.1f}" y1="{y:.1f}" y2="{y:.1f}"/>'
            )
        if not self.x_band:
            for t in self.x_ticks:
                x = self.px(t)
                out.append(
                    f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{self.top:.1f}" y2="{self.bottom:.1f}"/>'
                )
        out.append('</g><g class="axis">')
        out.append(
            f'<line x1="{self.left:.1f}" x2="{self.right:.1f}" y1="{self.bottom:.1f}" y2="{self.bottom:.1f}"/>'
        )
        out.append(
            f'<line x1="{self.left:.1f}" x2="{self.left:.1f}" y1="{self.top:.1f}" y2="{self.bottom:.1f}"/>'
        )
        for t in self.y_ticks:
            label = tick_label(t, self.y_ticks)
            out.append(
                f'<text x="{self.left - 6:.1f}" y="{self.py(t) + 4:.1f}" text-anchor="end">{label}</text>'
            )
        if not self.x_band:
            for t in self.x_ticks:
                label = tick_label(t, self.x_ticks)
                out.append(
                    f'<text x="{self.px(t):.1f}" y="{self.bottom + 16:.1f}" text-anchor="middle">{label}</text>'
                )
        mid_x, mid_y = (self.left + self.right) / 2, (self.top + self.bottom) / 2
        out.append(
            f'<text class="label" x="{mid_x:.1f}" y="{self.height - 8:.1f}" text-anchor="middle">{escape(x_label)}</text>'
        )
        out.append(
            f'<text class="label" transform="translate(14 {mid_y:.1f}) rotate(-90)" text-anchor="middle">{escape(y_label)}</text>'
        )
        out.append("</g>")
        return out

    def place_labels(self, rules: Sequence[Rule]) -> None:
        """Lay out vertical rules' labels in rows above the plot, shrinking it to make room."""
        rows: list[list[tuple[float, float]]] = []
        self.label_rows: dict[int, tuple[float, int]] = {}
        for i, rule in enumerate(rules):
            value = num(rule.value)
            if rule.axis != "x" or value is None:
                continue
            half = len(rule.label) * CHAR * 0.5 + 3
            x = min(max(self.px(value), self.left + half), self.right - half)
            row = next(
                (
                    k
                    for k, used in enumerate(rows)
                    if all(x + half < a or x - half > b for a, b in used)
                ),
                len(rows),
            )
            if row == len(rows):
                rows.append([])
            rows[row].append((x - half, x + half))
            self.label_rows[i] = (x, row)
        self.top += 14 * len(rows)

    def rules(self, rules: Sequence[Rule]) -> list[str]:
        """Return reference lines with their labels (vertical ones above the plot, see place_labels)."""
        out, placed = [], getattr(self, "label_rows", {})
        for i, rule in enumerate(rules):
            value = num(rule.value)
            if value is None:
                continue
            label, paint = escape(rule.label), f'style="fill:{rule.color}"'
            if rule.axis == "x":
                x = self.px(value)
                out.append(
                    f'<line class="rule" stroke="{rule.color}" x1="{x:.1f}" x2="{x:.1f}" y1="{self.top:.1f}" y2="{self.bottom:.1f}"><title>{label}</title></line>'
                )
                if i in placed:
                    lx, row = placed[i]
                    out.append(
                        f'<text class="note" {paint} x="{lx:.1f}" y="{self.top - 5 - 14 * row:.1f}" text-anchor="middle">{label}</text>'
                    )
                continue
            y = self.py(value)
            dy = -5 if y - self.top > 16 else 13
            x, anchor = (
                (self.left + 4, "start") if rule.where == "start" else (self.right - 4, "end")
            )
            out.append(
                f'<line class="rule" stroke="{rule.color}" x1="{self.left:.1f}" x2="{self.right:.1f}" y1="{y:.1f}" y2="{y:.1f}"><title>{label}</title></line>'
            )
            out.append(
                f'<text class="note" {paint} x="{x:.1f}" y="{y + dy:.1f}" text-anchor="{anchor}">{label}</text>'
            )
        return out


def legend(items: Sequence[tuple[str, str, str]], top: float = 8.0) -> tuple[list[str], float]:
    """Return legend rows for (name, colour, kind) items and the height they take.

    `kind` is "line", "dash" or "box". Items wrap onto new rows at the chart's width.
    """
    out, x, y = [], 16.0, top + 8
    for name, colour, kind in items:
        shown = name if len(name) <= 42 else name[:41] + "…"
        width = 24 + len(shown) * CHAR + 14
        if x + width > WIDTH - 8 and x > 16:
            x, y = 16.0, y + 17
        if kind == "box":
            swatch = (
                f'<rect x="{x:.1f}" y="{y - 5:.1f}" width="12" height="10" rx="2" fill="{colour}"/>'
            )
        else:
            dash = ' stroke-dasharray="5 3"' if kind == "dash" else ""
            swatch = f'<line x1="{x:.1f}" x2="{x + 16:.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="{colour}" stroke-width="2.5"{dash}/>'
        out.append(
            f'<g class="legend">{swatch}<text x="{x + 22:.1f}" y="{y + 4:.1f}">{escape(shown)}<title>{escape(name)}</title></text></g>'
        )
        x += width
    return out, (y - top + 12) if items else 0.0


def svg_document(title: str, height: float, body: Sequence[str]) -> str:
    """Return the `<svg>` element: scalable viewBox, accessible title, then `body`."""
    label = escape(title)
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height:.0f}" role="img" aria-label="{label}" '
        f'xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMidYMid meet"><title>{label}</title>'
        + "".join(body)
        + "</svg>"
    )
