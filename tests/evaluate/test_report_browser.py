"""The HTML reports render offline in a real headless Chromium, with sized charts and no errors."""

from __future__ import annotations

from pathlib import Path

from perennia.evaluate.report import render_comparison, render_evaluation
from tests.browser import needs_browser, offline_page


def _browse(document: str, path: Path) -> None:
    path.write_text(document, encoding="utf-8")
    with offline_page(path) as visit:
        boxes = visit.chart_boxes()
        visit.page.screenshot(path=path.with_suffix(".png"), full_page=True)
    assert visit.outside_requests() == []
    assert visit.errors == []
    assert boxes and all(b and b["width"] > 100 and b["height"] > 50 for b in boxes)


@needs_browser
def test_reports_render_offline_in_chromium(tmp_path, binary_result, comparison):
    _browse(render_evaluation(binary_result), tmp_path / "binary.html")
    _browse(render_comparison(comparison), tmp_path / "compare.html")
