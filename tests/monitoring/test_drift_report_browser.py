"""The drift report opens offline in a real headless Chromium: verdict, a table sorted by effect,
one sized chart per column, not-computable entries listed, no errors and no network."""

from __future__ import annotations

import numpy as np
import pandas as pd

from perennia.monitoring import drift
from tests.browser import needs_browser, offline_page


def _frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(8)
    n = 4_000
    ref = pd.DataFrame(
        {
            "small": rng.normal(size=n),
            "big": rng.normal(size=n),
            "city": rng.choice(["Lyon", "Oslo", "Rome"], n),
            "gone": rng.normal(size=n),
        }
    )
    cur = pd.DataFrame(
        {
            "small": rng.normal(0.2, 1.0, n),
            "big": rng.normal(1.0, 1.0, n),
            "city": rng.choice(["Lyon", "Oslo", "Rome", "<b>Nice</b>"], n, p=[0.3, 0.3, 0.3, 0.1]),
        }
    )
    return ref, cur


@needs_browser
def test_the_drift_report_renders_offline_sorted_by_effect(tmp_path):
    ref, cur = _frames()
    report = drift(ref, cur, multivariate=True)
    path = tmp_path / "drift.html"
    report.save_html(path, title="orders")
    with offline_page(path) as visit:
        boxes = visit.chart_boxes()
        rows = visit.page.eval_on_selector_all(
            "#columns tbody tr", "rows => rows.map(r => r.cells[0].textContent)"
        )
        verdict = visit.page.inner_text("header")
        notes = visit.page.inner_text("#columns")
        visit.page.screenshot(path=tmp_path / "drift.png", full_page=True)
    assert visit.outside_requests() == [] and visit.errors == []
    assert "drift detected" in verdict
    # Drifted columns first, largest effect first; the column missing from current data last.
    assert rows[0] == "big" and rows[-1] == "gone"
    assert rows.index("small") < rows.index("gone")
    assert "missing from the current data" in notes and "<b>Nice</b>" in notes  # escaped, shown
    assert len(boxes) == 3 and all(b and b["width"] > 100 and b["height"] > 50 for b in boxes)
