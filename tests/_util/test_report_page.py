"""The report kit's HTML: the page, its header and sections, number formatting and escaping."""

from __future__ import annotations

import ast
import sys
from html.parser import HTMLParser
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

import perennia._util.report as kit
from perennia._util.report import format as fmt
from perennia._util.report.page import Section, figure, header, page
from perennia._util.report.style import CSS

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


class Tags(HTMLParser):
    """Collects start tags with their attributes, and the text outside <style>."""

    def __init__(self, document: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self._style = False
        self.feed(document)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._style = tag == "style"

    def handle_endtag(self, tag):
        self._style = False

    def handle_data(self, data):
        if not self._style:
            self.text.append(data)


def _page(parts=(), **kw) -> str:
    top = header(HOSTILE, HOSTILE, [(HOSTILE, fmt.text(HOSTILE))])
    return page(HOSTILE, top, list(parts), footer="made here", **kw)


def test_page_escapes_its_title_and_header_and_loads_nothing() -> None:
    document = _page([Section("a", "First", "<p>one</p>"), Section("b", "Second", "")])
    tags = Tags(document)
    names = [t for t, _ in tags.tags]
    assert not {"script", "img", "link", "iframe"} & set(names)
    assert f"<title>{fmt.text(HOSTILE)}</title>" in document
    # <title>, kind, h1, and the fact's label and value: each shown as text, none as markup.
    assert "".join(tags.text).count(HOSTILE) == 5
    assert all(
        not v.startswith(("http:", "https:", "//")) for _, a in tags.tags for v in a.values() if v
    )
    assert document.startswith("<!DOCTYPE html>") and document.endswith("</html>\n")


def test_page_lists_sections_in_order_and_says_so_when_empty() -> None:
    document = _page([Section("a", "First", "x"), Section("b", "Second", "y", lead="why")])
    links = [a["href"] for t, a in Tags(document).tags if t == "a"]
    assert links == ["#a", "#b"]
    assert '<section id="b"><h2>Second</h2><p class="lead">why</p>y</section>' in document
    empty = _page(empty="<p>nothing</p>", css=".extra{}")
    assert "<p>nothing</p>" in empty and f"{CSS}.extra{{}}</style>" in empty
    assert "<p>nothing</p>" not in _page([Section("a", "A", "")], empty="<p>nothing</p>")


def test_header_and_figure_escape_text_but_keep_given_html() -> None:
    top = header(
        "Kind", "Title", [("Rows", fmt.count(1234))], after_title=" <em>v2</em>", extra="<p>d</p>"
    )
    assert top == (
        '<header class="top"><div class="kind">Kind</div><h1>Title <em>v2</em></h1>'
        '<dl class="facts"><div><dt>Rows</dt><dd>1,234</dd></div></dl><p>d</p></header>'
    )
    assert figure(HOSTILE, "<svg></svg>", "<em>c</em>") == (
        f"<figure><h3>{fmt.text(HOSTILE)}</h3><svg></svg><figcaption><em>c</em></figcaption></figure>"
    )


def test_numbers_are_formatted_for_people() -> None:
    shown = [
        fmt.number(v)
        for v in (
            None,
            0.812345,
            12,
            -1234567.8,
            3e-7,
            float("nan"),
            float("-inf"),
            True,
            2e16,
            0.0,
            "<b>",
        )
    ]
    assert shown == [
        "—",
        "0.8123",
        "12",
        "-1,234,568",
        "3.000e-07",
        "—",
        "—",
        "yes",
        "2.000e+16",
        "0",
        "&lt;b&gt;",
    ]
    assert [fmt.count(v) for v in (None, 1234.4, float("inf"), "x")] == ["—", "1,234", "—", "—"]
    assert [fmt.percent(v) for v in (0.1234, None, float("nan"))] == ["12.3%", "—", "—"]
    assert fmt.interval([0.1, 0.25]) == "0.1 – 0.25" and fmt.interval([None, 1]) == "—"


@given(st.floats(allow_nan=True, allow_infinity=True) | st.integers() | st.none())
def test_number_never_fails_and_never_says_nan(value) -> None:
    text = fmt.number(value)
    assert text and "nan" not in text.lower() and "inf" not in text.lower()


def test_tables_cells_and_badges() -> None:
    table = fmt.table(("Name", "Value"), [(fmt.text(HOSTILE), fmt.num_cell(0.5, bar=True))])
    assert "<script" not in table and '<th class="num">Value</th>' in table
    assert 'style="--v:50.0%"' in table
    assert 'style="--v:100.0%"' in fmt.num_cell(7.0, bar=True)
    assert fmt.badge("bad", "<x>") == '<span class="badge bad">&lt;x&gt;</span>'


def test_the_kit_imports_only_the_standard_library() -> None:
    for path in Path(kit.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                assert (
                    module.startswith("perennia._util")
                    or top in sys.stdlib_module_names
                    or top == "__future__"
                ), (path.name, module)
