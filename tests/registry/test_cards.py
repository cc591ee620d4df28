"""Model cards: built from a real run, package, evaluation, card revisions and approvals."""

from __future__ import annotations

import os
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

import perennia
from perennia._util.report import format as fmt
from perennia.evaluate import evaluate
from perennia.registry.cards import build_card, render_html, render_markdown, write_card
from tests.browser import needs_browser, offline_page
from tests.conftest import reset_tracking

FEATURES = ["a", "b", "c", "d"]


def _train_and_register(name: str = "churn") -> SimpleNamespace:
    """Log a real model with its datasets and a fairness evaluation; register it as `name`."""
    X, y = make_classification(n_samples=400, n_features=4, random_state=7)
    frame = pd.DataFrame(X, columns=FEATURES)
    frame["region"] = np.where(np.random.default_rng(3).random(400) < 0.4, "north", "south")
    frame["label"] = y
    train, test = frame.iloc[:250], frame.iloc[250:].reset_index(drop=True)
    model = LogisticRegression().fit(train[FEATURES], train["label"])
    train_ds = perennia.data.from_pandas(train, name="accounts-train", targets="label")
    test_ds = perennia.data.from_pandas(test, name="accounts-test", targets="label")
    with perennia.start_run(run_name="churn-lr") as run:
        perennia.log_input(train_ds, context="training")
        perennia.log_input(test_ds, context="evaluation")
        info = perennia.log_model(
            model,
            name="model",
            registered_model_name=name,
            input_example=test[FEATURES].head(3),
            signature="infer",
        )
        evaluate(
            model,
            test,
            targets="label",
            sensitive_features="region",
            log=True,
            dataset_name="holdout",
            explain=True,
        )
    return SimpleNamespace(
        model=model,
        test=test,
        train_ds=train_ds,
        test_ds=test_ds,
        info=info,
        run_id=run.info.run_id,
    )


@pytest.fixture
def registered(tracking) -> SimpleNamespace:
    return _train_and_register()


def _store():
    return perennia.Client().store


def test_card_reports_the_package_datasets_and_metrics_sklearn_computes(registered) -> None:
    card = build_card("churn")
    markdown, html = render_markdown(card), render_html(card)
    test = registered.test
    proba = registered.model.predict_proba(test[FEATURES])[:, 1]
    predicted = (proba >= 0.5).astype(int)
    expected = {
        "roc_auc": roc_auc_score(test["label"], proba),
        "accuracy": accuracy_score(test["label"], predicted),
        "f1": f1_score(test["label"], predicted),
    }
    logged = card.evaluations[0].result["metrics"]
    for key, value in expected.items():
        assert logged[key] == pytest.approx(value)
        assert f"| **{key}** | {fmt.number(value)} |" in markdown
        assert f'<code>{key}</code></td><td class="num">{fmt.number(value)}</td>' in html
    assert card.metrics["holdout_roc_auc"] == pytest.approx(expected["roc_auc"])

    assert card.version.version == 1 and "# Model card: churn v1" in markdown
    assert card.version.digest == registered.info.digest and "matches package" in html
    assert card.manifest.flavor == "sklearn"
    assert f"scikit-learn {sklearn.__version__}" in markdown
    assert [s["name"] for s in card.manifest.signature["inputs"]] == FEATURES
    for dataset in (registered.train_ds, registered.test_ds):
        assert f"`{dataset.digest}`" in markdown
        assert f'title="{dataset.digest}"' in html
    assert "| accounts-train | training |" in markdown and "| 250 |" in markdown
    assert card.lineage["run"]["run_id"] == registered.run_id


def test_card_names_what_drives_the_model_from_the_evaluations_importance(registered) -> None:
    card = build_card("churn", 1)
    (evaluation,) = card.evaluations
    importance = evaluation.result["explanations"]
    ranked = sorted(
        zip(importance["feature_names"], importance["importances_mean"], strict=True),
        key=lambda item: -item[1],
    )
    markdown = render_markdown(card)
    drivers = markdown[markdown.index("### What drives it") :]
    assert drivers.index(f"`{ranked[0][0]}`") < drivers.index(f"`{ranked[-1][0]}`")
    html = render_html(card)
    assert "What drives it: holdout" in html and "Feature importance" in html


def test_fairness_per_group_rates_are_shown_as_table_and_charts(registered) -> None:
    card = build_card("churn", version=1)
    markdown, html = render_markdown(card), render_html(card)
    test = registered.test
    predicted = (registered.model.predict_proba(test[FEATURES])[:, 1] >= 0.5).astype(int)
    for group in ("north", "south"):
        rows = (test["region"] == group).to_numpy()
        y, p = test["label"].to_numpy()[rows], predicted[rows]
        selection, tpr, fpr = p.mean(), p[y == 1].mean(), p[y == 0].mean()
        row = f"| {group} | {rows.sum()} | {fmt.number(selection)} | {fmt.number(tpr)} | {fmt.number(fpr)} |"
        assert row in markdown
    assert "Sensitive feature: region" in markdown
    assert 'id="fairness-1"' in html and "Selection rate by group" in html
    assert "True and false positive rate by group" in html
    assert html.count('<svg class="chart') >= 6  # headline, ROC, calibration, 2 fairness, lineage


def test_card_sections_come_from_the_newest_revision_and_user_text_is_escaped(registered) -> None:
    cards = _store().cards
    cards.edit(
        "churn",
        {"intended_use": "Rank accounts by churn risk for the retention team."},
        comment="first draft",
        username="alice",
    )
    cards.edit(
        "churn",
        {
            "limitations": "<script>alert('x')</script> trained on 2024 data only",
            "data_retention": "Scores are kept for 90 days.",
        },
        comment="limits",
        username="carol",
    )
    card = build_card("churn")
    markdown, html = render_markdown(card), render_html(card)
    assert (card.card.revision, card.card.author) == (2, "carol")
    assert "Revision 2 by carol" in html and "Card revision 2 by carol" in markdown
    assert "Rank accounts by churn risk for the retention team." in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; trained on 2024 data only" in html
    assert "&lt;script&gt;alert('x')&lt;/script&gt;" in markdown
    assert "<script" not in html and "<script" not in markdown
    assert "Data retention" in html and "Scores are kept for 90 days." in markdown
    command = 'perennia models card churn --set out_of_scope_use="..."'
    assert command in html.replace("&quot;", '"') and command in markdown
    assert 'perennia models card churn --set intended_use="..."' not in markdown


def test_approvals_reviewers_managers_and_version_history_are_listed(registered) -> None:
    store = _store()
    store.users.create_user("bob", None)
    store.access.set_model_role("churn", "bob", "manager")
    store.approvals.set_policy("churn", "prod", required_approvals=1, username="bob")
    request = store.approvals.request("churn", 1, "prod", comment="ready", username="alice")
    store.approvals.review(request.request_id, "approve", comment="metrics hold", username="bob")
    _train_and_register()  # version 2, which must not take over version 1's approvals
    card = build_card("churn", 1)
    markdown, html = render_markdown(card), render_html(card)
    assert [(r.alias, r.status) for r in card.approvals] == [("prod", "APPLIED")]
    assert "bob: approve (metrics hold)" in markdown
    assert f"#{request.request_id}" in html and "metrics hold" in html
    assert "bob" in card.owners and card.version.aliases == ["prod"]
    assert [v.version for v in card.versions] == [2, 1]
    assert "| **v1** | READY | active | @prod |" in markdown and "| v2 | READY |" in markdown
    assert {"review_approval", "create_model_version"} <= {e.action for e in card.events}
    latest = build_card("churn")
    assert latest.version.version == 2 and latest.approvals == []
    assert "No approval requests for v2." in render_markdown(latest)


def test_write_card_puts_both_files_under_home_or_the_given_folder(registered, tmp_path) -> None:
    markdown, html = write_card("churn")
    home = Path(os.environ["PERENNIA_HOME"])
    assert (markdown, html) == (home / "cards/churn/v1.md", home / "cards/churn/v1.html")
    assert markdown.read_text().startswith("# Model card: churn v1")
    assert html.read_text().startswith("<!DOCTYPE html>")
    elsewhere = write_card("churn", 1, folder=tmp_path / "out", store=_store())
    assert elsewhere == (tmp_path / "out/v1.md", tmp_path / "out/v1.html")
    _train_and_register("._.")  # a name that cleans to nothing as a folder
    odd, _ = write_card("._.")
    assert odd.parent.parent == home / "cards" and odd.parent.name.startswith("model-")


# ---------------------------------------------------------------- a real browser


@pytest.fixture
def sqlite_tracking(sqlite_uri, tmp_path, monkeypatch):
    """The `tracking` fixture on SQLite only: one browser run proves the page."""
    monkeypatch.setenv("PERENNIA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PERENNIA_TRACKING_URI", sqlite_uri)
    monkeypatch.setenv("PERENNIA_ARTIFACTS_URI", str(tmp_path / "artifacts"))
    reset_tracking()
    yield sqlite_uri
    reset_tracking()


@needs_browser
def test_card_renders_offline_in_chromium_with_visible_charts(sqlite_tracking) -> None:
    _train_and_register()
    _store().cards.edit("churn", {"intended_use": "<img src=x onerror=alert(1)> retention"})
    _, path = write_card("churn")
    with offline_page(path) as visit:
        boxes = visit.chart_boxes()
        title = visit.page.title()
        intended = visit.page.inner_text("#card-intended_use")
        images = visit.page.query_selector_all("img")
    assert visit.outside_requests() == []
    assert visit.errors == []
    assert len(boxes) >= 6 and all(b and b["width"] > 100 and b["height"] > 50 for b in boxes)
    assert re.match(r"churn v1", title)
    assert "<img src=x onerror=alert(1)> retention" in intended and images == []
