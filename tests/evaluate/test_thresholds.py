"""Threshold choice and lift/gain against brute force over every candidate threshold."""

from __future__ import annotations

import numpy as np
import pytest
import sklearn.metrics as skm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perennia.errors import InvalidInput
from perennia.evaluate.metrics import lift_gain, optimal_threshold

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

EXAMPLES = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ATOL = 1e-9

TIED_SCORES = st.sampled_from([0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 1.0])
SCORES = st.one_of(TIED_SCORES, st.floats(-5.0, 5.0, allow_subnormal=False))
# Multiples of 1/8 keep sums exact, so equally good thresholds are exact ties.
EXACT_WEIGHTS = st.integers(0, 24).map(lambda k: k / 8)
FLOAT_WEIGHTS = st.floats(0.0, 10.0, allow_subnormal=False)


@st.composite
def scored_rows(draw, scores=TIED_SCORES, weights=EXACT_WEIGHTS, max_size=40):
    """Return (y as 0/1, scores, weights or None) with both classes carrying weight."""
    n = draw(st.integers(2, max_size))
    y = np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    pos = draw(st.integers(0, n - 1))
    neg = draw(st.integers(0, n - 2))
    neg = neg + 1 if neg >= pos else neg
    y[pos], y[neg] = 1, 0
    score = np.array(draw(st.lists(scores, min_size=n, max_size=n)), dtype=np.float64)
    w = None
    if draw(st.booleans()):
        w = np.array(draw(st.lists(weights, min_size=n, max_size=n)))
        w[pos] = w[pos] or 1.0
        w[neg] = w[neg] or 1.0
    return y, score, w


def brute_force(y, score, w, method, beta=1.0, cost_matrix=None):
    """Return {threshold: (criterion, tpr, fpr, precision)} from sklearn's confusion matrix."""
    candidates = [np.inf, *np.unique(score)]
    table = {}
    for t in candidates:
        (tn, fp), (fn, tp) = skm.confusion_matrix(
            y, (score >= t).astype(int), labels=[0, 1], sample_weight=w
        )
        tpr, fpr = tp / (tp + fn), fp / (fp + tn)
        precision = tp / (tp + fp) if tp + fp else 0.0
        if method == "youden":
            value = tpr - fpr
        elif method == "fbeta":
            value = skm.fbeta_score(
                y, (score >= t).astype(int), beta=beta, sample_weight=w, zero_division=0.0
            )
        else:
            (c_tn, c_fp), (c_fn, c_tp) = cost_matrix
            value = (c_tn * tn + c_fp * fp + c_fn * fn + c_tp * tp) / (tn + fp + fn + tp)
        table[float(t)] = (float(value), tpr, fpr, precision)
    return table


def best_of(table, method):
    values = [value for value, *_ in table.values()]
    best = min(values) if method == "cost" else max(values)
    return best, [t for t, (value, *_) in table.items() if abs(value - best) <= 1e-12]


METHOD_ARGS = st.one_of(
    st.just(("youden", {})),
    st.builds(lambda b: ("fbeta", {"beta": b}), st.sampled_from([0.5, 1.0, 2.0, 3.0])),
    st.builds(
        lambda m: ("cost", {"cost_matrix": m}),
        st.lists(st.lists(st.integers(0, 5), min_size=2, max_size=2), min_size=2, max_size=2),
    ),
)


@EXAMPLES
@given(scored_rows(), METHOD_ARGS)
def test_optimal_threshold_matches_brute_force_and_prefers_the_highest_tie(data, method_args):
    y, score, w = data
    method, options = method_args
    table = brute_force(y, score, w, method, **options)
    best, optimal = best_of(table, method)
    choice = optimal_threshold(y, score, method=method, sample_weight=w, **options)
    assert choice.method == method
    assert choice.value == pytest.approx(best, abs=ATOL)
    assert choice.threshold == max(optimal)
    _, tpr, fpr, precision = table[choice.threshold]
    assert (choice.tpr, choice.fpr, choice.precision, choice.recall) == pytest.approx(
        (tpr, fpr, precision, tpr), abs=ATOL
    )


@EXAMPLES
@given(scored_rows(scores=SCORES, weights=FLOAT_WEIGHTS), METHOD_ARGS)
def test_optimal_threshold_with_float_weights_is_an_optimal_candidate(data, method_args):
    y, score, w = data
    method, options = method_args
    table = brute_force(y, score, w, method, **options)
    best, _ = best_of(table, method)
    choice = optimal_threshold(y, score, method=method, sample_weight=w, **options)
    assert choice.value == pytest.approx(best, abs=ATOL)
    assert table[choice.threshold][0] == pytest.approx(best, abs=ATOL)


def test_youden_tie_decided_by_rounding_still_goes_to_the_highest_threshold() -> None:
    # P = 10, N = 10. Threshold 0.9: TPR 0.3, FPR 0.2; threshold 0.5: TPR 0.4, FPR 0.3.
    # Both have J = 0.1 exactly; in floats 0.3 - 0.2 < 0.4 - 0.3.
    y = [1] * 3 + [0] * 2 + [1] + [0] + [1] * 6 + [0] * 7
    score = [0.9] * 5 + [0.5] * 2 + [0.1] * 13
    choice = optimal_threshold(y, score, method="youden")
    assert choice.threshold == 0.9


def test_threshold_choice_as_plain_data() -> None:
    choice = optimal_threshold([0, 1, 1, 0], [0.1, 0.8, 0.6, 0.3])
    assert choice.to_dict() == {
        "method": "youden",
        "threshold": 0.6,
        "value": 1.0,
        "tpr": 1.0,
        "fpr": 0.0,
        "precision": 1.0,
        "recall": 1.0,
    }


def test_cost_method_without_cost_matrix_is_rejected() -> None:
    with pytest.raises(InvalidInput, match=r"method='cost' needs cost_matrix"):
        optimal_threshold([0, 1, 1, 0], [0.1, 0.8, 0.6, 0.3], method="cost")


@pytest.mark.parametrize("matrix", [[[0, 1, 2], [1, 0, 3]], [[0, np.nan], [1, 0]], "cheap"])
def test_malformed_cost_matrix_is_rejected(matrix) -> None:
    with pytest.raises(InvalidInput, match="cost_matrix must"):
        optimal_threshold([0, 1, 1, 0], [0.1, 0.8, 0.6, 0.3], method="cost", cost_matrix=matrix)


def test_unknown_method_is_rejected() -> None:
    with pytest.raises(InvalidInput, match="method must be one of"):
        optimal_threshold([0, 1, 1, 0], [0.1, 0.8, 0.6, 0.3], method="gmean")


@pytest.mark.parametrize("beta", [0, -1.0, float("inf"), True])
def test_bad_beta_is_rejected(beta) -> None:
    with pytest.raises(InvalidInput, match="beta must be a positive finite number"):
        optimal_threshold([0, 1, 1, 0], [0.1, 0.8, 0.6, 0.3], method="fbeta", beta=beta)


@pytest.mark.parametrize("method", ["youden", "fbeta"])
@pytest.mark.parametrize("only", [0, 1])
def test_one_class_input_is_rejected_naming_the_threshold(method, only) -> None:
    with pytest.raises(InvalidInput, match=f"the {method} threshold is undefined"):
        optimal_threshold([only] * 4, [0.1, 0.8, 0.6, 0.3], method=method)


# --- lift and gain --------------------------------------------------------------------------


def slow_gain(y, score, w, n_bins):
    """Return gain at each fraction: rows by score descending, tied blocks taken in proportion."""
    weights = [1.0] * len(y) if w is None else [float(v) for v in w]
    blocks = {}
    for label, s, weight in zip(y, score, weights, strict=True):
        rows, positives = blocks.get(float(s), (0.0, 0.0))
        blocks[float(s)] = (rows + weight, positives + weight * label)
    total = sum(weights)
    all_positives = sum(weight * label for label, weight in zip(y, weights, strict=True))
    gains = []
    for i in range(1, n_bins + 1):
        cut = total * i / n_bins
        taken = captured = 0.0
        for s in sorted(blocks, reverse=True):
            rows, positives = blocks[s]
            if rows == 0:
                continue
            if taken + rows <= cut:
                taken += rows
                captured += positives
            else:
                captured += positives * (cut - taken) / rows
                break
        gains.append(captured / all_positives)
    return gains


@EXAMPLES
@given(scored_rows(scores=SCORES, weights=FLOAT_WEIGHTS), st.integers(1, 12))
def test_lift_gain_matches_a_slow_block_by_block_oracle(data, n_bins) -> None:
    y, score, w = data
    table = lift_gain(y, score, n_bins=n_bins, sample_weight=w)
    assert table.fraction.shape == table.gain.shape == table.lift.shape == (n_bins,)
    np.testing.assert_allclose(table.fraction, np.arange(1, n_bins + 1) / n_bins, rtol=0, atol=0)
    np.testing.assert_allclose(table.gain, slow_gain(y, score, w, n_bins), rtol=0, atol=ATOL)
    np.testing.assert_allclose(table.lift, table.gain / table.fraction, rtol=0, atol=ATOL)
    assert table.gain[-1] == pytest.approx(1.0, abs=ATOL)
    assert (np.diff(table.gain) >= -ATOL).all()


@EXAMPLES
@given(scored_rows(), st.integers(1, 12))
def test_lift_gain_integer_weights_equal_repeated_rows(data, n_bins) -> None:
    y, score, _ = data
    counts = np.arange(y.size) % 3  # 0, 1, 2 copies of each row
    counts[np.flatnonzero(y == 1)[0]] = 1
    weighted = lift_gain(y, score, n_bins=n_bins, sample_weight=counts.astype(float))
    repeated = lift_gain(np.repeat(y, counts), np.repeat(score, counts), n_bins=n_bins)
    np.testing.assert_allclose(weighted.gain, repeated.gain, rtol=0, atol=ATOL)
    np.testing.assert_allclose(weighted.lift, repeated.lift, rtol=0, atol=ATOL)


def test_lift_of_a_perfect_ranking_targets_positives_first() -> None:
    y = [1, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    score = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0]
    table = lift_gain(y, score, n_bins=5)
    np.testing.assert_allclose(table.gain, [1.0, 1.0, 1.0, 1.0, 1.0], rtol=0, atol=ATOL)
    np.testing.assert_allclose(table.lift, [5.0, 2.5, 5 / 3, 1.25, 1.0], rtol=0, atol=ATOL)
    assert table.to_dict()["lift"] == table.lift.tolist()


def test_all_tied_scores_give_gain_equal_to_the_fraction() -> None:
    table = lift_gain([1, 0, 0, 1, 0], [0.5] * 5, n_bins=4)
    np.testing.assert_allclose(table.gain, table.fraction, rtol=0, atol=ATOL)
    np.testing.assert_allclose(table.lift, np.ones(4), rtol=0, atol=ATOL)


def test_lift_without_positives_is_rejected() -> None:
    with pytest.raises(InvalidInput, match="lift is undefined"):
        lift_gain([0, 0, 0], [0.1, 0.5, 0.9])


@pytest.mark.parametrize("n_bins", [0, 2.0, True])
def test_lift_rejects_bad_n_bins(n_bins) -> None:
    with pytest.raises(InvalidInput, match="n_bins must be a positive integer"):
        lift_gain([0, 1, 1], [0.1, 0.5, 0.9], n_bins=n_bins)
