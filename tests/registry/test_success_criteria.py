"""Success criteria on registered models: stored on every backend, validated before they are,
and the default gates of comparisons and approvals."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.tree import DecisionTreeClassifier

import perennia
from perennia import registry
from perennia.entities import SuccessCriteria
from perennia.entities.registry import SUCCESS_CRITERIA_TAG
from perennia.errors import InvalidInput, NotFound
from perennia.evaluate import evaluate
from tests.conftest import reset_tracking

FEATURES = ["a", "b", "c", "d", "e"]
GOAL = "Catch fraud while bothering at most 1% of honest customers."


@pytest.fixture(params=["sqlite", "postgres", "rest"])
def any_backend(request, tmp_path, monkeypatch) -> str:
    """Point the SDK at a fresh store: SQLite, PostgreSQL, or a live server over REST."""
    if request.param == "rest":
        uri = request.getfixturevalue("live_server")[0]
    else:
        uri = request.getfixturevalue(f"{request.param}_uri")
    monkeypatch.setenv("PERENNIA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PERENNIA_TRACKING_URI", uri)
    monkeypatch.setenv("PERENNIA_ARTIFACTS_URI", str(tmp_path / "artifacts"))
    reset_tracking()
    yield uri
    reset_tracking()


def test_criteria_round_trip_on_every_backend(any_backend) -> None:
    registry.create_registered_model("fraud")
    assert registry.get_success_criteria("fraud") is None
    saved = registry.set_success_criteria(
        "fraud",
        f"  {GOAL}  ",
        ["recall_at_fpr_1pct>=0.6", "demographic_parity_ratio >= 0.8", "roc_auc >= baseline-0.005"],
    )
    assert saved.goal == GOAL
    assert saved.gates == (
        "recall_at_fpr_1pct >= 0.6",
        "demographic_parity_ratio >= 0.8",
        "roc_auc >= baseline - 0.005",
    )
    assert saved.updated_time > 0 and saved.updated_by
    assert registry.get_success_criteria("fraud") == saved
    # Setting again replaces them; a mapping works too; the write is a registry event.
    again = registry.set_success_criteria("fraud", "Rank accounts.", {"pr_auc": ">= 0.5"})
    assert registry.get_success_criteria("fraud").gates == again.gates == ("pr_auc >= 0.5",)
    assert SUCCESS_CRITERIA_TAG in str(registry.history("fraud")[0].after)
    registry.clear_success_criteria("fraud")
    registry.clear_success_criteria("fraud")  # nothing to clear: no error
    assert registry.get_success_criteria("fraud") is None


@pytest.mark.parametrize(
    ("goal", "gates", "message"),
    [
        ("", ["roc_auc >= 0.8"], "goal"),
        ("   ", ["roc_auc >= 0.8"], "goal"),
        ("x" * 2001, ["roc_auc >= 0.8"], "2,000"),
        (GOAL, [], "1 to 50 gates"),
        (GOAL, [f"m{i} >= 0.5" for i in range(51)], "1 to 50 gates"),
        (GOAL, ["recall_at_fpr_1pct => 0.6"], "did you mean '>='"),
        (GOAL, ["roc_auc >= basline"], "did you mean 'baseline'"),
        (GOAL, ["roc_auc"], "roc_auc"),
        (GOAL, None, "gates"),
    ],
)
def test_bad_criteria_are_rejected_and_nothing_is_stored(tracking, goal, gates, message) -> None:
    registry.create_registered_model("fraud")
    registry.set_success_criteria("fraud", GOAL, ["roc_auc >= 0.7"])
    with pytest.raises(InvalidInput, match=message):
        registry.set_success_criteria("fraud", goal, gates)
    assert registry.get_success_criteria("fraud").gates == ("roc_auc >= 0.7",)


def test_criteria_of_an_unknown_model_are_not_found(tracking) -> None:
    with pytest.raises(NotFound):
        registry.set_success_criteria("nobody", GOAL, ["roc_auc >= 0.8"])
    with pytest.raises(NotFound):
        registry.get_success_criteria("nobody")


def test_a_hand_written_tag_that_is_not_criteria_is_reported(tracking) -> None:
    registry.create_registered_model("fraud")
    perennia.Client().store.registry.set_registered_model_tag(
        "fraud", SUCCESS_CRITERIA_TAG, "{not json"
    )
    with pytest.raises(InvalidInput, match="criteria set"):
        registry.get_success_criteria("fraud")


def test_entity_json_round_trips() -> None:
    criteria = SuccessCriteria(GOAL, ("roc_auc >= 0.8",), 12, "ann")
    assert SuccessCriteria.from_json(criteria.to_json()) == criteria
    for text in ("[]", '{"goal": 1, "gates": []}', '{"goal": "g", "gates": [1]}'):
        with pytest.raises(InvalidInput):
            SuccessCriteria.from_json(text)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.booleans(), st.integers(0, 30)), min_size=2, max_size=300),
    st.sampled_from([0.0, 0.01, 0.05, 0.5]),
)
def test_recall_at_fpr_equals_sklearns_roc_curve(rows, max_fpr) -> None:
    from perennia.evaluate.metrics.curves import ScoreRanking

    y = np.array([r[0] for r in rows])
    score = np.array([r[1] / 30 for r in rows])
    if y.all() or not y.any():
        return
    fpr, tpr, _ = roc_curve(y, score, drop_intermediate=False)
    ranking = ScoreRanking.build(y, score)
    assert ranking.recall_at_fpr(max_fpr) == pytest.approx(tpr[fpr <= max_fpr].max())
    if max_fpr == 0.01:
        assert evaluate(score, targets=y, log=False).metrics["recall_at_fpr_1pct"] == (
            pytest.approx(tpr[fpr <= 0.01].max())
        )


# -- comparisons and approvals -----------------------------------------------------------------


def _data() -> tuple[pd.DataFrame, pd.DataFrame]:
    X, y = make_classification(
        n_samples=600, n_features=5, n_informative=4, n_redundant=0, class_sep=1.2, random_state=1
    )
    frame = pd.DataFrame(X, columns=FEATURES)
    frame["label"] = y
    return frame.iloc[:400], frame.iloc[400:].reset_index(drop=True)


def _log(model, test: pd.DataFrame, name: str | None = None) -> SimpleNamespace:
    """Log `model` with its evaluation on `test` (metrics holdout_*); register it if named."""
    with perennia.start_run() as run:
        info = perennia.log_model(model, name="model", registered_model_name=name)
        result = evaluate(model, test, targets="label", dataset_name="holdout", log=True)
    version = None if name is None else registry.search_model_versions(name, run.info.run_id)[0]
    return SimpleNamespace(uri=info.model_uri, result=result, version=version)


@pytest.fixture
def models(tracking) -> SimpleNamespace:
    train, test = _data()
    strong = LogisticRegression().fit(train[FEATURES], train["label"])
    weak = DecisionTreeClassifier(max_depth=1, random_state=0).fit(train[FEATURES], train["label"])
    champion = _log(strong, test, "fraud")
    registry.set_alias("fraud", "champion", champion.version.version)
    return SimpleNamespace(strong=strong, weak=weak, test=test, champion=champion)


def test_compare_with_champion_defaults_to_the_criteria(models) -> None:
    test = models.test
    registry.set_success_criteria(
        "fraud", GOAL, ["roc_auc >= baseline - 0.005", "recall_at_fpr_1pct >= 0.5"]
    )
    weak = _log(models.weak, test)
    result = registry.compare_with_champion(weak.uri, test, "label", name="fraud", n_resamples=50)
    assert [o.gate for o in result.outcomes] == [
        "roc_auc >= baseline - 0.005",
        "recall_at_fpr_1pct >= 0.5",
    ]
    expected = roc_auc_score(test["label"], models.weak.predict_proba(test[FEATURES])[:, 1])
    assert result.candidate.metrics["roc_auc"] == pytest.approx(expected)
    champion_auc = roc_auc_score(test["label"], models.strong.predict_proba(test[FEATURES])[:, 1])
    assert result.baseline.metrics["roc_auc"] == pytest.approx(champion_auc)
    assert {o.metric for o in result.failures()} == {"roc_auc", "recall_at_fpr_1pct"}
    # The same candidate as the champion passes; explicit gates replace the criteria.
    same = registry.compare_with_champion(
        models.champion.uri, test, "label", name="fraud", n_resamples=0
    )
    assert same.passed
    explicit = registry.compare_with_champion(
        weak.uri, test, "label", name="fraud", gates=["accuracy >= 0"], n_resamples=0
    )
    assert [o.gate for o in explicit.outcomes] == ["accuracy >= 0"] and explicit.passed


def test_compare_with_champion_without_gates_or_criteria_is_refused(models) -> None:
    with pytest.raises(InvalidInput, match="no gates.*criteria set fraud"):
        registry.compare_with_champion(models.champion.uri, models.test, "label", name="fraud")
    registry.set_success_criteria("fraud", GOAL, ["roc_auc >= 0.5"])
    with pytest.raises(NotFound):
        registry.compare_with_champion(
            models.champion.uri, models.test, "label", name="fraud", alias="nobody"
        )


def test_approval_without_policy_gates_checks_the_criteria(models) -> None:
    test = models.test
    recall = models.champion.result.metrics["recall_at_fpr_1pct"]
    fpr, tpr, _ = roc_curve(test["label"], models.strong.predict_proba(test[FEATURES])[:, 1])
    assert recall == pytest.approx(tpr[fpr <= 0.01].max())  # what the run logged, as sklearn
    registry.set_success_criteria(
        "fraud", GOAL, [f"recall_at_fpr_1pct >= {recall + 0.01:.4f}", "roc_auc >= baseline"]
    )
    request = registry.request_approval("fraud", models.champion.version.version, "prod")
    (need,) = [n for n in request.unmet if "success criterion" in n]
    assert "recall_at_fpr_1pct" in need and "fails: holdout_recall_at_fpr_1pct" in need
    still = registry.approve(request.request_id, reviewer="bob")
    assert still.status == "PENDING"
    with pytest.raises(NotFound):
        registry.get_model_version_by_alias("fraud", "prod")
    registry.cancel_request(request.request_id)
    # Criteria the run meets: the same request applies on one approval.
    registry.set_success_criteria("fraud", GOAL, [f"recall_at_fpr_1pct >= {recall - 0.01:.4f}"])
    request = registry.request_approval("fraud", models.champion.version.version, "prod")
    assert request.unmet == ["1 more approval(s) (0 of 1)"]
    assert registry.approve(request.request_id, reviewer="bob").status == "APPLIED"
    assert registry.get_model_version_by_alias("fraud", "prod").version == 1


def test_approval_fails_closed_on_a_missing_metric_and_policy_gates_win(models) -> None:
    registry.set_success_criteria("fraud", GOAL, ["demographic_parity_ratio >= 0.8"])
    request = registry.request_approval("fraud", 1, "prod")
    assert any("no metric 'demographic_parity_ratio'" in n for n in request.unmet)
    registry.cancel_request(request.request_id)
    # A policy with gates of its own judges by those alone.
    registry.set_approval_policy("fraud", "prod", reviewer_role="any", gates=["holdout_f1 >= 0"])
    request = registry.request_approval("fraud", 1, "prod")
    assert not any("success criterion" in n for n in request.unmet)
    assert registry.approve(request.request_id, reviewer="bob").status == "APPLIED"
