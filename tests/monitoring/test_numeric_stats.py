"""Numeric drift statistics against scipy, their sensitivity, and their refusal of bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats as sst
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import euclidean, jensenshannon

from perennia.errors import InvalidInput
from perennia.monitoring.stats import (
    cramer_von_mises,
    energy,
    hellinger,
    jensen_shannon,
    ks,
    psi,
    wasserstein,
)

EXAMPLES = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def samples(draw: st.DrawFn, min_size: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Two samples of sizes up to 3000: continuous, rounded (heavy ties) or constant."""
    seed = draw(st.integers(0, 2**32 - 1))
    n_ref = draw(st.integers(min_size, 3000))
    n_cur = draw(st.integers(min_size, 3000))
    kind = draw(st.sampled_from(["continuous", "ties", "constant"]))
    shift = draw(st.floats(-1.0, 1.0))
    rng = np.random.default_rng(seed)
    a = rng.normal(0.0, 1.0, n_ref)
    b = rng.normal(shift, draw(st.floats(0.5, 2.0)), n_cur)
    if kind == "ties":
        a, b = np.round(a), np.round(b)
    elif kind == "constant":
        a = np.full(n_ref, 1.0)
        b = np.full(n_cur, draw(st.sampled_from([1.0, 2.0])))
    return a, b


def close(ours: float, theirs: float) -> bool:
    return math.isclose(ours, float(theirs), rel_tol=1e-9, abs_tol=1e-12)


@EXAMPLES
@given(samples(min_size=1))
def test_ks_matches_scipy(pair: tuple[np.ndarray, np.ndarray]) -> None:
    a, b = pair
    if a.size == b.size == 1:
        return  # scipy gives NaN there (effective size rounds to 0); see test below
    ours = ks(a, b)
    theirs = sst.ks_2samp(a, b, alternative="two-sided", method="asymp")
    assert close(ours.statistic, theirs.statistic)
    assert close(ours.p_value, theirs.pvalue)
    assert ours.effect == ours.statistic and ours.method == "ks"


def test_ks_single_values_gives_a_p_value() -> None:
    result = ks([0.0], [1.0])
    assert result.statistic == 1.0 and result.p_value == pytest.approx(0.0)


@EXAMPLES
@given(samples(min_size=1))
def test_wasserstein_and_energy_match_scipy(pair: tuple[np.ndarray, np.ndarray]) -> None:
    a, b = pair
    w, e = wasserstein(a, b), energy(a, b)
    assert close(w.statistic, sst.wasserstein_distance(a, b))
    assert close(e.statistic, sst.energy_distance(a, b))
    assert w.p_value is None and e.p_value is None
    if a.std() > 0:
        assert close(w.effect, w.statistic / a.std())
        assert close(e.effect, e.statistic / math.sqrt(a.std()))
    else:
        assert w.effect == (0.0 if w.statistic == 0 else math.inf)


@EXAMPLES
@given(samples())
def test_cramer_von_mises_matches_scipy(pair: tuple[np.ndarray, np.ndarray]) -> None:
    a, b = pair
    ours = cramer_von_mises(a, b)
    theirs = sst.cramervonmises_2samp(a, b, method="asymptotic")
    assert close(ours.statistic, theirs.statistic)
    assert close(ours.p_value, theirs.pvalue)
    assert 0.0 <= ours.effect <= 1.0


def shared_shares(a: np.ndarray, b: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    edges = np.histogram_bin_edges(np.concatenate([a, b]), bins=bins)
    return np.histogram(a, edges)[0].astype(float), np.histogram(b, edges)[0].astype(float)


@EXAMPLES
@given(samples(min_size=1), st.integers(1, 40))
def test_jensen_shannon_and_hellinger_match_scipy(
    pair: tuple[np.ndarray, np.ndarray], bins: int
) -> None:
    a, b = pair
    p, q = shared_shares(a, b, bins)
    assert close(jensen_shannon(a, b, bins=bins).statistic, jensenshannon(p, q, base=2))
    expected = euclidean(np.sqrt(p / p.sum()), np.sqrt(q / q.sum())) / math.sqrt(2)
    assert close(hellinger(a, b, bins=bins).statistic, expected)


def reference_psi(a: np.ndarray, b: np.ndarray, bins: int) -> float:
    """PSI written out bin by bin, the slow way, from the documented binning."""
    edges = np.unique(np.quantile(a, np.linspace(0, 1, bins + 1)))
    inner = [(edges[i], edges[i + 1]) for i in range(len(edges) - 1)] or [(edges[0], edges[0])]

    def shares(x: np.ndarray) -> np.ndarray:
        counts = [np.sum(x < edges[0])]
        for i, (lo, hi) in enumerate(inner):
            last = i == len(inner) - 1
            counts.append(np.sum((x >= lo) & ((x <= hi) if last else (x < hi))))
        counts.append(np.sum(x > edges[-1]))
        return np.maximum(np.array(counts) / x.size, 1e-4)

    p, q = shares(a), shares(b)
    return float(np.sum((q - p) * np.log(q / p)))


@EXAMPLES
@given(samples(min_size=1), st.integers(1, 20))
def test_psi_matches_its_documented_binning(pair: tuple[np.ndarray, np.ndarray], bins: int) -> None:
    a, b = pair
    assert close(psi(a, b, bins=bins).statistic, reference_psi(a, b, bins))


def test_psi_sees_a_shift_out_of_a_constant_reference() -> None:
    assert psi(np.ones(100), np.full(100, 2.0)).statistic > 1.0
    assert psi(np.ones(100), np.zeros(100)).statistic > 1.0
    assert psi(np.ones(100), np.ones(50)).statistic == 0.0


def test_a_tenth_sigma_shift_at_100k_rows_is_detected() -> None:
    rng = np.random.default_rng(1)
    ref, cur = rng.normal(0, 1, 100_000), rng.normal(0.1, 1, 100_000)
    assert ks(ref, cur).p_value < 0.001
    assert cramer_von_mises(ref, cur).p_value < 0.001
    down = ks(ref, rng.normal(-0.1, 1, 100_000))
    assert down.p_value < 0.001


def test_a_variance_change_is_detected() -> None:
    rng = np.random.default_rng(2)
    ref, cur = rng.normal(0, 1, 20_000), rng.normal(0, 1.2, 20_000)
    assert min(ks(ref, cur).p_value, cramer_von_mises(ref, cur).p_value) < 0.001


def test_same_distribution_is_not_flagged() -> None:
    rng = np.random.default_rng(3)
    ref, cur = rng.normal(0, 1, 50_000), rng.normal(0, 1, 50_000)
    assert ks(ref, cur).p_value > 0.01
    assert cramer_von_mises(ref, cur).p_value > 0.01
    assert psi(ref, cur).effect < 0.01
    assert wasserstein(ref, cur).effect < 0.05


ALL = [ks, wasserstein, energy, cramer_von_mises, psi, jensen_shannon, hellinger]


@pytest.mark.parametrize("func", ALL)
@pytest.mark.parametrize(
    ("ref", "cur", "message"),
    [
        ([], [1.0, 2.0], "ref must hold at least"),
        ([1.0, 2.0], [], "cur must hold at least"),
        ([[1.0, 2.0]], [1.0, 2.0], "ref must be a 1-D array"),
        ([1.0, np.nan], [1.0, 2.0], "ref must be finite"),
        ([1.0, 2.0], [1.0, np.inf], "cur must be finite"),
        (["a", "b"], [1.0, 2.0], "ref must be a 1-D array of numbers"),
    ],
)
def test_bad_input_is_refused(func, ref, cur, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        func(ref, cur)


def test_cramer_von_mises_needs_two_values_and_bins_must_be_positive() -> None:
    with pytest.raises(InvalidInput, match="cur must hold at least 2"):
        cramer_von_mises([1.0, 2.0], [1.0])
    for func in (psi, jensen_shannon, hellinger):
        with pytest.raises(InvalidInput, match="bins must be a positive integer"):
            func([1.0], [2.0], bins=0)
