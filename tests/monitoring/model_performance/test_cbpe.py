"""CBPE estimates the realised metrics of calibrated scores, before and after covariate shift.

Scores are calibrated by construction (each label is drawn as Bernoulli(p) from its row's p),
so the realised metric of a window is random around what CBPE estimates. The tolerance is
four of its standard deviations, found by redrawing the window's labels (`bootstrap_sd`),
widened by the calibrator's own error: an isotonic fit on n_ref reference rows is off on
average by about one reference standard error, at most 0.5 / sqrt(n_ref).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from perennia.errors import InvalidInput
from perennia.monitoring.model_performance import CBPE, MulticlassCBPE
from tests.monitoring.model_performance.synthetic import bootstrap_sd

EXAMPLES = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
N_REF, N_WINDOW = 20_000, 3_000
BEFORE, AFTER = (1.5, 2.0), (4.0, 1.5)  # Beta(a, b) of p: about 43% positives, then 73%


def _draw(rng: np.random.Generator, n: int, shape: tuple[float, float]):
    p = rng.beta(*shape, n)
    return p, rng.random(n) < p


def _realised(y: np.ndarray, score: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    return {
        "accuracy": skm.accuracy_score(y, pred),
        "precision": skm.precision_score(y, pred),
        "recall": skm.recall_score(y, pred),
        "specificity": skm.recall_score(y, pred, pos_label=0),
        "f1": skm.f1_score(y, pred),
        "roc_auc": skm.roc_auc_score(y, score),
    }


def _assert_within(estimate: dict, realised: dict, sd: dict, n_ref: int | None = N_REF) -> None:
    calibration_error = 0.0 if n_ref is None else 0.25 / n_ref  # None: no calibrator fitted
    for name, value in realised.items():
        tolerance = 4 * math.sqrt(sd[name] ** 2 + calibration_error)
        assert abs(estimate[name].value - value) <= tolerance, (name, estimate[name], value)


@pytest.mark.parametrize("calibration", ["never", "auto"])
@pytest.mark.parametrize("shape", [BEFORE, AFTER], ids=["unchanged", "shifted"])
def test_estimates_match_realised_metrics_of_calibrated_scores(calibration, shape) -> None:
    rng = np.random.default_rng(11)
    p_ref, y_ref = _draw(rng, N_REF, BEFORE)
    cbpe = CBPE(calibration=calibration).fit(y_ref, p_ref)
    p, y = _draw(rng, N_WINDOW, shape)
    estimate = cbpe.estimate(p)
    n_ref = N_REF if cbpe.calibrator_.applied else None
    _assert_within(estimate, _realised(y, p, p >= 0.5), bootstrap_sd(p, p >= 0.5), n_ref)


@pytest.mark.parametrize("threshold", [0.3, 0.7])
def test_estimates_follow_the_decision_threshold(threshold) -> None:
    rng = np.random.default_rng(17)
    p_ref, y_ref = _draw(rng, N_REF, BEFORE)
    cbpe = CBPE(threshold=threshold, calibration="never").fit(y_ref, p_ref)
    p, y = _draw(rng, N_WINDOW, AFTER)
    pred = p >= threshold
    _assert_within(cbpe.estimate(p), _realised(y, p, pred), bootstrap_sd(p, pred), None)


def test_the_shift_really_moves_the_class_balance_and_the_metrics() -> None:
    rng = np.random.default_rng(11)
    p_ref, y_ref = _draw(rng, N_REF, BEFORE)
    cbpe = CBPE(calibration="never").fit(y_ref, p_ref)
    before, after = (
        cbpe.estimate(_draw(rng, N_WINDOW, BEFORE)[0]),
        cbpe.estimate(_draw(rng, N_WINDOW, AFTER)[0]),
    )
    # Precision rises and specificity falls by far more than the tolerance: the test above
    # would fail if the estimate ignored the window and echoed the reference.
    assert after["precision"].value - before["precision"].value > 0.08
    assert before["specificity"].value - after["specificity"].value > 0.2


@pytest.mark.parametrize("distort", [np.sqrt, np.square], ids=["overconfident", "underconfident"])
def test_miscalibrated_scores_are_calibrated_and_then_estimated_well(distort) -> None:
    rng = np.random.default_rng(12)
    p_ref, y_ref = _draw(rng, N_REF, BEFORE)
    cbpe = CBPE().fit(y_ref, distort(p_ref))
    assert cbpe.calibrator_.applied
    assert cbpe.calibrator_.brier_calibrated < cbpe.calibrator_.brier_raw
    p, y = _draw(rng, N_WINDOW, AFTER)
    score = distort(p)
    pred = score >= 0.5
    realised, sd = _realised(y, score, pred), bootstrap_sd(p, pred)
    _assert_within(cbpe.estimate(score), realised, sd)
    # Reading the distorted scores as probabilities misses by far more than the tolerance.
    raw = CBPE(calibration="never").fit(y_ref, distort(p_ref)).estimate(score)
    assert any(
        abs(raw[n].value - realised[n]) > 4 * math.sqrt(sd[n] ** 2 + 0.25 / N_REF) for n in realised
    )


def test_calibrated_scores_are_used_as_they_are() -> None:
    rng = np.random.default_rng(13)
    p_ref, y_ref = _draw(rng, N_REF, BEFORE)
    cbpe = CBPE().fit(y_ref, p_ref)
    assert not cbpe.calibrator_.applied
    assert cbpe.calibrated(p_ref[:5]).tolist() == p_ref[:5].tolist()


@pytest.mark.parametrize("calibration", ["never", "always"])
def test_estimates_on_the_reference_match_its_realised_metrics(calibration) -> None:
    rng = np.random.default_rng(14)
    p, y = _draw(rng, 5_000, BEFORE)
    estimate = CBPE(calibration=calibration).fit(y, p).estimate(p)
    realised = _realised(y, p, p >= 0.5)
    sd = bootstrap_sd(p, p >= 0.5)
    for name, value in realised.items():
        assert abs(estimate[name].value - value) <= 4 * sd[name], name
    if calibration == "always":
        # In-sample isotonic values are block means of the labels, so the expected counts
        # over whole blocks are the realised ones: only the block at the threshold can differ.
        assert estimate["accuracy"].value == pytest.approx(realised["accuracy"], abs=0.01)


def test_estimated_auc_is_the_auc_of_rows_weighted_by_their_probability() -> None:
    rng = np.random.default_rng(15)
    p = np.round(rng.random(300), 2)  # ties on purpose
    cbpe = CBPE(calibration="never").fit([0, 1], [0.2, 0.8])
    twice = np.r_[p, p]
    oracle = skm.roc_auc_score(
        np.r_[np.ones(300), np.zeros(300)], twice, sample_weight=np.r_[p, 1 - p]
    )
    assert cbpe.estimate(p)["roc_auc"].value == pytest.approx(oracle, rel=1e-12)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.UndefinedMetricWarning")
@EXAMPLES
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(2, 200),
    threshold=st.floats(0.05, 0.95),
)
def test_certain_scores_give_exactly_the_realised_metrics(seed, n, threshold) -> None:
    # With p in {0, 1} every label is known, so the expected confusion matrix is the real one.
    rng = np.random.default_rng(seed)
    p = rng.integers(0, 2, n).astype(float)
    cbpe = CBPE(threshold=threshold, calibration="never").fit([0, 1], [0.0, 1.0])
    estimate = cbpe.estimate(p)
    y = p == 1
    for name, value in _realised(y, p, p >= threshold).items():
        undefined = name == "roc_auc" and (y.all() or not y.any())
        if undefined or estimate[name].value is None:
            assert estimate[name].value is None and estimate[name].reason
        else:
            assert estimate[name].value == pytest.approx(value, abs=1e-12)


@EXAMPLES
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 300))
def test_expected_counts_sum_to_the_rows_and_to_the_expected_positives(seed, n) -> None:
    rng = np.random.default_rng(seed)
    p = rng.random(n)
    counts = CBPE(calibration="never").fit([0, 1], [0.1, 0.9]).expected_counts(p)
    assert counts.total == pytest.approx(n)
    assert counts.tp + counts.fn == pytest.approx(p.sum())
    assert min(counts.tp, counts.fp, counts.fn, counts.tn) >= 0.0


def test_an_empty_window_is_not_computable() -> None:
    cbpe = CBPE(calibration="never").fit([0, 1], [0.1, 0.9])
    estimate = cbpe.estimate(np.array([]))
    assert set(estimate) == {"accuracy", "precision", "recall", "specificity", "f1", "roc_auc"}
    assert all(m.value is None and "no predictions" in m.reason for m in estimate.values())


def test_a_window_expected_to_hold_one_class_has_no_auc() -> None:
    cbpe = CBPE(calibration="never").fit([0, 1], [0.1, 0.9])
    assert cbpe.estimate([0.0, 0.0])["roc_auc"].reason == "no row is expected to be positive"
    assert cbpe.estimate([1.0, 1.0])["roc_auc"].reason == "no row is expected to be negative"


@pytest.mark.parametrize(
    ("y", "score", "message"),
    [
        ([0, 1], [0.2, 1.3], r"\[0, 1\]"),
        ([0, 1], [0.2, -0.1], r"\[0, 1\]"),
        ([0, 1], [0.2, np.nan], "NaN"),
        ([0, 1, 2], [0.2, 0.4, 0.6], "two classes"),
        ([1, 1], [0.2, 0.4], "one class"),
        ([0, 1], [0.2], "rows"),
        ([0, 1], [], "empty"),
    ],
)
def test_bad_reference_inputs_are_refused(y, score, message) -> None:
    with pytest.raises(InvalidInput, match=message):
        CBPE(calibration="never").fit(y, score)


def test_bad_estimation_inputs_and_settings_are_refused() -> None:
    fitted = CBPE(calibration="never").fit([0, 1], [0.1, 0.9])
    with pytest.raises(InvalidInput, match="not fitted"):
        CBPE().estimate([0.5])
    with pytest.raises(InvalidInput, match="NaN"):
        fitted.estimate([0.5, np.nan])
    with pytest.raises(InvalidInput, match="rows"):
        fitted.estimate([0.5, 0.6], y_pred=np.array([True]))
    with pytest.raises(InvalidInput, match="cannot estimate"):
        fitted.estimate([0.5], metrics=("log_loss",))
    with pytest.raises(InvalidInput, match="calibration="):
        CBPE(calibration="sometimes").fit([0, 1] * 10, [0.1, 0.9] * 10)
    with pytest.raises(InvalidInput, match="threshold="):
        CBPE(threshold=1.5)
    with pytest.raises(InvalidInput, match="at least 10"):
        CBPE().fit([0, 1, 0, 1], [0.1, 0.9, 0.2, 0.8])


def _categorical(rng: np.random.Generator, p: np.ndarray) -> np.ndarray:
    return (p.cumsum(axis=-1) < rng.random(p.shape[:-1] + (1,))).sum(axis=-1)


def _macro_f1_sd(p: np.ndarray, chosen: np.ndarray, draws: int = 300) -> tuple[float, float]:
    """Return the spread of realised accuracy and macro F1 when labels ~ Categorical(p)."""
    rng = np.random.default_rng(0)
    y = _categorical(rng, np.broadcast_to(p, (draws, *p.shape)))
    accuracy = (y == chosen).mean(axis=1)
    f1 = []
    for c in range(p.shape[1]):
        tp = ((y == c) & (chosen == c)).sum(1)
        f1.append(2 * tp / ((y == c).sum(1) + (chosen == c).sum()))
    return float(accuracy.std()), float(np.mean(f1, axis=0).std())


@pytest.mark.parametrize("alpha", [(3.0, 2.0, 1.0), (1.0, 2.0, 4.0)], ids=["unchanged", "shifted"])
def test_multiclass_estimates_match_realised_accuracy_and_macro_f1(alpha) -> None:
    rng = np.random.default_rng(16)
    classes = np.array(["a", "b", "c"])
    p_ref = rng.dirichlet((3.0, 2.0, 1.0), N_REF)
    cbpe = MulticlassCBPE(calibration="never").fit(
        classes[_categorical(rng, p_ref)], p_ref, classes=classes
    )
    p = rng.dirichlet(alpha, N_WINDOW)
    y = classes[_categorical(rng, p)]
    pred = classes[p.argmax(1)]
    estimate = cbpe.estimate(p)
    sd_accuracy, sd_f1 = _macro_f1_sd(p, p.argmax(1))
    assert abs(estimate["accuracy"].value - skm.accuracy_score(y, pred)) <= 4 * sd_accuracy
    assert (
        abs(estimate["f1_macro"].value - skm.f1_score(y, pred, average="macro")) <= 4 * sd_f1 + 0.01
    )
    assert abs(estimate["roc_auc_ovr"].value - skm.roc_auc_score(y, p, multi_class="ovr")) <= 0.03


def test_multiclass_refuses_labels_outside_the_classes() -> None:
    with pytest.raises(InvalidInput, match="not one of classes"):
        MulticlassCBPE(calibration="never").fit(
            ["a", "z"], [[0.6, 0.4], [0.3, 0.7]], classes=["a", "b"]
        )
    fitted = MulticlassCBPE(calibration="never").fit(
        ["a", "b"], [[0.6, 0.4], [0.3, 0.7]], classes=["a", "b"]
    )
    with pytest.raises(InvalidInput, match="columns"):
        fitted.estimate([[0.2, 0.3, 0.5]])
