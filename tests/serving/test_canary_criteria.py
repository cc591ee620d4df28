"""Success criteria as the canary analysis's default bounds: floors on accuracy, ceilings on
rmse, and a note for every criterion the live analysis cannot check."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import perennia
from perennia import registry
from perennia.entities.deployment import CanaryPolicy
from perennia.errors import InvalidInput
from perennia.registry import deployments
from perennia.serving.rollout import advance, analyse_step, criteria_bounds
from tests.serving.test_analysis import variant_rows

POLICY = CanaryPolicy(steps=(50.0, 100.0), min_requests=100)


def test_criteria_bounds_keep_what_the_live_analysis_can_measure() -> None:
    bounds, notes = criteria_bounds(
        [
            "accuracy >= 0.8",
            "accuracy > 0.85",
            "rmse <= 2.5",
            "rmse < 3",
            "recall_at_fpr_1pct >= 0.6",
            "accuracy >= baseline - 0.01",
            "accuracy <= 0.99",
        ]
    )
    assert bounds == {"accuracy": 0.85, "rmse": 2.5}  # the strictest of each
    assert len(notes) == 7
    assert "'accuracy >= 0.8' is the canary's accuracy floor" in notes[0]
    assert "'rmse <= 2.5' is the canary's rmse ceiling" in notes[2]
    assert "recall_at_fpr_1pct" in notes[4] and "computes only accuracy, rmse" in notes[4]
    assert "relative to a baseline" in notes[5]
    assert "must use >= or >" in notes[6]
    with pytest.raises(InvalidInput):
        criteria_bounds(["accuracy >> 1"])


@pytest.fixture
def canary(tracking):
    """A deployment of `fraud` v1 with a canary of v2 at its first step."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=50)})
    model = LogisticRegression().fit(X, X["x"] > 0)
    for _ in range(2):
        with perennia.start_run():
            perennia.log_model(model, name="model", registered_model_name="fraud")
    deployments.create_deployment("fraud-live", "fraud", 1)
    deployments.start_canary("fraud-live", 2, POLICY)
    return deployments.get_deployment("fraud-live")


def _window(canary_accuracy: float, since: int) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    at = {"classes": True, "time_ms": since}
    stable = variant_rows(rng, "stable", 400, accuracy=0.9, **at)
    new = variant_rows(rng, "canary", 400, accuracy=canary_accuracy, start=400, **at)
    return pd.concat([stable, new], ignore_index=True)


def _accuracy(frame: pd.DataFrame, variant: str) -> float:
    rows = frame[(frame["variant"] == variant) & frame["ground_truth"].notna()]
    return float((rows["output.prediction"] == rows["ground_truth"]).mean())


def test_a_canary_below_the_criteria_accuracy_floor_fails(canary) -> None:
    registry.set_success_criteria(
        "fraud", "Flag fraud.", ["accuracy >= 0.85", "roc_auc >= baseline - 0.01"]
    )
    store = perennia.Client().store
    poor = _window(0.7, canary.step_started)
    analysis = analyse_step(canary, poor, store)
    check = analysis.check("accuracy")
    assert check is not None and check.verdict == "fail" and analysis.verdict == "fail"
    assert check.threshold == 0.85
    assert check.value == pytest.approx(_accuracy(poor, "canary"))  # the oracle: plain pandas
    assert any("accuracy floor" in note for note in analysis.notes)
    assert any("'roc_auc >= baseline - 0.01' not checked live" in n for n in analysis.notes)
    assert analysis.to_dict()["notes"] == list(analysis.notes)
    good = analyse_step(canary, _window(0.95, canary.step_started), store)
    assert good.check("accuracy").verdict == "pass" and good.verdict == "pass"
    # Without the store (or without criteria) the analysis has no accuracy check at all.
    assert analyse_step(canary, poor).check("accuracy") is None
    registry.clear_success_criteria("fraud")
    assert analyse_step(canary, poor, store).check("accuracy") is None


def test_the_policys_own_min_metric_wins_over_the_criteria(canary) -> None:
    registry.set_success_criteria("fraud", "Flag fraud.", ["accuracy >= 0.99"])
    store = perennia.Client().store
    lenient = replace(canary, policy=replace(POLICY, min_metric={"accuracy": 0.5}))
    analysis = analyse_step(lenient, _window(0.8, canary.step_started), store)
    assert analysis.check("accuracy").threshold == 0.5 and analysis.verdict == "pass"
    assert analysis.notes == ()


def test_advance_reads_the_criteria_from_its_store(canary, tmp_path) -> None:
    registry.set_success_criteria("fraud", "Flag fraud.", ["accuracy >= 0.85"])
    decision = advance(perennia.Client().store, "fraud-live", str(tmp_path / "no-log-yet"))
    # No predictions yet: it waits, and the analysis already says which criteria it will use.
    assert decision.action == "waiting"
    assert any("accuracy floor" in note for note in decision.analysis["notes"])
