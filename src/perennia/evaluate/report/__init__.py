"""Self-contained HTML reports of evaluations and comparisons (inline CSS and SVG, no network).

`render_evaluation(result)` takes `EvaluationResult.to_dict()`; `render_comparison(comparison)`
takes `ComparisonResult.to_dict()`. Both return one HTML document as a string.
"""

from __future__ import annotations

from typing import Any

__all__ = ["render_comparison", "render_evaluation"]


def render_evaluation(result: dict[str, Any]) -> str:
    """Return the HTML report of one evaluation result dict."""
    from perennia.evaluate.report.html import render_evaluation as render

    return render(result)


def render_comparison(comparison: dict[str, Any]) -> str:
    """Return the HTML report of one comparison dict (verdict, gates, both models' curves)."""
    from perennia.evaluate.report.html import render_comparison as render

    return render(comparison)
