"""`performance()` end to end: windows, labels joined late, estimates, thresholds and alerts."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from perennia.errors import InvalidInput
from perennia.monitoring.model_performance import performance
from tests.monitoring.model_performance.synthetic import DAY, binary_log, labels_for

BINARY_METRICS = {"accuracy", "precision", "recall", "specificity", "f1", "roc_auc", "log_loss"}
ESTIMATED = {"accuracy", "precision", "recall", "specificity", "f1", "roc_auc"}


def _reference(seed: int = 0, n: int = 20_000, shape=(1.5, 2.0)) -> pd.DataFrame:
    log, y = binary_log(np.random.default_rng(seed), n, a=shape[0], b=shape[1], days=20, prefix="r")
    log["ground_truth"] = y
    return log


def _current(seed: int, days: int, shape=(1.5, 2.0), per_day: int = 1000):
    log, y = binary_log(
        np.random.default_rng(seed),
        per_day * days,
        a=shape[0],
        b=shape[1],
        start_ms=100 * DAY,
        days=days,
    )
    return log, y


def test_unchanged_days_stay_quiet_and_days_with_a_worse_model_alert() -> None:
    log, y = _current(1, 12)
    later = log["time_ms"].to_numpy() >= 106 * DAY
    # From day 6 the world changes under the model: 30% of its labels flip. Its scores do not
    # move, so CBPE (which sees only scores) cannot notice; realised metrics must.
    flip = later & (np.random.default_rng(2).random(y.size) < 0.3)
    y = np.where(flip, 1.0 - y, y)
    result = performance(
        log,
        labels_for(log, y, slice(None)),
        task="binary",
        window="1d",
        reference=_reference(),
        probabilities="output.proba",
        bonferroni=True,
    )
    assert len(result.windows) == 12
    quiet = [a for a in result.alerts if a[0] < 6]
    assert quiet == []
    for window in result.windows[6:]:
        assert window.realised["accuracy"].alert, window.index
        assert not any(m.alert for m in window.estimated.values())


def test_a_shift_in_scores_moves_estimates_and_realised_metrics_together() -> None:
    log, y = _current(3, 4, shape=(5.0, 1.0), per_day=2000)
    half = np.flatnonzero(np.arange(y.size) % 2 == 0)
    result = performance(
        log,
        labels_for(log, y, half),
        task="binary",
        window="1d",
        reference=_reference(),
        probabilities="output.proba",
    )
    assert result.calibration["applied"] is False
    for window in result.windows:
        assert window.label_coverage == pytest.approx(0.5, abs=0.01)
        for name in ("precision", "specificity"):
            realised, estimated = window.realised[name], window.estimated[name]
            assert realised.alert and estimated.alert, (window.index, name)
            assert abs(realised.value - estimated.value) < 0.06


def test_realised_values_are_scikit_learns_on_each_windows_labelled_rows() -> None:
    log, y = _current(4, 3)
    labelled = np.flatnonzero(np.random.default_rng(5).random(y.size) < 0.7)
    result = performance(
        log, labels_for(log, y, labelled), task="binary", window="1d", probabilities="output.proba"
    )
    times = log["time_ms"].to_numpy()
    p = log["output.proba.1"].to_numpy()
    for window in result.windows:
        rows = labelled[(times[labelled] >= window.start_ms) & (times[labelled] < window.end_ms)]
        assert window.n_labelled == rows.size
        assert window.realised["roc_auc"].value == pytest.approx(
            skm.roc_auc_score(y[rows], p[rows])
        )
        assert window.realised["f1"].value == pytest.approx(skm.f1_score(y[rows], p[rows] >= 0.5))


def test_without_a_reference_there_are_no_estimates_and_no_thresholds() -> None:
    log, y = _current(6, 2)
    result = performance(
        log,
        labels_for(log, y, slice(None)),
        task="binary",
        window="1d",
        probabilities="output.proba",
    )
    assert all(w.estimated == {} for w in result.windows)
    assert all(
        m.lower is None and m.alert is None for w in result.windows for m in w.realised.values()
    )
    assert any("no reference" in note for note in result.notes)


def test_a_fixed_range_reports_empty_windows_explicitly() -> None:
    log, y = _current(7, 2)
    result = performance(
        log,
        labels_for(log, y, slice(None)),
        task="binary",
        window="1d",
        reference=_reference(),
        probabilities="output.proba",
        start_ms=99 * DAY,
        end_ms=103 * DAY,
    )
    assert [w.n_predictions > 0 for w in result.windows] == [False, True, True, False]
    empty = result.windows[0]
    assert empty.label_coverage is None
    assert all(m.value is None and m.reason and m.alert is None for m in empty.realised.values())
    assert all(m.value is None and "no predictions" in m.reason for m in empty.estimated.values())


def test_labels_still_to_come_leave_realised_metrics_not_computable_but_estimated() -> None:
    log, y = _current(8, 3)
    early = np.flatnonzero(log["time_ms"].to_numpy() < 101 * DAY)
    result = performance(
        log,
        labels_for(log, y, early),
        task="binary",
        count=1000,
        reference=_reference(),
        probabilities="output.proba",
    )
    last = result.windows[-1]
    assert last.n_labelled == 0 and last.label_coverage == 0.0
    assert all(m.value is None for m in last.realised.values())
    assert all(m.value is not None for m in last.estimated.values())


def test_the_result_is_json_ready_and_a_long_frame() -> None:
    log, y = _current(9, 3)
    result = performance(
        log,
        labels_for(log, y, slice(0, 1000)),
        task="binary",
        window="1d",
        reference=_reference(),
        probabilities="output.proba",
        start_ms=100 * DAY,
        end_ms=104 * DAY,
    )
    text = json.dumps(result.to_dict(), allow_nan=False)
    back = json.loads(text)
    assert back["windows"][-1]["realised"]["accuracy"] == {
        "value": None,
        "reason": "no labelled predictions in the window",
        "lower": None,
        "upper": None,
        "alert": None,
    }
    sizes = [w.n_predictions for w in result.windows if w.n_predictions]
    assert back["reference"]["chunk_size"] == int(np.median(sizes))
    frame = result.to_frame()
    assert len(frame) == 4 * (len(BINARY_METRICS) + len(ESTIMATED))
    assert set(frame["kind"]) == {"realised", "estimated"}
    assert frame["value"].map(lambda v: v is None or isinstance(v, float)).all()
    for column in ("label_coverage", "value", "lower", "upper"):
        assert not any(isinstance(v, float) and math.isnan(v) for v in frame[column])
    # The 1000 labels all fall on the first day; the fourth day has no predictions at all.
    assert [w.n_labelled > 0 for w in result.windows] == [True, False, False, False]
    assert frame["value"].map(lambda v: v is None).sum() == 3 * len(BINARY_METRICS) + len(ESTIMATED)


def test_bonferroni_splits_the_rate_and_metrics_narrow_both_kinds() -> None:
    log, y = _current(10, 2)
    result = performance(
        log,
        labels_for(log, y, slice(None)),
        task="binary",
        window="1d",
        reference=_reference(),
        probabilities="output.proba",
        metrics=["accuracy", "log_loss"],
        bonferroni=True,
        target_rate=0.02,
    )
    assert set(result.windows[0].realised) == {"accuracy", "log_loss"}
    assert set(result.windows[0].estimated) == {"accuracy"}
    assert result.settings["rate_per_value"] == pytest.approx(0.02 / 3)


def test_regression_windows_have_realised_metrics_and_thresholds() -> None:
    rng = np.random.default_rng(11)

    def frame(n: int, start: int, noise: float) -> pd.DataFrame:
        y = rng.normal(0.0, 2.0, n)
        return pd.DataFrame(
            {
                "prediction_id": [f"{start}-{i}" for i in range(n)],
                "time_ms": start + np.sort(rng.integers(0, 4 * DAY, n)),
                "output.prediction": y + rng.normal(0.0, noise, n),
                "ground_truth": y,
            }
        )

    reference = frame(10_000, 0, 1.0)
    current = pd.concat([frame(2000, 12 * DAY, 1.0), frame(2000, 16 * DAY, 2.0)], ignore_index=True)
    result = performance(current, task="regression", window="4d", reference=reference)
    assert [w.realised["mae"].alert for w in result.windows] == [False, True]
    assert all(w.estimated == {} for w in result.windows)
    assert result.calibration is None


def test_multiclass_windows_are_estimated_with_one_vs_rest_cbpe() -> None:
    rng = np.random.default_rng(12)
    classes = np.array(["a", "b", "c"])

    def frame(n: int, start: int, alpha) -> pd.DataFrame:
        p = rng.dirichlet(alpha, n)
        y = classes[(p.cumsum(1) < rng.random((n, 1))).sum(1)]
        out = pd.DataFrame({f"output.proba.{i}": p[:, i] for i in range(3)})
        out["prediction_id"] = [f"{start}-{i}" for i in range(n)]
        out["time_ms"] = start + np.sort(rng.integers(0, DAY, n))
        out["ground_truth"] = y
        return out

    reference = frame(15_000, 0, (3.0, 2.0, 1.0))
    current = frame(3000, 10 * DAY, (3.0, 2.0, 1.0))
    result = performance(
        current, task="multiclass", window="1d", reference=reference, probabilities="output.proba"
    )
    (window,) = result.windows
    assert set(window.estimated) == {
        "accuracy",
        "precision_macro",
        "recall_macro",
        "f1_macro",
        "roc_auc_ovr",
    }
    for name in window.estimated:
        assert abs(window.estimated[name].value - window.realised[name].value) < 0.04, name


def test_bad_calls_are_refused() -> None:
    log, y = _current(13, 1)
    unlabelled = log.copy()
    with pytest.raises(InvalidInput, match="reference has no labels"):
        performance(
            log, task="binary", window="1d", reference=unlabelled, probabilities="output.proba"
        )
    with pytest.raises(InvalidInput, match="threshold_method="):
        performance(
            log, task="binary", window="1d", threshold_method="3sigma", probabilities="output.proba"
        )
    with pytest.raises(InvalidInput, match="exactly one"):
        performance(log, task="binary", probabilities="output.proba")
