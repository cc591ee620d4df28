"""The model card's "Success criteria" section, as Markdown lines and as an HTML section.

It shows the goal, each gate and, for the card's version, whether its source run's metrics meet
the gate (met, unmet, not measured, or needs a baseline for a gate relative to the champion).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from perennia._util.report import format as fmt
from perennia._util.report.page import Section
from perennia.registry.cards import when

if TYPE_CHECKING:
    from perennia.registry.cards import ModelCard

TITLE = "Success criteria"
STATUS_KIND = {"met": "ok", "unmet": "bad", "not measured": "warn", "needs a baseline": "info"}
_NONE = "No success criteria are set. Say what the model is for and how it is judged:"


def _set_command(card: ModelCard) -> str:
    import shlex

    return (
        f'perennia models criteria set {shlex.quote(card.name)} --goal "..." '
        '--gate "recall_at_fpr_1pct >= 0.6"'
    )


def _byline(card: ModelCard) -> str:
    criteria = card.criteria
    assert criteria is not None
    return f"Set by {criteria.updated_by or 'unknown'}, {when(criteria.updated_time)}"


def criteria_markdown(card: ModelCard) -> list[str]:
    """Return the section as Markdown lines."""
    from perennia.registry.card_markdown import cell, code, table, text

    out = [f"## {TITLE}", ""]
    if card.criteria is None:
        return out + [f"> {_NONE}", ">", f"> {code(_set_command(card))}", ""]
    out += [f"**Goal:** {text(card.criteria.goal)}", "", f"_{text(_byline(card))}._", ""]
    rows = [
        (code(gate), f"**{status}**" if status == "unmet" else status, cell(detail))
        for gate, status, detail in card.criteria_rows()
    ]
    headers = ("Gate", f"v{card.version.version}", "Detail")
    return out + [table(headers, rows), ""]


def criteria_sections(card: ModelCard) -> list[Section]:
    """Return the section as a one-item list of HTML sections (the page's building block)."""
    if card.criteria is None:
        body = (
            f'<div class="missing"><p>{fmt.text(_NONE)}</p>'
            f"<p><code>{fmt.text(_set_command(card))}</code></p></div>"
        )
        return [Section("criteria", TITLE, body)]
    rows = [
        (
            f"<code>{fmt.text(gate)}</code>",
            fmt.badge(STATUS_KIND.get(status, "info"), status),
            fmt.text(detail),
        )
        for gate, status, detail in card.criteria_rows()
    ]
    goal = f'<div class="card-field"><h3>Goal</h3><p>{fmt.text(card.criteria.goal)}</p></div>'
    table = fmt.table(("Gate", f"v{card.version.version}", "Detail"), rows)
    return [Section("criteria", TITLE, goal + table, fmt.text(_byline(card)))]
