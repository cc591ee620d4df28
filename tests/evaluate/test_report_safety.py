"""The HTML report is safe to open: user strings are escaped and nothing is loaded from outside."""

from __future__ import annotations

import re

from perennia.evaluate.report import render_comparison, render_evaluation
from tests.evaluate.report_helpers import Page


def test_user_strings_are_escaped(binary_result, comparison):
    evil = '<script>alert("x")</script>'
    for document in (
        render_evaluation({**binary_result, "model_name": evil}),
        render_comparison({**comparison, "candidate": evil, "baseline": evil}),
    ):
        page = Page(document)
        assert "script" not in page.tags and "b" not in page.tags and "i" not in page.tags
        assert "&lt;script&gt;" in document
    assert "&lt;b&gt;east&lt;/b&gt;" in render_evaluation(binary_result)


def _external(page: Page) -> list[str]:
    found = [
        v
        for _, k, v in page.attrs
        if k in {"src", "href", "xlink:href", "action"} and not v.startswith("#")
    ]
    css = "".join(page.css)
    found += re.findall(r"@import|url\(", css)
    return found + [t for t in page.tags if t in {"script", "link", "img", "iframe", "object"}]


def test_reports_reference_no_external_resources(binary_result, comparison):
    for document in (render_evaluation(binary_result), render_comparison(comparison)):
        page = Page(document)
        assert _external(page) == []
        stripped = document.replace('xmlns="http://www.w3.org/2000/svg"', "")
        assert "http://" not in stripped and "https://" not in stripped
