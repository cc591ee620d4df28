"""`robustness()`: every check on real scikit-learn models, importance checked against sklearn."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from perennia.errors import InvalidInput
from perennia.evaluate.result import EvaluationResult
from perennia.evaluate.robustness_checks import CHECKS, ROW_KEYS, RobustnessReport, robustness

NUMERIC = ["strong", "medium", "weak", "noise"]
FEATURES = [*NUMERIC, "city"]


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    # Hand-built rather than make_classification so the feature strengths are known and
    # clearly ordered (logit weights 3 > 1.5 > 0.5 > 0), which the importance test relies on.
    rng = np.random.default_rng(0)
    n = 500
    data = pd.DataFrame(rng.normal(size=(n, 4)), columns=NUMERIC)
    data["city"] = rng.choice(["north", "south", "east", "west"], n)
    logit = 3 * data.strong + 1.5 * data.medium + 0.5 * data.weak + (data.city == "north")
    data["label"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return data


def _pipeline(frame: pd.DataFrame, unknown: str, estimator):
    encoder = OneHotEncoder(handle_unknown=unknown, sparse_output=False)
    columns = ColumnTransformer([("city", encoder, ["city"])], remainder="passthrough")
    return make_pipeline(columns, estimator).fit(frame[FEATURES], frame["label"])


@pytest.fixture(scope="module")
def lenient(frame):
    return _pipeline(frame, "ignore", LogisticRegression())


@pytest.fixture(scope="module")
def strict(frame):
    return _pipeline(frame, "error", LogisticRegression())


@pytest.fixture(scope="module")
def boosted(frame):
    return _pipeline(frame, "ignore", HistGradientBoostingClassifier(max_iter=40, random_state=0))


def _rows(report: RobustnessReport, check: str) -> dict[str, dict]:
    return {row["target"]: row for row in report.rows if row["check"] == check}


def test_every_row_has_exactly_the_evaluation_result_keys(frame, lenient) -> None:
    report = robustness(lenient, frame, "label")
    assert {row["check"] for row in report.rows} == set(CHECKS)
    assert all(tuple(row) == ROW_KEYS for row in report.rows)
    assert report.metric == "roc_auc" and report.higher_is_better
    result = EvaluationResult("binary", "eval", len(frame), {}, robustness=report.rows)
    assert json.loads(result.to_json())["robustness"] == report.to_dict()["rows"]
    assert list(report.to_frame().columns) == list(ROW_KEYS)
    json.dumps(report.to_dict(), allow_nan=False)


def test_baseline_equals_the_metric_on_unperturbed_data(frame, lenient) -> None:
    from sklearn.metrics import roc_auc_score

    report = robustness(lenient, frame, "label", checks=["gaussian_noise"])
    expected = roc_auc_score(frame["label"], lenient.predict_proba(frame[FEATURES])[:, 1])
    assert report.baseline == pytest.approx(expected, abs=1e-12)


def test_gaussian_noise_gives_one_row_per_numeric_feature_and_one_for_all(frame, lenient) -> None:
    report = robustness(lenient, frame, "label", checks=["gaussian_noise"], noise_scale=1.0)
    rows = _rows(report, "gaussian_noise")
    assert set(rows) == {*NUMERIC, "all numeric"}
    for row in rows.values():
        assert row["change"] == pytest.approx(report.baseline - row["value"])
    # Noise as large as the column's spread wrecks the strong feature, not the useless one.
    assert rows["strong"]["status"] == "degraded" and rows["strong"]["change"] > 0.05
    assert rows["noise"]["status"] == "ok"
    assert rows["all numeric"]["change"] >= rows["strong"]["change"] - 0.01


def test_missing_values_make_logistic_regression_error_without_raising(frame, lenient) -> None:
    rows = _rows(robustness(lenient, frame, "label", checks="missing_values"), "missing_values")
    assert set(rows) == set(FEATURES)
    for name in NUMERIC:
        assert rows[name]["status"] == "error"
        assert rows[name]["detail"].startswith("ValueError: Input X contains NaN")
        assert len(rows[name]["detail"]) <= 200
        assert rows[name]["value"] is None and rows[name]["change"] is None
    # The encoder ignores a missing category it never saw, so the string column still scores.
    assert rows["city"]["status"] in ("ok", "degraded")


def test_missing_values_are_measured_for_a_model_that_handles_nan(frame, boosted) -> None:
    rows = _rows(robustness(boosted, frame, "label", checks=["missing_values"]), "missing_values")
    assert {row["status"] for row in rows.values()} <= {"ok", "degraded"}
    assert all(math.isfinite(row["value"]) for row in rows.values())
    assert "50 of 500 rows" in rows["strong"]["detail"]
    assert rows["strong"]["change"] > rows["noise"]["change"]


def test_unseen_categories_pass_an_ignoring_encoder_and_fail_a_strict_one(
    frame, lenient, strict
) -> None:
    ok = _rows(
        robustness(lenient, frame, "label", checks=["unseen_categories"]), "unseen_categories"
    )
    assert set(ok) == {"city"} and ok["city"]["status"] in ("ok", "degraded")
    assert "'__unseen__'" in ok["city"]["detail"]
    bad = _rows(
        robustness(strict, frame, "label", checks=["unseen_categories"]), "unseen_categories"
    )
    assert bad["city"]["status"] == "error"
    assert "ValueError" in bad["city"]["detail"] and "__unseen__" in bad["city"]["detail"]


def test_unseen_categories_are_skipped_without_a_text_column(frame) -> None:
    model = LogisticRegression().fit(frame[NUMERIC], frame["label"])
    report = robustness(model, frame.drop(columns="city"), "label", checks=["unseen_categories"])
    (row,) = report.rows
    assert row["status"] == "skipped" and "no object, category or string" in row["detail"]


def test_permutation_importance_agrees_with_sklearn(frame, lenient) -> None:
    repeats = 10
    report = robustness(
        lenient, frame, "label", checks=["permutation"], features=NUMERIC, n_repeats=repeats
    )
    rows = _rows(report, "permutation")
    ours = np.array([rows[name]["change"] for name in NUMERIC])
    theirs = permutation_importance(
        lenient,
        frame[FEATURES],
        frame["label"],
        scoring="roc_auc",
        n_repeats=repeats,
        random_state=0,
    )
    mean = theirs.importances_mean[: len(NUMERIC)]
    spread = theirs.importances_std[: len(NUMERIC)]
    assert list(np.argsort(-ours)) == list(np.argsort(-mean)) == [0, 1, 2, 3]
    # Both are means of `repeats` independent shuffles of the same statistic, so they differ
    # only by shuffle noise: four standard errors of the difference (spreads taken as equal),
    # plus a floor for the pure-noise feature whose spread is nearly zero.
    allowed = 4 * np.sqrt(2 * spread**2 / repeats) + 2e-3
    assert np.all(np.abs(ours - mean) <= allowed), (ours, mean, allowed)
    assert rows["strong"]["status"] == "degraded" and rows["noise"]["status"] == "ok"
    assert "permutation importance" in rows["strong"]["detail"]


def test_extreme_values_go_beyond_both_ends_of_signed_columns(frame, lenient) -> None:
    rows = _rows(robustness(lenient, frame, "label", checks=["extreme_values"]), "extreme_values")
    assert set(rows) == set(NUMERIC)
    high, low = frame["strong"].max(), frame["strong"].min()
    assert f"{high * 10:.4g}" in rows["strong"]["detail"]
    assert f"{low * 10:.4g}" in rows["strong"]["detail"]
    # A linear model extrapolates: values ten times the range flip its confident predictions.
    assert rows["strong"]["status"] == "degraded"


def test_edge_case_rows_report_predictions_and_errors_without_metrics(
    frame, lenient, boosted
) -> None:
    rows = _rows(robustness(lenient, frame, "label", checks=["edge_cases"]), "edge_cases")
    assert list(rows) == [
        "all zeros",
        "column maxima",
        "column minima",
        "empty strings",
        "all missing",
    ]
    for row in rows.values():
        assert row["metric"] is None and row["baseline"] is None
        assert row["value"] is None and row["change"] is None
    assert rows["all zeros"]["status"] == "ok" and rows["all zeros"]["detail"].startswith(
        "prediction ["
    )
    assert rows["empty strings"]["status"] == "ok"
    assert rows["all missing"]["status"] == "error" and "NaN" in rows["all missing"]["detail"]
    native = _rows(robustness(boosted, frame, "label", checks=["edge_cases"]), "edge_cases")
    assert {row["status"] for row in native.values()} == {"ok"}


def test_non_finite_predictions_are_degraded_not_errors(frame) -> None:
    def fragile(inputs: pd.DataFrame) -> np.ndarray:
        # Scores NaN wherever a feature is missing or absurdly large, as a careless model would.
        values = inputs[NUMERIC].to_numpy()
        score = 1 / (1 + np.exp(-values[:, 0]))
        return np.where(
            np.isnan(values).any(axis=1) | (np.abs(values) > 10).any(axis=1), np.nan, score
        )

    report = robustness(fragile, frame, "label", checks=["extreme_values", "edge_cases"])
    extreme = _rows(report, "extreme_values")
    assert extreme["strong"]["status"] == "degraded" and "non-finite" in extreme["strong"]["detail"]
    edges = _rows(report, "edge_cases")
    assert edges["all missing"]["status"] == "degraded"
    assert edges["all zeros"]["status"] == "ok" and "0.5" in edges["all zeros"]["detail"]


def test_any_model_exception_becomes_a_truncated_error_row(frame) -> None:
    def picky(inputs: pd.DataFrame) -> np.ndarray:
        if inputs["medium"].abs().max() > 10:
            raise RuntimeError("refusing out-of-range input " + "x" * 500)
        return 1 / (1 + np.exp(-inputs["strong"].to_numpy()))

    rows = _rows(robustness(picky, frame, "label", checks=["extreme_values"]), "extreme_values")
    assert rows["medium"]["status"] == "error"
    assert rows["medium"]["detail"].startswith("RuntimeError: refusing out-of-range input")
    assert len(rows["medium"]["detail"]) == 200
    assert rows["strong"]["status"] == "degraded"


def test_the_callers_data_is_never_modified(frame, boosted) -> None:
    given = frame.copy()
    given["city"] = given["city"].astype("category")
    given["count"] = np.arange(len(given))
    model = _pipeline(given, "ignore", HistGradientBoostingClassifier(max_iter=10))
    before = given.copy(deep=True)
    report = robustness(model, given, "label")
    pd.testing.assert_frame_equal(given, before)
    assert any(row["status"] != "error" for row in _rows(report, "unseen_categories").values())


def test_regression_rmse_counts_a_rise_as_degradation(frame) -> None:
    data = frame.drop(columns=["city", "label"])
    data["target"] = 4 * data.strong + data.medium + np.random.default_rng(1).normal(0, 0.5, 500)
    model = Ridge().fit(data[NUMERIC], data["target"])
    report = robustness(
        model, data, "target", task="regression", checks=["gaussian_noise"], noise_scale=0.5
    )
    assert report.metric == "rmse" and not report.higher_is_better
    strong = _rows(report, "gaussian_noise")["strong"]
    assert strong["value"] > report.baseline
    assert strong["change"] == pytest.approx(strong["value"] - report.baseline)
    assert strong["status"] == "degraded"
    r2 = robustness(
        model,
        data,
        "target",
        task="regression",
        metric="r2",
        checks=["gaussian_noise"],
        noise_scale=0.5,
    )
    assert _rows(r2, "gaussian_noise")["strong"]["change"] > 0


def test_multiclass_defaults_to_accuracy(frame) -> None:
    data = frame.drop(columns="city")
    data["grade"] = np.digitize(data.strong + 0.5 * data.medium, [-0.7, 0.7])
    model = LogisticRegression().fit(data[NUMERIC], data["grade"])
    report = robustness(
        model,
        data.drop(columns="label"),
        "grade",
        task="multiclass",
        checks=["permutation"],
        n_repeats=2,
    )
    assert report.metric == "accuracy"
    rows = _rows(report, "permutation")
    assert rows["strong"]["change"] > rows["noise"]["change"]


def test_numpy_and_polars_inputs_are_accepted(frame, lenient) -> None:
    array = frame[NUMERIC].to_numpy()
    model = LogisticRegression().fit(array, frame["label"])
    with_array = robustness(model, array, frame["label"].to_numpy(), checks=["permutation"])
    assert [row["target"] for row in with_array.rows] == ["x0", "x1", "x2", "x3"]
    polars = pytest.importorskip("polars")
    as_polars = robustness(lenient, polars.from_pandas(frame), "label", checks=["permutation"])
    as_pandas = robustness(lenient, frame, "label", checks=["permutation"])
    assert as_polars.rows == as_pandas.rows


def test_unknown_check_and_metric_names_are_rejected(frame, lenient) -> None:
    with pytest.raises(InvalidInput, match="unknown robustness check 'noise'.*gaussian_noise"):
        robustness(lenient, frame, "label", checks=["noise"])
    with pytest.raises(InvalidInput, match="metric='auc'.*roc_auc"):
        robustness(lenient, frame, "label", metric="auc")
    with pytest.raises(InvalidInput, match="ranking"):
        robustness(lenient, frame, "label", task="ranking")
    with pytest.raises(InvalidInput, match="features"):
        robustness(lenient, frame, "label", features=["height"])


def test_the_same_seed_gives_the_same_rows_whichever_checks_run(frame, lenient) -> None:
    first = robustness(lenient, frame, "label", seed=7)
    again = robustness(lenient, frame, "label", seed=7)
    assert first.rows == again.rows
    alone = robustness(lenient, frame, "label", seed=7, checks=["permutation"])
    assert alone.rows == _rows_of(first, "permutation")
    other = robustness(lenient, frame, "label", seed=8, checks=["permutation"])
    assert other.rows != alone.rows


def _rows_of(report: RobustnessReport, check: str) -> list[dict]:
    return [row for row in report.rows if row["check"] == check]


def test_worst_lists_errors_then_the_largest_degradations(frame, lenient) -> None:
    report = robustness(lenient, frame, "label", checks=["missing_values", "permutation"])
    worst = report.worst(6)
    assert [row["status"] for row in worst[:4]] == ["error"] * 4
    assert worst[4]["check"] == "permutation" and worst[4]["target"] == "strong"
    assert worst[5]["change"] <= worst[4]["change"]
