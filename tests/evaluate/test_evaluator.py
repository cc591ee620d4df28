"""`evaluate()`: every input form, every task, slices, intervals and logging, checked against sklearn."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import LinearRegression, LogisticRegression

from perennia.errors import InvalidInput
from perennia.evaluate import EvaluationResult, evaluate


@pytest.fixture(scope="module")
def binary_case():
    X, y = make_classification(n_samples=400, n_features=5, random_state=3)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(5)])
    frame["segment"] = np.where(frame["f0"] > 0, "high", "low")
    frame["label"] = y
    model = LogisticRegression().fit(frame[[f"f{i}" for i in range(5)]], y)
    return frame, model


def _scores(frame: pd.DataFrame, model) -> np.ndarray:
    return model.predict_proba(frame[[f"f{i}" for i in range(5)]])[:, 1]


def test_binary_metrics_equal_sklearn_on_the_models_own_probabilities(binary_case) -> None:
    frame, model = binary_case
    result = evaluate(model, frame, targets="label", threshold=0.4, log=False)
    score, y = _scores(frame, model), frame["label"].to_numpy()
    predicted = score >= 0.4
    expected = {
        "roc_auc": skm.roc_auc_score(y, score),
        "pr_auc": skm.average_precision_score(y, score),
        "log_loss": skm.log_loss(y, score),
        "brier_score": skm.brier_score_loss(y, score),
        "accuracy": skm.accuracy_score(y, predicted),
        "precision": skm.precision_score(y, predicted),
        "recall": skm.recall_score(y, predicted),
        "f1": skm.f1_score(y, predicted),
        "matthews_corrcoef": skm.matthews_corrcoef(y, predicted),
    }
    for name, value in expected.items():
        assert result.metrics[name] == pytest.approx(value, abs=1e-12), name
    assert result.threshold == 0.4
    assert result.confusion_matrix["matrix"] == skm.confusion_matrix(y, predicted).tolist()
    assert result.model_name == "LogisticRegression"


def test_model_array_column_and_callable_inputs_give_identical_metrics(binary_case) -> None:
    frame, model = binary_case
    score = _scores(frame, model)
    features = frame[[f"f{i}" for i in range(5)]]
    with_scores = frame.assign(score=score)
    results = [
        evaluate(model, frame, targets="label", log=False),
        evaluate(score, targets=frame["label"], log=False),
        evaluate("score", with_scores, targets="label", log=False),
        evaluate(
            lambda data: model.predict_proba(data),
            features,
            targets=frame["label"].to_numpy(),
            log=False,
        ),
        evaluate(score.tolist(), targets=frame["label"].tolist(), log=False),
    ]
    for other in results[1:]:
        assert other.metrics == results[0].metrics


def test_polars_and_numpy_data_give_the_same_result_as_pandas(binary_case) -> None:
    pl = pytest.importorskip("polars")
    frame, model = binary_case
    features = [f"f{i}" for i in range(5)]
    plain = LogisticRegression().fit(frame[features].to_numpy(), frame["label"])
    expected = evaluate(plain, frame[features].to_numpy(), targets=frame["label"], log=False)
    as_polars = pl.from_pandas(frame[features + ["label"]])
    got = evaluate(
        lambda data: plain.predict_proba(data.to_numpy()),
        as_polars.select(features),
        targets=as_polars["label"],
        log=False,
    )
    assert got.metrics == expected.metrics


def test_model_sees_only_the_columns_it_was_fitted_on(binary_case) -> None:
    frame, model = binary_case
    # segment and label are not features; feature_names_in_ selects the five that are.
    result = evaluate(model, frame, targets="label", slices="segment", log=False)
    assert result.metrics["roc_auc"] > 0.5


def test_slices_hold_each_values_rows_and_their_metrics(binary_case) -> None:
    frame, model = binary_case
    result = evaluate(model, frame, targets="label", slices="segment", log=False)
    by_value = {entry["value"]: entry for entry in result.slices}
    assert set(by_value) == {"high", "low"}
    assert sum(entry["count"] for entry in result.slices) == len(frame)
    for value, entry in by_value.items():
        rows = frame["segment"] == value
        y, score = frame.loc[rows, "label"], _scores(frame[rows], model)
        assert entry["count"] == rows.sum()
        assert entry["metrics"]["roc_auc"] == pytest.approx(skm.roc_auc_score(y, score), abs=1e-12)
        assert entry["metrics"]["accuracy"] == pytest.approx(
            skm.accuracy_score(y, score >= 0.5), abs=1e-12
        )


def test_mask_slices_and_bad_masks(binary_case) -> None:
    frame, model = binary_case
    mask = (frame["f1"] > 0).to_numpy()
    result = evaluate(model, frame, targets="label", slices={"f1 positive": mask}, log=False)
    assert result.slices[0]["slice"] == "f1 positive" and result.slices[0]["count"] == mask.sum()
    with pytest.raises(InvalidInput, match="boolean mask"):
        evaluate(model, frame, targets="label", slices={"bad": np.arange(len(frame))}, log=False)


def test_bootstrap_intervals_bracket_the_estimate_and_repeat_with_a_seed(binary_case) -> None:
    frame, model = binary_case
    first = evaluate(model, frame, targets="label", bootstrap=200, seed=4, log=False)
    again = evaluate(model, frame, targets="label", bootstrap=200, seed=4, log=False)
    assert first.intervals == again.intervals
    for name in ("roc_auc", "accuracy", "log_loss"):
        low, high = first.intervals[name]
        assert low <= first.metrics[name] <= high
        assert high - low < 0.2


def test_multiclass_metrics_equal_sklearn() -> None:
    X, y = make_classification(
        n_samples=450, n_features=6, n_informative=4, n_classes=3, random_state=1
    )
    model = LogisticRegression(max_iter=500).fit(X, y)
    result = evaluate(model, X, targets=y, task="multiclass", log=False)
    proba = model.predict_proba(X)
    predicted = model.classes_[proba.argmax(axis=1)]
    assert result.metrics["f1_macro"] == pytest.approx(skm.f1_score(y, predicted, average="macro"))
    assert result.metrics["log_loss"] == pytest.approx(skm.log_loss(y, proba))
    assert result.metrics["roc_auc_ovr"] == pytest.approx(
        skm.roc_auc_score(y, proba, multi_class="ovr")
    )
    assert result.metrics["cohen_kappa"] == pytest.approx(skm.cohen_kappa_score(y, predicted))
    assert result.confusion_matrix["matrix"] == skm.confusion_matrix(y, predicted).tolist()
    assert result.per_class["f1"] == pytest.approx(
        skm.f1_score(y, predicted, average=None).tolist()
    )
    assert set(result.curves["roc_ovr"]) == {"0", "1", "2"}


def test_regression_metrics_equal_sklearn_and_residuals_are_sampled() -> None:
    X, y = make_regression(n_samples=3000, n_features=4, noise=10, random_state=2)
    model = LinearRegression().fit(X, y)
    result = evaluate(model, X, targets=y, task="regression", log=False)
    predicted = model.predict(X)
    assert result.metrics["r2"] == pytest.approx(skm.r2_score(y, predicted), abs=1e-12)
    assert result.metrics["mae"] == pytest.approx(skm.mean_absolute_error(y, predicted))
    assert result.metrics["rmse"] == pytest.approx(skm.root_mean_squared_error(y, predicted))
    residuals = result.curves["residuals"]
    assert len(residuals["predicted"]) == 2000 == len(residuals["residual"])


def test_result_serialises_to_strict_json_and_a_long_frame(binary_case) -> None:
    frame, model = binary_case
    result = evaluate(model, frame, targets="label", slices="segment", log=False)
    document = json.loads(result.to_json())
    assert document["metrics"]["roc_auc"] == result.metrics["roc_auc"]
    table = result.to_frame()
    assert set(table["scope"]) == {"overall", "slice"}
    overall = table[table["scope"] == "overall"].set_index("metric")["value"]
    assert overall["roc_auc"] == result.metrics["roc_auc"]
    assert isinstance(result, EvaluationResult)


def test_bad_inputs_name_the_problem(binary_case) -> None:
    frame, model = binary_case
    with pytest.raises(InvalidInput, match="task must be one of"):
        evaluate(model, frame, targets="label", task="clustering", log=False)
    with pytest.raises(InvalidInput, match="'nope' is not a column"):
        evaluate(model, frame, targets="nope", log=False)
    with pytest.raises(InvalidInput, match="3 predictions for 400 rows"):
        evaluate([0.1, 0.2, 0.3], targets=frame["label"], log=False)
    with pytest.raises(InvalidInput, match="dataset_name"):
        evaluate(model, frame, targets="label", dataset_name="a/b", log=False)
    with pytest.raises(InvalidInput, match="NaN at row 2"):
        evaluate([0.1, 0.2, float("nan")], targets=[0, 1, 1], log=False)
    with pytest.raises(InvalidInput, match="fairness"):
        evaluate(
            model,
            frame,
            targets="label",
            task="regression",
            sensitive_features="segment",
            log=False,
        )


def test_an_active_run_receives_prefixed_metrics_json_and_html(tracking, binary_case) -> None:
    import perennia

    frame, model = binary_case
    with perennia.start_run() as run:
        result = evaluate(model, frame, targets="label", dataset_name="holdout")
    client = perennia.Client()
    stored = client.get_run(run.run_id)
    assert stored.data.metrics["holdout_roc_auc"] == result.metrics["roc_auc"]
    assert stored.data.metrics["holdout_brier_score"] == result.metrics["brier_score"]
    document = json.loads(client.read_artifact(run.run_id, "evaluation/holdout/result.json"))
    assert document["metrics"]["accuracy"] == result.metrics["accuracy"]
    html = client.read_artifact(run.run_id, "evaluation/holdout/report.html").decode()
    assert html.lstrip().lower().startswith("<!doctype html")


def test_nothing_is_logged_without_an_active_run(tracking, binary_case) -> None:
    import perennia

    frame, model = binary_case
    evaluate(model, frame, targets="label")
    experiments = perennia.Client().search_experiments()
    runs = perennia.Client().search_runs([e.experiment_id for e in experiments.items]).items
    assert runs == []


def test_robustness_checks_add_their_table_to_the_result(binary_case) -> None:
    frame, model = binary_case
    result = evaluate(
        model,
        frame,
        targets="label",
        slices="segment",
        robustness_checks=["gaussian_noise", "permutation"],
        log=False,
    )
    checks = {row["check"] for row in result.robustness}
    assert checks == {"gaussian_noise", "permutation"}
    targets = {row["target"] for row in result.robustness if row["check"] == "permutation"}
    assert targets == {f"f{i}" for i in range(5)}  # neither the label nor the slice column
    for row in result.robustness:
        assert row["baseline"] == pytest.approx(result.metrics["roc_auc"])
    with pytest.raises(InvalidInput, match="not precomputed predictions"):
        evaluate(_scores(frame, model), targets=frame["label"], robustness_checks=True, log=False)


def test_ranking_task_reads_query_ids_from_a_column() -> None:
    rng = np.random.default_rng(6)
    frame = pd.DataFrame(
        {
            "query": np.repeat(np.arange(20), 8),
            "relevance": rng.integers(0, 3, 160),
            "score": rng.random(160),
        }
    )
    result = evaluate(
        "score", frame, targets="relevance", task="ranking", query_id="query", k=5, log=False
    )
    per_query = [
        skm.ndcg_score([group["relevance"]], [group["score"]], k=5)
        for _, group in frame.groupby("query")
        if group["relevance"].max() > 0
    ]
    assert result.metrics["ndcg_at_5"] == pytest.approx(np.mean(per_query), abs=1e-12)
    assert {"map", "mrr", "precision_at_5", "recall_at_5", "hit_rate_at_5"} <= set(result.metrics)


def test_fairness_view_names_groups_and_matches_fairlearn(binary_case) -> None:
    fairlearn_metrics = pytest.importorskip("fairlearn.metrics")
    frame, model = binary_case
    result = evaluate(model, frame, targets="label", sensitive_features="segment", log=False)
    decided = (_scores(frame, model) >= 0.5).astype(int)
    expected = fairlearn_metrics.demographic_parity_ratio(
        frame["label"], decided, sensitive_features=frame["segment"]
    )
    assert result.metrics["demographic_parity_ratio"] == pytest.approx(expected, abs=1e-12)
    assert {group["group"] for group in result.fairness["groups"]} == {"high", "low"}
    assert result.fairness["features"] == ["segment"]
    assert result.fairness["reference_group"] in {"high", "low"}
