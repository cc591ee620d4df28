"""The model card's lineage diagram as inline SVG: datasets -> run -> version -> aliases."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from perennia._util.report import format as fmt

LINEAGE_WIDTH = 820
_ROW, _BOX, _TOP = 66.0, 54.0, 30.0
# Column x and width: datasets, run, version, aliases.
_COLUMNS = {
    "data": (4.0, 220.0),
    "run": (272.0, 210.0),
    "version": (534.0, 128.0),
    "alias": (708.0, 108.0),
}
_FILL = {"data": "#eef3f9", "run": "#f3effa", "version": "#e6f4ea", "alias": "#fff4d6"}


def _clip(text: Any, limit: int) -> str:
    text = "" if text is None else str(text)
    return escape(text if len(text) <= limit else text[: limit - 1] + "…")


def _box(column: str, y: float, lines: Sequence[str], tip: str, dashed: bool = False) -> str:
    x, width = _COLUMNS[column]
    limit = int(width / 6.6)
    dash = ' stroke-dasharray="5 4"' if dashed else ""
    parts = [
        f'<g><title>{escape(tip)}</title><rect x="{x}" y="{y - _BOX / 2:.1f}" width="{width}" '
        f'height="{_BOX}" rx="8" fill="{_FILL[column]}" stroke="#c9ced6"{dash}/>'
    ]
    for i, line in enumerate(lines[:3]):
        cls = "label" if i == 0 else "sub"
        parts.append(
            f'<text class="{cls}" x="{x + 10}" y="{y - _BOX / 2 + 17 + i * 14:.1f}">{_clip(line, limit)}</text>'
        )
    return "".join(parts) + "</g>"


def _arrow(start: str, y1: float, end: str, y2: float) -> str:
    x1 = sum(_COLUMNS[start])
    x2 = _COLUMNS[end][0]
    mid = (x1 + x2) / 2
    return (
        f'<path d="M{x1},{y1:.1f} C{mid},{y1:.1f} {mid},{y2:.1f} {x2 - 6},{y2:.1f}" fill="none" '
        f'stroke="#9ca3af" stroke-width="1.5"/><polygon points="{x2 - 7},{y2 - 4:.1f} {x2},{y2:.1f} '
        f'{x2 - 7},{y2 + 4:.1f}" fill="#9ca3af"/>'
    )


def lineage_svg(graph: dict[str, Any]) -> str:
    """Return the lineage as an SVG flow: datasets -> run -> version -> aliases."""
    datasets = graph.get("datasets") or []
    aliases = graph.get("aliases") or []
    run, version = graph.get("run"), graph["model_version"]
    rows = max(len(datasets), len(aliases), 1)
    height = _TOP + rows * _ROW + 6

    def centre(i: int, n: int) -> float:
        return _TOP + (rows - n) * _ROW / 2 + i * _ROW + _ROW / 2

    body = [
        f'<text class="label" x="{x}" y="16">{title}</text>'
        for (x, _), title in zip(
            _COLUMNS.values(), ("Data", "Run", "Version", "Aliases"), strict=True
        )
    ]
    middle = centre(0, 1)
    for i, d in enumerate(datasets):
        y = centre(i, len(datasets))
        digest = d.get("digest") or ""
        body.append(
            _box(
                "data",
                y,
                [
                    d.get("name"),
                    f"{d.get('context') or 'input'} · {fmt.count(d.get('rows'))} rows",
                    f"sha256 {digest[:16]}…",
                ],
                f"{d.get('name')}\nsha256 {digest}\n{d.get('source') or ''}",
            )
        )
        body.append(_arrow("data", y, "run", middle))
    if not datasets:
        body.append(_box("data", middle, ["no datasets", "none recorded"], "no datasets", True))
    if run:
        commit = (run.get("git_commit") or "")[:10] or "no git commit"
        body.append(
            _box(
                "run",
                middle,
                [
                    run.get("name") or run.get("run_id"),
                    f"commit {commit}",
                    f"run {run.get('run_id', '')[:12]}…",
                ],
                f"run {run.get('run_id')}\ngit commit {run.get('git_commit')}",
            )
        )
    else:
        body.append(_box("run", middle, ["no source run", "registered from a URI"], "no run", True))
    body.append(_arrow("run", middle, "version", middle))
    body.append(
        _box(
            "version",
            middle,
            [
                f"v{version.get('version')}",
                version.get("state"),
                (version.get("digest") or "")[:12],
            ],
            f"{version.get('name')} v{version.get('version')}\n{version.get('digest') or ''}",
        )
    )
    for i, alias in enumerate(aliases):
        y = centre(i, len(aliases))
        body.append(_arrow("version", middle, "alias", y))
        body.append(_box("alias", y, [f"@{alias}", "points here"], f"@{alias}"))
    label = f"Lineage of {version.get('name')} v{version.get('version')}"
    return (
        f'<svg class="chart lineage" viewBox="0 0 {LINEAGE_WIDTH} {height:.0f}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(label)}</title>{''.join(body)}</svg>"
    )


# -- the page --------------------------------------------------------------------------------
