"""Categorical drift tests against scipy's contingency-table tests, and new-category detection."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats as sst
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perennia.errors import InvalidInput
from perennia.monitoring.stats import chi_square, g_test, new_and_vanished, two_proportions

EXAMPLES = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def category_samples(draw: st.DrawFn, max_k: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Two string samples up to 3000 rows over overlapping but not identical category sets."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    k = draw(st.integers(1, max_k))
    names = np.array([f"c{i}" for i in range(k)], dtype=object)
    ref = rng.choice(names[: max(1, k - 1)], size=draw(st.integers(1, 3000)))
    cur = rng.choice(names[draw(st.integers(0, k - 1)) :], size=draw(st.integers(1, 3000)))
    return ref, cur


def table(ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
    values = sorted(set(ref) | set(cur))
    return np.array([[np.sum(ref == v) for v in values], [np.sum(cur == v) for v in values]])


def close(ours: float, theirs: float) -> bool:
    return math.isclose(ours, float(theirs), rel_tol=1e-9, abs_tol=1e-12)


@EXAMPLES
@given(category_samples())
def test_chi_square_and_g_test_match_chi2_contingency(pair: tuple[np.ndarray, np.ndarray]) -> None:
    ref, cur = pair
    counts = table(ref, cur)
    chi, g = chi_square(ref, cur), g_test(ref, cur)
    if counts.shape[1] == 1:
        assert (chi.statistic, chi.p_value, chi.effect) == (0.0, 1.0, 0.0)
        assert (g.statistic, g.p_value) == (0.0, 1.0)
        return
    pearson = sst.chi2_contingency(counts, correction=False)
    likelihood = sst.chi2_contingency(counts, correction=False, lambda_="log-likelihood")
    assert close(chi.statistic, pearson.statistic) and close(chi.p_value, pearson.pvalue)
    assert close(g.statistic, likelihood.statistic) and close(g.p_value, likelihood.pvalue)
    cramers_v = sst.contingency.association(counts, method="cramer", correction=False)
    assert close(chi.effect, cramers_v) and close(g.effect, cramers_v)


@EXAMPLES
@given(st.integers(0, 2**32 - 1), st.integers(1, 3000), st.integers(1, 3000), st.floats(0, 1))
def test_two_proportions_matches_the_2x2_chi_square(
    seed: int, n_ref: int, n_cur: int, rate: float
) -> None:
    rng = np.random.default_rng(seed)
    ref, cur = rng.random(n_ref) < 0.3, rng.random(n_cur) < rate
    result = two_proportions(ref, cur)
    assert close(result.effect, cur.mean() - ref.mean())
    counts = table(ref, cur)
    if counts.shape[1] == 1:
        assert (result.statistic, result.p_value) == (0.0, 1.0)
        return
    oracle = sst.chi2_contingency(counts, correction=False)
    assert close(result.statistic**2, oracle.statistic)
    assert close(result.p_value, oracle.pvalue)
    assert (
        math.copysign(1, result.statistic) == math.copysign(1, result.effect) or result.effect == 0
    )


def test_two_proportions_is_two_sided_and_refuses_non_binary() -> None:
    ref = np.array([0] * 500 + [1] * 500)
    up = two_proportions(ref, np.array([0] * 400 + [1] * 600))
    down = two_proportions(ref, np.array([0] * 600 + [1] * 400))
    assert up.p_value == pytest.approx(down.p_value) and up.p_value < 0.001
    assert up.statistic > 0 > down.statistic
    with pytest.raises(InvalidInput, match="binary column, got 3"):
        two_proportions(["a", "b"], ["c"])


def test_unchanged_column_is_not_flagged_by_the_two_sample_test() -> None:
    rng = np.random.default_rng(4)
    probs = 1 / np.arange(1, 21)
    probs /= probs.sum()
    names = np.array([f"v{i}" for i in range(20)])
    ref = rng.choice(names, 100_000, p=probs)
    cur = rng.choice(names, 100_000, p=probs)
    assert chi_square(ref, cur).p_value > 0.01
    assert g_test(ref, cur).p_value > 0.01


def test_a_new_category_at_two_percent_is_reported() -> None:
    rng = np.random.default_rng(5)
    ref = rng.choice(["a", "b", "c"], 50_000)
    cur = np.concatenate([rng.choice(["a", "b"], 49_000), np.full(1_000, "new")])
    changes = new_and_vanished(ref, cur)
    assert changes.new == {"new": pytest.approx(0.02)}
    assert list(changes.vanished) == ["c"] and changes.vanished["c"] == pytest.approx(
        1 / 3, abs=0.01
    )
    assert chi_square(ref, cur).p_value < 1e-12
    assert new_and_vanished(ref, cur, min_share=0.05).new == {}


def test_new_and_vanished_orders_by_share_and_returns_python_values() -> None:
    changes = new_and_vanished([1, 1, 2], [3, 4, 4, 1])
    assert changes.new == {4: 0.5, 3: 0.25}
    assert list(changes.new) == [4, 3] and type(next(iter(changes.new))) is int
    assert changes.vanished == {2: pytest.approx(1 / 3)}


@pytest.mark.parametrize("func", [chi_square, g_test, two_proportions, new_and_vanished])
@pytest.mark.parametrize(
    ("ref", "cur", "message"),
    [
        ([], ["a"], "ref must hold at least 1"),
        (["a"], [], "cur must hold at least 1"),
        ([["a"]], ["a"], "ref must be a 1-D array"),
        ([1.0, np.nan], [1.0], "ref must not contain NaN"),
        (["a"], np.array(["a", None], dtype=object), "cur must not contain None"),
        (np.array(["a", float("nan")], dtype=object), ["a"], "ref must not contain None or NaN"),
        (np.array(["a", 1], dtype=object), ["a"], "comparable type"),
    ],
)
def test_bad_input_is_refused(func, ref, cur, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        func(ref, cur)


@pytest.mark.parametrize("min_share", [-0.1, 1.5, "x", True])
def test_min_share_must_be_a_share(min_share) -> None:
    with pytest.raises(InvalidInput, match="min_share must be a number in"):
        new_and_vanished(["a"], ["b"], min_share=min_share)
