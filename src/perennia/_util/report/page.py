"""The HTML around the charts: sections, figures, the page header and the whole page.

A page is pure HTML with the kit's inline CSS and inline SVG; it loads nothing, so it opens
offline and can be attached to a run or mailed as one file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from perennia._util.report import format as fmt
from perennia._util.report.style import CSS


@dataclass
class Section:
    """One titled block of the page; `anchor` is its id in the table of contents.

    `title`, `body` and `lead` are HTML: escape user text (`format.text`) before putting it in.
    """

    anchor: str
    title: str
    body: str
    lead: str = ""

    def html(self) -> str:
        """Return the section as HTML."""
        lead = f'<p class="lead">{self.lead}</p>' if self.lead else ""
        return f'<section id="{self.anchor}"><h2>{self.title}</h2>{lead}{self.body}</section>'


def figure(heading: str, svg: str, caption: str = "") -> str:
    """Return a chart wrapped in a <figure> with an escaped heading and optional caption."""
    note = f"<figcaption>{caption}</figcaption>" if caption else ""
    return f"<figure><h3>{fmt.text(heading)}</h3>{svg}{note}</figure>"


def header(
    kind: str,
    title: str,
    facts: Sequence[tuple[str, str]],
    *,
    after_title: str = "",
    extra: str = "",
) -> str:
    """Return the page header: escaped kind and title, then facts (label, HTML value) and `extra`."""
    items = "".join(f"<div><dt>{fmt.text(k)}</dt><dd>{v}</dd></div>" for k, v in facts)
    return (
        f'<header class="top"><div class="kind">{fmt.text(kind)}</div>'
        f'<h1>{fmt.text(title)}{after_title}</h1><dl class="facts">{items}</dl>{extra}</header>'
    )


def _toc(parts: Sequence[Section]) -> str:
    links = "".join(f'<li><a href="#{s.anchor}">{s.title}</a></li>' for s in parts)
    return f'<nav class="toc" aria-label="Contents"><strong>Contents</strong><ol>{links}</ol></nav>'


def page(
    title: str,
    top: str,
    parts: Sequence[Section],
    *,
    footer: str,
    css: str = "",
    empty: str = "",
) -> str:
    """Return the full HTML document: head with inline CSS, contents, `top`, sections, footer.

    `css` is appended to the kit's stylesheet; `empty` (HTML) stands in when there are no parts.
    """
    body = "".join(s.html() for s in parts) + ("" if parts else empty)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{fmt.text(title)}</title><style>{CSS}{css}</style></head><body>"
        f'<div class="layout">{_toc(parts)}<main>{top}{body}'
        f"<footer>{footer}</footer></main></div></body></html>\n"
    )
