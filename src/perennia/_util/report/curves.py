"""The standard curve charts of a scored model: ROC, precision-recall and reliability diagram.

They take ready-made `Series` (one per model or class), so any page that holds curves
(an evaluation, a comparison, a monitor's realised performance) draws them alike.
"""

from __future__ import annotations

from collections.abc import Sequence

from perennia._util.report import format as fmt
from perennia._util.report import svg


def roc_chart(series: list[svg.Series], marks: Sequence[svg.Mark] = ()) -> str:
    """Return a ROC chart of `series` with the chance diagonal."""
    return svg.line_chart(
        series,
        title="ROC curve",
        x_label="False positive rate",
        y_label="True positive rate",
        x_domain=(0.0, 1.0),
        y_domain=(0.0, 1.0),
        diagonal="Chance",
        marks=marks,
    )


def pr_chart(series: list[svg.Series], base: float | None, marks: Sequence[svg.Mark] = ()) -> str:
    """Return a precision-recall chart of `series` with the base-rate line."""
    rules = (
        [svg.Rule(base, f"Base rate {fmt.number(base)}", where="start")] if base is not None else []
    )
    return svg.line_chart(
        series,
        title="Precision-recall curve",
        x_label="Recall",
        y_label="Precision",
        x_domain=(0.0, 1.0),
        y_domain=(0.0, 1.0),
        rules=rules,
        marks=marks,
    )


def calibration_chart(series: list[svg.Series]) -> str:
    """Return a reliability diagram of `series` with the perfect-calibration diagonal."""
    return svg.line_chart(
        series,
        title="Reliability diagram",
        x_label="Mean predicted probability",
        y_label="Observed fraction positive",
        x_domain=(0.0, 1.0),
        y_domain=(0.0, 1.0),
        diagonal="Perfectly calibrated",
    )
