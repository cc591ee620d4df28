"""`evaluate(..., explain=True)`: the result carries the model's global importance and the HTML
report shows it as a chart; without `explain` nothing changes."""

from __future__ import annotations

import json

import pytest
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

from perennia.errors import InvalidInput
from perennia.evaluate import evaluate
from perennia.evaluate.explain import permutation_importance
from perennia.evaluate.report import render_evaluation
from tests.evaluate.report_helpers import Page


@pytest.fixture(scope="module")
def table(frame, binary_target, regression_target):
    return frame.assign(label=binary_target, amount=regression_target)


@pytest.fixture(scope="module")
def classifier(frame, binary_target):
    return KNeighborsClassifier().fit(frame, binary_target)


def test_explain_adds_permutation_importance_on_the_models_columns(classifier, table, frame):
    result = evaluate(classifier, table, targets="label", explain=True, seed=3, log=False)
    expected = permutation_importance(
        classifier, frame, table["label"], metric="accuracy", random_state=3
    )
    found = result.explanations
    assert found["importances_mean"] == pytest.approx(list(expected.importances_mean))
    assert found["importances_std"] == pytest.approx(list(expected.importances_std))
    stored = json.loads(result.to_json())["explanations"]
    assert stored["feature_names"] == list(frame.columns)
    assert stored["method"] == "permutation" and stored["metric"] == "accuracy"


def test_the_report_shows_the_importance_chart(classifier, table):
    result = evaluate(classifier, table, targets="label", explain=True, log=False)
    html = render_evaluation(result.to_dict())
    assert "explanations" in Page(html).sections
    section = html[html.index('<section id="explanations">') :]
    section = section[: section.index("</section>")]
    assert "<svg" in section and "drop in accuracy" in section
    for name in ("age", "income", "tenure", "noise"):
        assert f"<code>{name}</code>" in section


def test_without_explain_there_is_no_importance(classifier, table):
    result = evaluate(classifier, table, targets="label", log=False)
    assert result.explanations is None
    assert "explanations" not in Page(render_evaluation(result.to_dict())).sections


def test_boosted_trees_report_their_native_gain(frame, table):
    import xgboost

    model = xgboost.XGBRegressor(n_estimators=5).fit(frame, table["amount"])
    result = evaluate(model, table, targets="amount", task="regression", explain=True, log=False)
    assert result.explanations["method"] == "gain"
    html = render_evaluation(result.to_dict())
    assert "Gain: the total loss reduction" in html and "Std over repeats" not in html


def test_regression_permutation_scores_with_r2(frame, table):
    model = KNeighborsRegressor().fit(frame, table["amount"])
    result = evaluate(model, table, targets="amount", task="regression", explain=True, log=False)
    assert result.explanations["metric"] == "r2"
    ranked = sorted(
        zip(
            result.explanations["feature_names"],
            result.explanations["importances_mean"],
            strict=True,
        ),
        key=lambda pair: -pair[1],
    )
    assert ranked[0][0] == "age"


def test_explain_needs_the_model_not_its_predictions(classifier, table, frame):
    predictions = classifier.predict_proba(frame)[:, 1]
    with pytest.raises(InvalidInput, match="explain=True needs the model itself"):
        evaluate(predictions, table, targets="label", explain=True, log=False)


def test_a_ranking_model_without_its_own_importance_is_refused(frame, table):
    model = KNeighborsRegressor().fit(frame, table["label"])
    ranked = table.assign(query=[i // 10 for i in range(len(table))])
    with pytest.raises(InvalidInput, match="task='ranking' needs a model with its own"):
        evaluate(
            model,
            ranked,
            targets="label",
            task="ranking",
            query_id="query",
            explain=True,
            log=False,
        )
