"""Ranking metrics against scikit-learn per query and brute force over tie orders."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import sklearn.metrics as skm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perennia.errors import InvalidInput
from perennia.evaluate.metrics import (
    hit_rate_at_k,
    mean_average_precision,
    mean_reciprocal_rank,
    ndcg_at_k,
    precision_at_k,
    ranking_report,
    recall_at_k,
)

EXAMPLES = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ATOL = 1e-9

# A handful of score values makes ties within a query frequent.
TIED_SCORES = st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0])
GRADES = st.sampled_from([0.0, 0.0, 1.0, 2.0, 3.0])


@st.composite
def ranked_queries(draw, grades=GRADES, max_queries=5, max_size=6):
    """Return (relevance, score, query_id, per-query row indices) with rows interleaved."""
    sizes = draw(st.lists(st.integers(1, max_size), min_size=1, max_size=max_queries))
    n = sum(sizes)
    relevance = np.array(draw(st.lists(grades, min_size=n, max_size=n)))
    score = np.array(draw(st.lists(TIED_SCORES, min_size=n, max_size=n)))
    if not (relevance > 0).any():
        relevance[draw(st.integers(0, n - 1))] = 1.0
    ids = np.repeat(np.arange(len(sizes)), sizes)
    shuffle = np.array(draw(st.permutations(range(n))))
    ids = ids[shuffle]
    strings = np.array([f"q{i}" for i in ids], dtype=object)
    query = strings if draw(st.booleans()) else ids * 7 + 3
    rows = [np.flatnonzero(ids == i) for i in range(len(sizes))]
    return relevance, score, query, rows


def _mean_over_queries(relevance, rows, per_query):
    values = [per_query(r) for r in rows if (relevance[r] > 0).any()]
    return float(np.mean(values))


def _sorted_orders(score):
    """Yield every order of the items consistent with descending score (ties in any order)."""
    for order in itertools.permutations(range(len(score))):
        if all(score[a] >= score[b] for a, b in itertools.pairwise(order)):
            yield order


def _expected_hits_at_k(relevant, score, k):
    orders = list(_sorted_orders(score))
    return sum(sum(relevant[i] for i in order[:k]) for order in orders) / len(orders)


def _pessimistic_best_rank(relevant, score):
    best = max(s for s, r in zip(score, relevant, strict=True) if r)
    return sum(1 for s in score if s >= best)


@EXAMPLES
@given(ranked_queries(), st.integers(1, 8))
def test_ndcg_matches_sklearn_per_query(case, k):
    relevance, score, query, rows = case

    def oracle(r):
        if len(r) == 1:
            return 1.0
        return skm.ndcg_score([relevance[r]], [score[r]], k=k)

    expected = _mean_over_queries(relevance, rows, oracle)
    assert ndcg_at_k(relevance, score, query_id=query, k=k) == pytest.approx(expected, abs=ATOL)


@EXAMPLES
@given(ranked_queries())
def test_map_is_sklearn_average_precision_averaged_over_queries(case):
    relevance, score, query, rows = case

    def oracle(r):
        return skm.average_precision_score(relevance[r] > 0, score[r])

    expected = _mean_over_queries(relevance, rows, oracle)
    assert mean_average_precision(relevance, score, query_id=query) == pytest.approx(
        expected, abs=ATOL
    )


@EXAMPLES
@given(ranked_queries(), st.integers(1, 8))
def test_precision_and_recall_at_k_are_expected_values_over_random_tie_breaks(case, k):
    relevance, score, query, rows = case
    relevant = relevance > 0

    def precision(r):
        return _expected_hits_at_k(relevant[r], score[r], k) / k

    def recall(r):
        return _expected_hits_at_k(relevant[r], score[r], k) / relevant[r].sum()

    got_precision = precision_at_k(relevance, score, query_id=query, k=k)
    got_recall = recall_at_k(relevance, score, query_id=query, k=k)
    assert got_precision == pytest.approx(_mean_over_queries(relevance, rows, precision), abs=ATOL)
    assert got_recall == pytest.approx(_mean_over_queries(relevance, rows, recall), abs=ATOL)


@EXAMPLES
@given(ranked_queries(), st.integers(1, 8))
def test_mrr_and_hit_rate_use_the_pessimistic_best_relevant_rank(case, k):
    relevance, score, query, rows = case
    relevant = relevance > 0

    def reciprocal(r):
        return 1.0 / _pessimistic_best_rank(relevant[r], score[r])

    def hit(r):
        return float(_pessimistic_best_rank(relevant[r], score[r]) <= k)

    got_mrr = mean_reciprocal_rank(relevance, score, query_id=query)
    assert got_mrr == pytest.approx(_mean_over_queries(relevance, rows, reciprocal), abs=ATOL)
    got_hit = hit_rate_at_k(relevance, score, query_id=query, k=k)
    assert got_hit == pytest.approx(_mean_over_queries(relevance, rows, hit), abs=ATOL)


@EXAMPLES
@given(ranked_queries(max_size=8), st.data())
def test_mrr_equals_sklearn_lrap_when_each_query_has_one_relevant_item(case, data):
    _, score, query, rows = case
    relevance = np.zeros(len(score))
    for r in rows:
        relevance[r[data.draw(st.integers(0, len(r) - 1))]] = 1.0
    expected = np.mean(
        [skm.label_ranking_average_precision_score([relevance[r]], [score[r]]) for r in rows]
    )
    assert mean_reciprocal_rank(relevance, score, query_id=query) == pytest.approx(
        expected, abs=ATOL
    )


@EXAMPLES
@given(ranked_queries(), st.integers(1, 8))
def test_report_agrees_with_each_metric_and_counts_queries(case, k):
    relevance, score, query, rows = case
    report = ranking_report(relevance, score, query_id=query, k=k)
    assert report == {
        "map": mean_average_precision(relevance, score, query_id=query),
        f"ndcg_at_{k}": ndcg_at_k(relevance, score, query_id=query, k=k),
        "mrr": mean_reciprocal_rank(relevance, score, query_id=query),
        f"precision_at_{k}": precision_at_k(relevance, score, query_id=query, k=k),
        f"recall_at_{k}": recall_at_k(relevance, score, query_id=query, k=k),
        f"hit_rate_at_{k}": hit_rate_at_k(relevance, score, query_id=query, k=k),
        "n_queries": float(len(rows)),
        "n_queries_without_relevant": float(sum(not (relevance[r] > 0).any() for r in rows)),
    }


def test_single_query_with_a_perfect_ranking_scores_one():
    report = ranking_report([3, 2, 0, 0], [0.9, 0.8, 0.2, 0.1], query_id=[1, 1, 1, 1], k=2)
    assert report["map"] == report["ndcg_at_2"] == report["mrr"] == 1.0
    assert report["precision_at_2"] == report["recall_at_2"] == report["hit_rate_at_2"] == 1.0
    assert report["n_queries"] == 1.0


def test_k_larger_than_the_query_counts_every_item_and_divides_precision_by_k():
    relevance, score = [1, 0, 1], [0.2, 0.9, 0.5]
    query = ["a", "a", "a"]
    assert recall_at_k(relevance, score, query_id=query, k=10) == 1.0
    assert precision_at_k(relevance, score, query_id=query, k=10) == pytest.approx(0.2)
    assert ndcg_at_k(relevance, score, query_id=query, k=10) == pytest.approx(
        skm.ndcg_score([relevance], [score], k=10)
    )


def test_query_without_relevant_items_is_skipped_and_counted():
    relevance = [1, 0, 0, 0]
    score = [0.9, 0.1, 0.5, 0.4]
    query = ["hit", "hit", "empty", "empty"]
    report = ranking_report(relevance, score, query_id=query, k=1)
    assert report["map"] == report["mrr"] == report["precision_at_1"] == 1.0
    assert report["n_queries"] == 2.0
    assert report["n_queries_without_relevant"] == 1.0


def test_no_query_with_a_relevant_item_is_refused():
    with pytest.raises(InvalidInput, match="no relevant item"):
        ndcg_at_k([0, 0, 0], [0.1, 0.2, 0.3], query_id=[1, 1, 2])


def test_mismatched_lengths_are_refused():
    with pytest.raises(InvalidInput, match="y_true has 3 rows but y_score has 2"):
        mean_average_precision([1, 0, 1], [0.1, 0.2], query_id=[1, 1, 1])
    with pytest.raises(InvalidInput, match="query_id has 2"):
        mean_average_precision([1, 0, 1], [0.1, 0.2, 0.3], query_id=[1, 1])


def test_nan_score_is_refused():
    with pytest.raises(InvalidInput, match="y_score holds NaN at row 1"):
        mean_reciprocal_rank([1, 0], [0.5, math.nan], query_id=[1, 1])


def test_negative_relevance_is_refused():
    with pytest.raises(InvalidInput, match="y_true must be relevance grades >= 0"):
        ndcg_at_k([1, -1], [0.5, 0.2], query_id=[1, 1])


def test_missing_query_id_is_refused():
    with pytest.raises(InvalidInput, match="query_id is missing"):
        ndcg_at_k([1, 0], [0.5, 0.2], query_id=["a", None])


@pytest.mark.parametrize("k", [0, -1, 2.5, True, "3", None])
def test_k_must_be_a_positive_integer(k):
    with pytest.raises(InvalidInput, match="k must be a positive integer"):
        precision_at_k([1, 0], [0.5, 0.2], query_id=[1, 1], k=k)


def test_numpy_integer_k_is_accepted():
    assert hit_rate_at_k([1, 0], [0.5, 0.2], query_id=[1, 1], k=np.int64(1)) == 1.0
