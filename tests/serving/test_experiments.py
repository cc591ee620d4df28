"""A/B statistics (checked against SciPy), sticky assignment and shadow agreement."""

from __future__ import annotations

import hashlib
import json
from collections import Counter

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import stats

from perennia.errors import InvalidInput
from perennia.serving.experiments import (
    StickyRouter,
    ab_outcomes,
    ab_test,
    shadow_agreement,
    sticky_variant,
)


def outcome_log(arms: dict[str, np.ndarray], *, kind: str = "success") -> pd.DataFrame:
    """Return a log whose rows carry the given outcomes per variant.

    kind "success"/"reward": ground_truth is the outcome. kind "accuracy": the prediction is
    "yes" and ground_truth is "yes" where the outcome is 1. kind "squared_error": the
    prediction is 0 and ground_truth is the square root of the outcome.
    """
    parts = []
    for variant, values in arms.items():
        n = len(values)
        if kind == "accuracy":
            prediction, truth = np.full(n, "yes", dtype=object), np.where(values == 1, "yes", "no")
        elif kind == "squared_error":
            prediction, truth = np.zeros(n), np.sqrt(values)
        else:
            prediction, truth = np.zeros(n), values
        requests = [f"{variant}-r{i}" for i in range(n)]
        parts.append(
            pd.DataFrame(
                {
                    "prediction_id": [f"{r}-0" for r in requests],
                    "request_id": requests,
                    "time_ms": np.arange(n, dtype=np.int64),
                    "variant": variant,
                    "latency_ms": 5.0,
                    "ok": True,
                    "shadow": False,
                    "output.prediction": prediction,
                    "ground_truth": truth,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def bernoulli(rng: np.random.Generator, p: float, n: int) -> np.ndarray:
    return (rng.random(n) < p).astype(float)


# -- outcomes and the tests against SciPy -------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    st.integers(min_value=2, max_value=400),
    st.integers(min_value=2, max_value=400),
    st.floats(min_value=0.0, max_value=1.0),
    st.floats(min_value=0.0, max_value=1.0),
)
def test_two_proportion_p_value_equals_scipy_chi2_without_correction(
    na: int, nb: int, share_a: float, share_b: float
) -> None:
    ka, kb = round(na * share_a), round(nb * share_b)
    arms = {
        "a": np.r_[np.ones(ka), np.zeros(na - ka)],
        "b": np.r_[np.ones(kb), np.zeros(nb - kb)],
    }
    result = ab_test(outcome_log(arms), min_labels=2, metric="success")

    if ka + kb in (0, na + nb):  # one outcome everywhere: no evidence of a difference
        assert result.p_value == 1.0
        return
    table = [[ka, na - ka], [kb, nb - kb]]
    expected = stats.chi2_contingency(table, correction=False).pvalue
    assert result.p_value == pytest.approx(expected, abs=1e-9)
    assert result.effect == pytest.approx(kb / nb - ka / na)


finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(finite, min_size=2, max_size=60).filter(lambda v: np.ptp(v) > 1e-3),
    st.lists(finite, min_size=2, max_size=60).filter(lambda v: np.ptp(v) > 1e-3),
)
@example(a=[0.0, 1.0], b=[0.0, 1.0 + 1e-6])  # a tiny t: p near 1, where 1 - x lost digits
def test_welch_p_value_and_interval_equal_scipy(a: list[float], b: list[float]) -> None:
    arms = {"a": np.array(a), "b": np.array(b)}
    result = ab_test(outcome_log(arms, kind="reward"), min_labels=2, metric="reward")

    expected = stats.ttest_ind(b, a, equal_var=False)
    interval = expected.confidence_interval(0.95)
    assert result.p_value == pytest.approx(expected.pvalue, abs=1e-9)
    assert result.ci_low == pytest.approx(interval.low, rel=1e-7, abs=1e-9)
    assert result.ci_high == pytest.approx(interval.high, rel=1e-7, abs=1e-9)


def test_outcome_intervals_match_scipy_wilson_and_t_intervals() -> None:
    rng = np.random.default_rng(1)
    success = outcome_log({"a": bernoulli(rng, 0.3, 250), "b": bernoulli(rng, 0.5, 40)})
    rewards = rng.normal(3.0, 2.0, 80)

    binary = ab_outcomes(success, metric="success")
    numeric = ab_outcomes(outcome_log({"x": rewards}, kind="reward"), metric="reward")

    for name, outcome in binary.items():
        k = int(success.loc[success["variant"] == name, "ground_truth"].sum())
        ci = stats.binomtest(k, outcome.n_labelled).proportion_ci(0.95, method="wilson")
        assert (outcome.ci_low, outcome.ci_high) == pytest.approx((ci.low, ci.high), abs=1e-12)
        assert outcome.value == pytest.approx(k / outcome.n_labelled)
    low, high = stats.t.interval(0.95, 79, loc=rewards.mean(), scale=stats.sem(rewards))
    assert (numeric["x"].ci_low, numeric["x"].ci_high) == pytest.approx((low, high), rel=1e-9)
    assert list(binary) == ["a", "b"] and binary["b"].n == 40


def test_outcomes_count_only_labelled_successful_predictions_for_accuracy() -> None:
    log = outcome_log({"a": np.array([1.0, 0.0, 1.0, 1.0])}, kind="accuracy")
    log.loc[1, "ok"] = False  # a failed prediction has no accuracy
    log.loc[3, "ground_truth"] = None  # no label yet

    outcome = ab_outcomes(log, variants=["a", "missing"])

    assert outcome["a"].n == 4 and outcome["a"].n_labelled == 2 and outcome["a"].value == 1.0
    assert outcome["missing"].n == 0 and outcome["missing"].value is None
    json.dumps(outcome["a"].to_dict())


def test_clearly_better_variant_is_named_the_winner() -> None:
    rng = np.random.default_rng(2)
    log = outcome_log(
        {"a": bernoulli(rng, 0.70, 600), "b": bernoulli(rng, 0.85, 600)}, kind="accuracy"
    )

    result = ab_test(log)

    assert (result.verdict, result.winner) == ("b", "b")
    assert result.p_value is not None and result.p_value < 1e-6
    assert result.ci_low is not None and result.ci_low > 0
    swapped = ab_test(log, a="b", b="a")
    assert (swapped.verdict, swapped.winner) == ("a", "b")


def test_lower_squared_error_wins() -> None:
    rng = np.random.default_rng(3)
    arms = {"control": rng.chisquare(1, 500) * 4.0, "treatment": rng.chisquare(1, 500)}

    result = ab_test(
        outcome_log(arms, kind="squared_error"), "control", "treatment", metric="squared_error"
    )

    assert result.verdict == "b" and result.winner == "treatment"
    assert result.effect is not None and result.effect < 0


def test_below_min_labels_the_verdict_is_not_yet_even_when_the_gap_is_large() -> None:
    log = outcome_log({"a": np.zeros(50), "b": np.ones(50)})

    result = ab_test(log, metric="success", min_labels=100)

    assert result.verdict == "not yet" and result.winner is None
    assert "100 needed" in result.detail


def test_without_labels_the_verdict_is_not_yet_with_no_data() -> None:
    log = outcome_log({"a": np.ones(200), "b": np.ones(200)}).drop(columns=["ground_truth"])

    result = ab_test(log, metric="success")

    assert result.verdict == "not yet" and result.p_value is None
    assert result.detail.startswith("no data")


def test_equal_variants_show_no_difference() -> None:
    rng = np.random.default_rng(4)
    log = outcome_log({"a": bernoulli(rng, 0.5, 1000), "b": bernoulli(rng, 0.5, 1000)})

    result = ab_test(pa.Table.from_pandas(log), metric="success")

    assert result.verdict == "no difference" and result.winner is None
    assert result.p_value is not None and result.p_value >= 0.05


def test_sequential_mode_is_stricter_than_a_single_look() -> None:
    rng = np.random.default_rng(5)
    # 250 against 285 successes of 500: z = 2.2, significant at 0.05 but not at 0.05 / 5.
    a = rng.permutation(np.r_[np.ones(250), np.zeros(250)])
    b = rng.permutation(np.r_[np.ones(285), np.zeros(215)])
    log = outcome_log({"a": a, "b": b})

    single = ab_test(log, metric="success", min_labels=500)
    peeking = ab_test(log, metric="success", min_labels=100, sequential=True, looks=5)

    assert single.p_value is not None and 0.01 < single.p_value < 0.05
    assert single.verdict == "b"
    assert peeking.verdict == "no difference"  # the fifth and last look
    assert "look 5 of 5" in peeking.detail


def test_sequential_mode_answers_only_at_planned_looks() -> None:
    rng = np.random.default_rng(6)
    a, b = bernoulli(rng, 0.5, 260), bernoulli(rng, 0.5, 260)
    log = outcome_log({"a": a, "b": b})
    at_look_2 = outcome_log({"a": a[:200], "b": b[:200]})

    between = ab_test(log, metric="success", min_labels=100, sequential=True, looks=5)
    at_look = ab_test(at_look_2, metric="success", min_labels=100, sequential=True, looks=5)

    fields = ("winner", "p_value", "effect", "ci_low", "ci_high", "verdict")
    assert [getattr(between, f) for f in fields] == [getattr(at_look, f) for f in fields]
    assert between.verdict == "not yet"  # look 2 of 5: not significant, more looks to come


def test_bad_ab_arguments_are_rejected() -> None:
    log = outcome_log({"a": np.ones(5), "b": np.ones(5)})
    with pytest.raises(InvalidInput, match="metric"):
        ab_test(log, metric="f1")
    with pytest.raises(InvalidInput, match="alpha"):
        ab_test(log, alpha=1.5)
    with pytest.raises(InvalidInput, match="different"):
        ab_test(log, a="a", b="a")
    with pytest.raises(InvalidInput, match="success"):
        ab_test(outcome_log({"a": np.full(5, 3.0), "b": np.ones(5)}), metric="success")


# -- sticky assignment -------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40), st.floats(min_value=0.0, max_value=100.0))
def test_same_key_always_gets_the_same_variant_and_never_a_zero_weight_one(
    key: str, canary: float
) -> None:
    weights = {"stable": 100.0 - canary, "canary": canary, "off": 0.0}
    router = StickyRouter(weights)

    chosen = router.pick(key)

    assert chosen == router.pick(key) == sticky_variant(key, dict(reversed(weights.items())))
    assert weights[chosen] > 0


def test_the_point_is_the_documented_blake2b_hash_so_any_replica_can_reproduce_it() -> None:
    digest = hashlib.blake2b(b"user-42", digest_size=8).digest()
    point = (int.from_bytes(digest, "big") >> 11) / 2**53

    assert StickyRouter({"a": 1.0}).point("user-42") == point
    expected = "a" if point < 0.25 else "b"
    assert sticky_variant("user-42", {"b": 3.0, "a": 1.0}) == expected


def test_assignment_shares_follow_the_weights() -> None:
    weights = {"a": 0.6, "b": 0.3, "c": 0.1}
    router = StickyRouter(weights)
    n = 30_000

    counts = Counter(router.pick(f"user-{i}") for i in range(n))

    observed = [counts[name] for name in weights]
    expected = [w * n for w in weights.values()]
    assert stats.chisquare(observed, expected).pvalue > 1e-4
    assert all(abs(o / n - w) < 0.015 for o, w in zip(observed, weights.values(), strict=True))


@settings(max_examples=100, deadline=None)
@given(st.floats(min_value=0.0, max_value=100.0), st.floats(min_value=0.0, max_value=100.0))
def test_raising_the_canary_weight_only_moves_keys_from_stable_to_canary(
    before: float, after: float
) -> None:
    low, high = sorted((before, after))
    small = StickyRouter({"stable": 100.0 - low, "canary": low})
    large = StickyRouter({"stable": 100.0 - high, "canary": high})
    keys = [f"k{i}" for i in range(500)]

    moved = [(small.pick(k), large.pick(k)) for k in keys if small.pick(k) != large.pick(k)]

    assert all(pair == ("stable", "canary") for pair in moved)
    in_band = [k for k in keys if low / 100 <= small.point(k) < high / 100]
    assert len(moved) == len(in_band)


def test_salt_gives_an_independent_assignment() -> None:
    plain, salted = StickyRouter({"a": 1, "b": 1}), StickyRouter({"a": 1, "b": 1}, salt="exp-7")
    keys = [f"user-{i}" for i in range(2000)]

    same = sum(plain.pick(k) == salted.pick(k) for k in keys)

    assert 850 < same < 1150  # about half agree, as for two independent splits


@pytest.mark.parametrize(
    "weights", [{}, {"a": -1.0}, {"a": 0.0, "b": 0.0}, {"a": float("nan")}, {"a": "x"}, {1: 1.0}]
)
def test_invalid_weights_are_rejected(weights: dict) -> None:
    with pytest.raises(InvalidInput, match="weight"):
        StickyRouter(weights)


# -- shadow agreement --------------------------------------------------------------------------


def shadow_log(primary: list, shadow: list, *, rows_per_request: int = 3) -> pd.DataFrame:
    """Return primary and shadow rows answering the same requests, several rows per request."""
    frames = []
    for variant, values, is_shadow in (("stable", primary, False), ("shadow", shadow, True)):
        positions = np.arange(len(values))
        requests = [f"q{i // rows_per_request}" for i in positions]
        frames.append(
            pd.DataFrame(
                {
                    "prediction_id": [
                        f"{r}-{i % rows_per_request}"
                        for r, i in zip(requests, positions, strict=True)
                    ],
                    "request_id": requests,
                    "variant": variant,
                    "ok": True,
                    "shadow": is_shadow,
                    "output.prediction": values,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def test_identical_shadow_answers_agree_fully() -> None:
    labels = ["cat", "dog", "cat", "bird"] * 30

    result = shadow_agreement(shadow_log(labels, labels))

    assert (result.n_pairs, result.agreement, result.mean_abs_diff) == (120, 1.0, None)


def test_shadow_rows_pair_by_request_and_row_even_when_logged_out_of_order() -> None:
    primary = ["a", "b", "c"] * 40
    shadow = list(primary)
    shadow[5] = shadow[17] = "z"  # two disagreements
    log = shadow_log(primary, shadow)
    shuffled = log.sample(frac=1.0, random_state=0)

    result = shadow_agreement(shuffled)

    assert result.n_pairs == 120
    assert result.agreement == pytest.approx(118 / 120)


def test_without_row_suffixes_rows_pair_by_their_order_within_the_request() -> None:
    primary = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    log = shadow_log(primary, [0.1, 0.2, 0.35, 0.4, 0.5, 0.6]).drop(columns=["prediction_id"])

    result = shadow_agreement(log)

    assert result.n_pairs == 6
    assert result.agreement == pytest.approx(5 / 6)
    assert result.mean_abs_diff == pytest.approx(0.05 / 6)


def test_numeric_agreement_uses_the_tolerance() -> None:
    rng = np.random.default_rng(7)
    primary = rng.normal(100.0, 10.0, 300)
    noise = np.where(np.arange(300) < 60, 1.0, 1e-7)
    log = shadow_log(list(primary), list(primary + noise))

    result = shadow_agreement(log, tolerance=1e-6)

    assert result.agreement == pytest.approx(240 / 300)
    assert result.mean_abs_diff == pytest.approx(np.mean(noise))
    assert shadow_agreement(log, tolerance=0.1).agreement == 1.0


def test_failed_shadow_rows_are_left_out_and_reported() -> None:
    labels = ["x", "y"] * 30
    log = shadow_log(labels, labels)
    failed = log.index[log["shadow"]][:6]
    log.loc[failed, "ok"] = False
    log.loc[failed, "output.prediction"] = None

    result = shadow_agreement(log)

    assert result.n_pairs == 54 and result.agreement == 1.0
    assert "6 failed in the shadow" in result.detail


def test_no_shadow_rows_means_no_data_not_agreement() -> None:
    log = shadow_log(["a"] * 9, ["a"] * 9)
    primary_only = log[~log["shadow"]]

    result = shadow_agreement(primary_only)

    assert (result.n_pairs, result.agreement) == (0, None)
    assert result.detail.startswith("no data")


def test_shadow_agreement_needs_the_pairing_columns() -> None:
    with pytest.raises(InvalidInput, match="request_id"):
        shadow_agreement(shadow_log(["a"], ["a"]).drop(columns=["request_id"]))
