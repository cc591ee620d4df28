"""The model card's "Success criteria" section: the goal, each gate, and its status on the
version's source run (met, unmet, not measured, needs a baseline), in Markdown and HTML."""

from __future__ import annotations

import pytest
from fairlearn.metrics import demographic_parity_ratio
from sklearn.metrics import roc_curve

from perennia import registry
from perennia._util.report import format as fmt
from perennia.registry.cards import build_card, render_html, render_markdown
from tests.registry.test_cards import FEATURES, _train_and_register

GOAL = "Keep churners <b>in</b> & spend retention budget well."


@pytest.fixture
def registered(tracking):
    return _train_and_register()


def test_card_shows_the_goal_and_each_gate_with_its_status(registered) -> None:
    test = registered.test
    proba = registered.model.predict_proba(test[FEATURES])[:, 1]
    fpr, tpr, _ = roc_curve(test["label"], proba, drop_intermediate=False)
    recall = tpr[fpr <= 0.01].max()
    parity = demographic_parity_ratio(
        test["label"], (proba >= 0.5).astype(int), sensitive_features=test["region"]
    )
    card = build_card("churn")
    assert card.metrics["holdout_recall_at_fpr_1pct"] == pytest.approx(recall)
    assert card.metrics["holdout_demographic_parity_ratio"] == pytest.approx(parity)
    registry.set_success_criteria(
        "churn",
        GOAL,
        [
            f"recall_at_fpr_1pct >= {recall - 0.01:.4f}",
            f"demographic_parity_ratio >= {min(parity + 0.05, 1.0) + 0.01:.4f}",
            "precision_at_5 >= 0.5",
            "roc_auc >= baseline - 0.005",
        ],
    )
    card = build_card("churn")
    statuses = [status for _gate, status, _detail in card.criteria_rows()]
    assert statuses == ["met", "unmet", "not measured", "needs a baseline"]

    markdown = render_markdown(card)
    section = markdown[markdown.index("## Success criteria") : markdown.index("## Training")]
    assert "**Goal:** Keep churners &lt;b&gt;in&lt;/b&gt; &amp; spend" in section
    assert f"| `recall_at_fpr_1pct >= {recall - 0.01:.4f}` | met |" in section
    assert f"holdout_recall_at_fpr_1pct = {recall:.4g}" in section
    assert "| **unmet** |" in section and "| not measured |" in section
    assert "no metric 'precision_at_5'" in section
    assert "| `roc_auc >= baseline - 0.005` | needs a baseline |" in section
    # The reserved tag holding the criteria is not repeated among the model's tags (the
    # registry events still list its change).
    (tags_row,) = [line for line in markdown.splitlines() if line.startswith("| Model tags |")]
    assert "perennia.success_criteria" not in tags_row

    html = render_html(card)
    assert "Success criteria" in html and "Keep churners &lt;b&gt;in&lt;/b&gt; &amp;" in html
    for status, kind in (("met", "ok"), ("unmet", "bad"), ("not measured", "warn")):
        assert fmt.badge(kind, status) in html
    assert "<b>in</b>" not in html
    tags = html[html.index("<dt>Model tags</dt>") :]
    assert "perennia.success_criteria" not in tags[: tags.index("</dd>")]


def test_a_card_without_criteria_says_how_to_set_them(registered) -> None:
    card = build_card("churn")
    assert card.criteria is None and card.criteria_rows() == []
    markdown = render_markdown(card)
    assert "## Success criteria" in markdown
    assert "perennia models criteria set churn --goal" in markdown
    assert "perennia models criteria set churn --goal" in render_html(card)
