"""Canary analysis: sample size, error rate, latency, prediction drift (PSI) and the live metric."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from perennia.entities.deployment import CanaryPolicy
from perennia.errors import InvalidInput
from perennia.serving.analysis import (
    PSI_EPSILON,
    Analysis,
    analyse_canary,
    is_categorical,
    psi,
    wilson_interval,
)


def variant_rows(
    rng: np.random.Generator,
    variant: str,
    n: int,
    *,
    error_rate: float = 0.0,
    latency_ms: float = 10.0,
    shift: float = 0.0,
    shadow: bool = False,
    start: int = 0,
    time_ms: int = 1_000,
    classes: bool = False,
    accuracy: float | None = None,
    labelled: float = 1.0,
) -> pd.DataFrame:
    """Return `n` prediction-log rows of one variant (numeric scores, or class labels)."""
    ok = rng.random(n) >= error_rate
    x = rng.normal(size=n)
    if classes:
        prediction = np.where(x + shift > 0, "yes", "no").astype(object)
    else:
        prediction = 1 / (1 + np.exp(-(x + shift)))
    truth: np.ndarray = np.full(n, None, dtype=object)
    if accuracy is not None:
        right = rng.random(n) < accuracy
        other = np.where(prediction == "yes", "no", "yes")
        truth = np.where(right, prediction, other).astype(object)
        truth[rng.random(n) >= labelled] = None
    requests = [f"r{start + i}" for i in range(n)]
    frame = pd.DataFrame(
        {
            "prediction_id": [f"{r}-0" for r in requests],
            "request_id": requests,
            "time_ms": np.full(n, time_ms, dtype=np.int64) + np.arange(n),
            "deployment": "fraud",
            "variant": variant,
            "model_name": "fraud",
            "model_version": 1 if variant == "stable" else 2,
            "latency_ms": rng.gamma(4.0, latency_ms / 4.0, n),
            "ok": ok,
            "error": np.where(ok, None, "ValueError: boom"),
            "shadow": shadow,
            "input.x": x,
            "output.prediction": pd.Series(prediction).where(ok, None),
            "ground_truth": truth,
        }
    )
    return frame


def canary_log(seed: int = 0, n: int = 1000, **canary: object) -> pd.DataFrame:
    """Return a log with a healthy stable variant and a canary shaped by `canary`."""
    rng = np.random.default_rng(seed)
    classes = bool(canary.get("classes", False))
    accuracy = canary.get("stable_accuracy")
    stable = variant_rows(rng, "stable", n, classes=classes, accuracy=accuracy)  # type: ignore[arg-type]
    canary = {k: v for k, v in canary.items() if k != "stable_accuracy"}
    return pd.concat([stable, variant_rows(rng, "canary", n, start=n, **canary)], ignore_index=True)  # type: ignore[arg-type]


def test_healthy_canary_passes_every_check() -> None:
    analysis = analyse_canary(canary_log(), CanaryPolicy(max_p99_latency_ms=100.0))

    assert analysis.verdict == "pass"
    assert [c.name for c in analysis.checks] == [
        "sample_size",
        "error_rate",
        "latency_p99_ratio",
        "latency_p99",
        "prediction_psi",
    ]
    assert {c.verdict for c in analysis.checks} == {"pass"}
    assert analysis.counts["stable"] == analysis.counts["canary"] == 1000
    assert not analysis.no_data


def test_canary_that_errors_fails_the_error_rate_check() -> None:
    analysis = analyse_canary(canary_log(error_rate=0.2), CanaryPolicy())

    assert analysis.verdict == "fail"
    check = analysis.check("error_rate")
    assert check is not None and check.verdict == "fail"
    assert check.value == pytest.approx(analysis.counts["canary_errors"] / 1000)
    assert 0.15 < check.value < 0.25


def test_error_rate_above_the_limit_by_too_few_requests_is_inconclusive_not_a_pass() -> None:
    log = canary_log(n=100)
    canary_rows = log.index[log["variant"] == "canary"]
    log.loc[canary_rows[:2], "ok"] = False  # 2% observed against a 1% limit, n = 100

    check = analyse_canary(log, CanaryPolicy()).check("error_rate")

    assert check is not None and check.verdict == "inconclusive"
    assert check.value == pytest.approx(0.02)
    log.loc[canary_rows[:5], "ok"] = False  # 5 of 100: the 95% lower bound is above 1%
    check = analyse_canary(log, CanaryPolicy()).check("error_rate")
    assert check is not None and check.verdict == "fail"


def test_error_rate_limit_of_zero_fails_on_a_single_error() -> None:
    log = canary_log(n=200)
    log.loc[log.index[log["variant"] == "canary"][0], "ok"] = False

    check = analyse_canary(log, CanaryPolicy(max_error_rate=0.0)).check("error_rate")

    assert check is not None and check.verdict == "fail"


@pytest.mark.parametrize(("successes", "n"), [(0, 100), (2, 100), (37, 50), (999, 1000), (5, 7)])
def test_wilson_interval_matches_scipy(successes: int, n: int) -> None:
    expected = stats.binomtest(successes, n).proportion_ci(confidence_level=0.9, method="wilson")

    low, high = wilson_interval(successes, n, 0.9)

    assert low == pytest.approx(expected.low, abs=1e-12)
    assert high == pytest.approx(expected.high, abs=1e-12)


def test_canary_with_shifted_predictions_fails_on_psi_only() -> None:
    analysis = analyse_canary(canary_log(shift=1.0), CanaryPolicy())

    assert analysis.verdict == "fail"
    verdicts = {c.name: c.verdict for c in analysis.checks}
    assert verdicts["prediction_psi"] == "fail"
    assert verdicts["error_rate"] == verdicts["latency_p99_ratio"] == "pass"
    psi_check = analysis.check("prediction_psi")
    assert psi_check is not None and psi_check.value is not None and psi_check.value > 0.2


def test_slow_canary_fails_on_the_p99_ratio_and_the_absolute_ceiling() -> None:
    log = canary_log(latency_ms=40.0)
    analysis = analyse_canary(log, CanaryPolicy(max_p99_latency_ms=50.0))

    assert analysis.verdict == "fail"
    ratio, ceiling = analysis.check("latency_p99_ratio"), analysis.check("latency_p99")
    assert ratio is not None and ratio.verdict == "fail"
    assert ceiling is not None and ceiling.verdict == "fail"
    ok = log[log["ok"]]
    p99 = {
        v: np.percentile(ok.loc[ok["variant"] == v, "latency_ms"], 99) for v in ("stable", "canary")
    }
    assert ratio.value == pytest.approx(p99["canary"] / p99["stable"])
    assert ceiling.value == pytest.approx(p99["canary"])


def test_too_few_requests_are_inconclusive_even_when_the_canary_is_broken() -> None:
    log = canary_log(n=1000).iloc[:1030].copy()  # the canary has 30 rows
    log.loc[log["variant"] == "canary", "ok"] = False

    analysis = analyse_canary(log, CanaryPolicy(min_requests=100))

    assert analysis.verdict == "inconclusive"
    assert analysis.no_data
    assert [c.name for c in analysis.checks] == ["sample_size"]
    assert analysis.checks[0].detail.startswith("no data")
    assert analysis.checks[0].value == 30


def test_no_rows_at_all_are_inconclusive_and_zero_min_requests_does_not_make_them_pass() -> None:
    log = canary_log(n=10).iloc[0:0]

    analysis = analyse_canary(log, CanaryPolicy(min_requests=0))

    assert analysis.verdict == "inconclusive"
    assert analysis.no_data


def test_on_no_data_fail_turns_too_few_requests_into_a_fail() -> None:
    log = canary_log(n=50)

    analysis = analyse_canary(log, CanaryPolicy(min_requests=100, on_no_data="fail"))

    assert analysis.verdict == "fail"
    assert analysis.no_data
    assert analysis.checks[0].detail.startswith("no data")


def test_shadow_rows_are_not_counted_as_the_canary_s_traffic() -> None:
    rng = np.random.default_rng(3)
    broken_shadow = variant_rows(rng, "canary", 500, error_rate=1.0, shadow=True, start=5000)
    log = pd.concat([canary_log(), broken_shadow], ignore_index=True)

    analysis = analyse_canary(log, CanaryPolicy())

    assert analysis.verdict == "pass"
    assert analysis.counts["shadow"] == 500
    assert analysis.counts["canary"] == 1000


def test_since_ms_leaves_out_rows_from_before_the_step() -> None:
    rng = np.random.default_rng(4)
    old_broken = variant_rows(rng, "canary", 1000, error_rate=0.5, time_ms=0, start=9000)
    log = pd.concat([old_broken, canary_log()], ignore_index=True)

    assert analyse_canary(log, CanaryPolicy()).verdict == "fail"
    assert analyse_canary(log, CanaryPolicy(), since_ms=1_000).verdict == "pass"


def test_a_pyarrow_table_gives_the_same_analysis_as_pandas() -> None:
    log = canary_log(shift=0.5)

    from_pandas = analyse_canary(log, CanaryPolicy())
    from_arrow = analyse_canary(pa.Table.from_pandas(log), CanaryPolicy())

    assert from_arrow == from_pandas


def test_other_variant_names_are_analysed() -> None:
    log = canary_log().replace({"variant": {"stable": "blue", "canary": "green"}})

    assert analyse_canary(log, CanaryPolicy(), stable="blue", canary="green").verdict == "pass"
    assert analyse_canary(log, CanaryPolicy()).no_data


def test_analysis_to_dict_is_strict_json() -> None:
    analysis = analyse_canary(canary_log(error_rate=0.2), CanaryPolicy())

    data = json.loads(json.dumps(analysis.to_dict(), allow_nan=False))

    assert data["verdict"] == "fail"
    assert data["checks"][1]["name"] == "error_rate"
    assert data["counts"]["canary"] == 1000


def test_bad_policy_and_bad_logs_are_rejected_with_the_field_named() -> None:
    log = canary_log(n=10)
    with pytest.raises(InvalidInput, match="on_no_data"):
        analyse_canary(log, CanaryPolicy(on_no_data="pass"))
    with pytest.raises(InvalidInput, match="min_metric.*f1"):
        analyse_canary(log, CanaryPolicy(min_metric={"f1": 0.5}))
    with pytest.raises(InvalidInput, match="latency_ms"):
        analyse_canary(log.drop(columns=["latency_ms"]), CanaryPolicy())
    with pytest.raises(InvalidInput, match="time_ms"):
        analyse_canary(log.drop(columns=["time_ms"]), CanaryPolicy(), since_ms=5)


# -- the live metric ---------------------------------------------------------------------------


def labelled_log(canary_accuracy: float, labelled: float = 1.0) -> pd.DataFrame:
    return canary_log(
        classes=True, stable_accuracy=0.95, accuracy=canary_accuracy, labelled=labelled
    )


def test_accurate_canary_passes_the_accuracy_floor_and_the_drop_limit() -> None:
    policy = CanaryPolicy(min_metric={"accuracy": 0.9}, max_metric_drop=0.03)

    analysis = analyse_canary(labelled_log(0.95), policy)

    assert analysis.verdict == "pass"
    accuracy, drop = analysis.check("accuracy"), analysis.check("accuracy_vs_stable")
    assert accuracy is not None and accuracy.verdict == "pass"
    assert drop is not None and drop.verdict == "pass"
    canary = labelled_log(0.95).query("variant == 'canary' and ok")
    expected = (canary["output.prediction"] == canary["ground_truth"]).mean()
    assert accuracy.value == pytest.approx(expected)


def test_inaccurate_canary_fails_the_accuracy_floor_and_the_drop_limit() -> None:
    policy = CanaryPolicy(min_metric={"accuracy": 0.9}, max_metric_drop=0.03)

    analysis = analyse_canary(labelled_log(0.8), policy)

    assert analysis.verdict == "fail"
    assert {c.name: c.verdict for c in analysis.checks if "accuracy" in c.name} == {
        "accuracy": "fail",
        "accuracy_vs_stable": "fail",
    }
    drop = analysis.check("accuracy_vs_stable")
    assert drop is not None and drop.value == pytest.approx(0.15, abs=0.04)


def test_too_few_labels_make_the_metric_check_inconclusive_not_a_pass_or_fail() -> None:
    policy = CanaryPolicy(min_metric={"accuracy": 0.9})

    analysis = analyse_canary(labelled_log(0.5, labelled=0.05), policy)

    accuracy = analysis.check("accuracy")
    assert accuracy is not None and accuracy.verdict == "inconclusive"
    assert "too few labels" in accuracy.detail
    assert analysis.verdict == "inconclusive"


def test_a_log_without_ground_truth_makes_the_metric_inconclusive() -> None:
    log = canary_log().drop(columns=["ground_truth"])

    analysis = analyse_canary(log, CanaryPolicy(max_metric_drop=0.05))

    assert analysis.verdict == "inconclusive"
    check = analysis.check("accuracy_vs_stable")
    assert check is not None and check.verdict == "inconclusive"


def regression_log(canary_noise: float) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    parts = []
    for variant, noise, start in (("stable", 1.0, 0), ("canary", canary_noise, 1000)):
        rows = variant_rows(rng, variant, 1000, start=start)
        rows["output.prediction"] = rng.normal(50, 10, 1000)
        rows["ground_truth"] = rows["output.prediction"] + rng.normal(0, noise, 1000)
        parts.append(rows)
    return pd.concat(parts, ignore_index=True)


def test_numeric_predictions_are_judged_by_rmse_where_lower_is_better() -> None:
    log = regression_log(canary_noise=3.0)

    analysis = analyse_canary(log, CanaryPolicy(max_metric_drop=0.5, max_prediction_psi=1.0))

    check = analysis.check("rmse_vs_stable")
    assert check is not None and check.verdict == "fail"
    rmse = {
        v: math.sqrt(((g["output.prediction"] - g["ground_truth"]) ** 2).mean())
        for v, g in log.groupby("variant")
    }
    assert check.value == pytest.approx(rmse["canary"] - rmse["stable"])
    healthy = analyse_canary(
        regression_log(1.0), CanaryPolicy(max_metric_drop=0.5, min_metric={"rmse": 1.2})
    )
    assert healthy.check("rmse_vs_stable").verdict == "pass"  # type: ignore[union-attr]
    assert healthy.check("rmse").verdict == "pass"  # type: ignore[union-attr]
    assert (
        analyse_canary(log, CanaryPolicy(min_metric={"rmse": 1.2})).check("rmse").verdict == "fail"
    )  # type: ignore[union-attr]


# -- PSI ---------------------------------------------------------------------------------------


def test_psi_of_numbers_matches_a_hand_computation() -> None:
    expected = np.arange(10) / 10  # two bins split at the median 0.45: 50% / 50%
    actual = np.array([0, 1, 2, 3, 4, 0, 1, 2, 8, 9]) / 10  # 80% / 20%

    value = psi(expected, actual, bins=2)

    assert value == pytest.approx(0.3 * math.log(0.8 / 0.5) + (-0.3) * math.log(0.2 / 0.5))


def test_psi_of_labels_matches_a_hand_computation_with_epsilon_for_a_new_class() -> None:
    expected = ["a"] * 50 + ["b"] * 50
    actual = ["a"] * 80 + ["b"] * 10 + ["c"] * 10

    value = psi(expected, actual)

    by_hand = (
        (0.8 - 0.5) * math.log(0.8 / 0.5)
        + (0.1 - 0.5) * math.log(0.1 / 0.5)
        + (0.1 - PSI_EPSILON) * math.log(0.1 / PSI_EPSILON)
    )
    assert value == pytest.approx(by_hand)


def test_psi_counts_values_beyond_the_baseline_range_in_the_outer_bins() -> None:
    baseline = np.linspace(0, 1, 1000)

    assert psi(baseline, baseline + 10.0) > 5.0
    assert psi(baseline, baseline - 10.0) > 5.0


def test_integer_class_ids_are_compared_as_categories() -> None:
    stable = np.array([0, 1, 2] * 100)
    canary = np.array([0, 1, 2, 3] * 75)  # a class the stable never predicts

    assert is_categorical(stable, canary)
    assert psi(stable, canary) > 0.5
    assert not is_categorical(np.linspace(0, 1, 50))
    assert not is_categorical(np.arange(100))


numbers = st.lists(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=1, max_size=200
)
labels = st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=200)


@settings(max_examples=150, deadline=None)
@given(numbers, numbers, st.integers(min_value=1, max_value=20))
def test_psi_is_never_negative(expected: list[float], actual: list[float], bins: int) -> None:
    assert psi(expected, actual, bins=bins) >= 0.0


@settings(max_examples=150, deadline=None)
@given(numbers, st.integers(min_value=1, max_value=20), st.randoms(use_true_random=False))
def test_psi_of_a_sample_against_a_shuffle_or_copy_of_itself_is_zero(
    sample: list[float], bins: int, random: object
) -> None:
    shuffled = list(sample)
    random.shuffle(shuffled)  # type: ignore[attr-defined]

    assert psi(sample, shuffled, bins=bins) == 0.0
    assert psi(sample, sample * 3, bins=bins) == 0.0


@settings(max_examples=150, deadline=None)
@given(labels, labels)
def test_psi_over_categories_is_symmetric(expected: list[str], actual: list[str]) -> None:
    assert psi(expected, actual) == pytest.approx(psi(actual, expected))
    assert psi(expected, actual) >= 0.0


def test_psi_ignores_missing_values_and_rejects_an_empty_side() -> None:
    assert psi([1.0, 2.0, np.nan, 3.0], [1.0, 2.0, 3.0]) == 0.0
    with pytest.raises(InvalidInput, match="expected"):
        psi([np.nan], [1.0])
    with pytest.raises(InvalidInput, match="bins"):
        psi([1.0], [1.0], bins=0)


def test_analysis_is_a_frozen_value() -> None:
    analysis = analyse_canary(canary_log(n=20), CanaryPolicy())

    assert isinstance(analysis, Analysis)
    with pytest.raises(AttributeError):
        analysis.verdict = "pass"  # type: ignore[misc]
