"""Attribution summaries for monitoring: mean |attribution| per feature, and the features whose
mean |attribution| moved most between two periods."""

from __future__ import annotations

import numpy as np
import pytest

from perennia.errors import InvalidInput
from perennia.evaluate.explain import Attributions, attributions, mean_abs_attribution, top_movers
from tests.evaluate.explain.conftest import features


@pytest.fixture(scope="module")
def booster(frame, regression_target):
    import xgboost

    return xgboost.XGBRegressor(n_estimators=20, max_depth=3).fit(frame, regression_target)


def test_mean_abs_attribution_is_the_mean_of_absolute_values_per_feature(booster, frame):
    found = attributions(booster, frame)
    summary = mean_abs_attribution(found)
    assert list(summary) == list(frame.columns)
    assert summary == pytest.approx(
        dict(zip(frame.columns, np.abs(found.values).mean(axis=0), strict=True))
    )
    assert max(summary, key=summary.get) == "age"


def test_with_several_classes_every_classs_share_counts():
    values = np.array([[[1.0, -2.0], [0.5, 0.5]], [[-3.0, 0.0], [0.0, -1.0]]])  # 2 x 2 x 2
    found = Attributions(values, np.zeros((2, 2)), ["a", "b"], "linear", "margin", ["x", "y"])
    assert mean_abs_attribution(found) == {"a": 3.0, "b": 1.0}


def test_summaries_refuse_mismatched_names_and_empty_rows():
    with pytest.raises(InvalidInput, match="for 3 feature names"):
        mean_abs_attribution(Attributions(np.ones((2, 2)), np.zeros(2), ["a", "b", "c"], "m", "o"))
    with pytest.raises(InvalidInput, match="no rows"):
        mean_abs_attribution(Attributions(np.ones((0, 2)), np.zeros(0), ["a", "b"], "m", "o"))


def test_the_feature_whose_inputs_shifted_is_the_top_mover(booster):
    last_week = features(n=200, seed=5)
    this_week = features(n=200, seed=6)
    this_week["income"] *= 3  # incomes tripled: income now moves predictions far more
    before = mean_abs_attribution(attributions(booster, last_week))
    after = mean_abs_attribution(attributions(booster, this_week))
    movers = top_movers(before, after, k=2)
    assert movers[0].feature == "income"
    assert movers[0].change == pytest.approx(after["income"] - before["income"])
    assert movers[0].change > 0 and len(movers) == 2


def test_top_movers_orders_by_absolute_change_and_counts_missing_features_as_zero():
    previous = {"a": 1.0, "b": 2.0, "c": 0.5, "gone": 0.4}
    current = {"a": 1.1, "b": 0.5, "c": 0.5, "new": 0.7}
    movers = top_movers(previous, current, k=10)
    assert [m.feature for m in movers] == ["b", "new", "gone", "a", "c"]
    assert (movers[0].previous, movers[0].current) == (2.0, 0.5)
    assert movers[1].change == pytest.approx(0.7) and movers[2].change == pytest.approx(-0.4)
    assert [m.feature for m in top_movers(previous, current, k=1)] == ["b"]


def test_ties_are_broken_by_name_and_k_must_be_positive():
    assert [m.feature for m in top_movers({"b": 1.0, "a": 1.0}, {}, k=2)] == ["a", "b"]
    with pytest.raises(InvalidInput, match="k must be a positive integer"):
        top_movers({}, {}, k=0)
