"""The HTML report: sections, numbers, charts, comparisons and saving to a file."""

from __future__ import annotations

import re

from perennia._util.report import format as fmt
from perennia.evaluate.report import render_comparison, render_evaluation
from perennia.evaluate.result import EvaluationResult
from tests.evaluate.report_helpers import Page

EVALUATION_ORDER = [
    "headline",
    "metrics",
    "curves",
    "confusion",
    "threshold",
    "lift",
    "per-class",
    "roc-ovr",
    "residuals",
    "slices",
    "fairness",
    "robustness",
]


def test_binary_report_shows_every_section_in_order(binary_result):
    page = Page(render_evaluation(binary_result))
    assert page.sections == [
        s for s in EVALUATION_ORDER if s not in {"per-class", "roc-ovr", "residuals"}
    ]
    assert "ROC AUC" in page.body_text and "Four-fifths rule" in page.body_text


def test_multiclass_and_regression_reports_show_their_own_sections(
    multiclass_result, regression_result
):
    multi = Page(render_evaluation(multiclass_result)).sections
    assert multi == ["headline", "metrics", "confusion", "per-class", "roc-ovr"]
    assert Page(render_evaluation(regression_result)).sections == [
        "headline",
        "metrics",
        "residuals",
    ]


def test_empty_or_missing_data_renders_without_sections():
    for result in (
        {},
        {
            "task": "binary",
            "dataset_name": "d",
            "n_rows": 0,
            "metrics": {},
            "curves": {},
            "confusion_matrix": None,
            "per_class": None,
            "fairness": None,
            "slices": [],
            "robustness": [],
        },
    ):
        page = Page(render_evaluation(result))
        assert page.sections == [] and "nothing more to show" in page.body_text


def test_none_values_anywhere_render_as_dashes(binary_result):
    result = {
        **binary_result,
        "n_rows": None,
        "metrics": {k: None for k in binary_result["metrics"]},
    }
    result["curves"] = {
        "roc": {
            "fpr": [None, 0.0, 0.5, 1.0],
            "tpr": [None, 0.0, None, 1.0],
            "thresholds": [None] * 4,
        }
    }
    text = Page(render_evaluation(result)).body_text
    assert fmt.DASH in text and "None" not in text


def test_numbers_are_formatted_for_people(binary_result):
    text = Page(render_evaluation({**binary_result, "n_rows": 1234567})).body_text
    assert (
        "1,234,567" in text
        and fmt.number(binary_result["metrics"]["f1"]) in text
        and "12,346" in text
    )
    assert [fmt.number(v) for v in (None, 0.812345, 12, 1234567.8, 3e-7, float("nan"), True)] == [
        "—",
        "0.8123",
        "12",
        "1,234,568",
        "3.000e-07",
        "—",
        "yes",
    ]


def test_every_chart_is_a_scalable_labelled_svg(
    binary_result, multiclass_result, regression_result
):
    for result in (binary_result, multiclass_result, regression_result):
        page = Page(render_evaluation(result))
        assert page.svgs
        for attrs in page.svgs:
            assert re.fullmatch(r"0 0 \d+ \d+", attrs["viewbox"]) and attrs.get("aria-label")
    assert len(Page(render_evaluation(binary_result)).svgs) == 9


def test_comparison_shows_verdict_gates_and_both_models(comparison):
    document = render_comparison(comparison)
    page = Page(document)
    assert page.sections == ["gates", "side-by-side", "overlays"]
    assert "FAIL — 1 of 2 gates passed." in page.body_text
    assert (
        "candidate: churn-logreg" in page.body_text and "baseline: baseline-5feat" in page.body_text
    )
    passing = render_comparison({**comparison, "passed": True, "gates": comparison["gates"][:1]})
    assert "PASS — 1 of 1 gates passed." in Page(passing).body_text


def test_save_html_writes_the_report(tmp_path, regression_result):
    fields = {k: v for k, v in regression_result.items()}
    path = EvaluationResult(**fields).save_html(tmp_path / "r.html")
    assert Page(path.read_text(encoding="utf-8")).sections == ["headline", "metrics", "residuals"]
