"""Ranking metrics over queries: MAP, NDCG@k, MRR, precision/recall/hit rate at k.

Rows are (query, item) pairs: `y_true` is the item's relevance (graded, >= 0), `y_score` the
model's score, `query_id` (ints or strings) the query the row belongs to. Every metric is the
mean over queries of a per-query value. Conventions:

- An item is relevant when `y_true > 0`. Queries with no relevant item are skipped by every
  metric (`ranking_report` counts them in "n_queries_without_relevant"); if no query has a
  relevant item, InvalidInput is raised.
- Tied scores are handled the way scikit-learn does, so results agree with it exactly:
  NDCG@k averages the gains over tied positions (`sklearn.metrics.ndcg_score`,
  ignore_ties=False) with linear gain (the relevance itself) and discount 1/log2(rank + 1);
  MAP is `sklearn.metrics.average_precision_score` per query (tied scores form one threshold).
- precision@k and recall@k are tie-averaged: the expected value when ties are broken at
  random (the NDCG machinery with gain = relevant indicator and discount 1). precision@k
  divides by k even when a query has fewer than k items, as trec_eval does.
- MRR uses the pessimistic rank of the best-scored relevant item (the number of items in the
  query scoring at least as high), which equals
  `sklearn.metrics.label_ranking_average_precision_score` when each query has one relevant
  item; hit_rate@k is the share of queries whose pessimistic best-relevant rank is <= k.

All metrics share one sort by (query, -score); `ranking_report` computes them all from it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from perennia.errors import InvalidInput
from perennia.evaluate.metrics._validation import as_array, as_float, same_length

__all__ = [
    "hit_rate_at_k",
    "mean_average_precision",
    "mean_reciprocal_rank",
    "ndcg_at_k",
    "precision_at_k",
    "ranking_report",
    "recall_at_k",
]


def mean_average_precision(y_true: Any, y_score: Any, *, query_id: Any) -> float:
    """Return the mean over queries of the average precision of the scores."""
    return _Ranking.build(y_true, y_score, query_id).mean_average_precision()


def ndcg_at_k(y_true: Any, y_score: Any, *, query_id: Any, k: int = 10) -> float:
    """Return the mean over queries of the normalised discounted cumulative gain at k."""
    return _Ranking.build(y_true, y_score, query_id).ndcg(_check_k(k))


def mean_reciprocal_rank(y_true: Any, y_score: Any, *, query_id: Any) -> float:
    """Return the mean over queries of 1 / (pessimistic rank of the best relevant item)."""
    return _Ranking.build(y_true, y_score, query_id).mean_reciprocal_rank()


def precision_at_k(y_true: Any, y_score: Any, *, query_id: Any, k: int = 10) -> float:
    """Return the mean over queries of the (tie-averaged) share of the top k that is relevant."""
    return _Ranking.build(y_true, y_score, query_id).precision(_check_k(k))


def recall_at_k(y_true: Any, y_score: Any, *, query_id: Any, k: int = 10) -> float:
    """Return the mean over queries of the (tie-averaged) share of relevant items in the top k."""
    return _Ranking.build(y_true, y_score, query_id).recall(_check_k(k))


def hit_rate_at_k(y_true: Any, y_score: Any, *, query_id: Any, k: int = 10) -> float:
    """Return the share of queries with a relevant item at pessimistic rank <= k."""
    return _Ranking.build(y_true, y_score, query_id).hit_rate(_check_k(k))


def ranking_report(y_true: Any, y_score: Any, *, query_id: Any, k: int = 10) -> dict[str, float]:
    """Return every ranking metric (and the query counts) computed from one sort."""
    k = _check_k(k)
    ranking = _Ranking.build(y_true, y_score, query_id)
    return {
        "map": ranking.mean_average_precision(),
        f"ndcg_at_{k}": ranking.ndcg(k),
        "mrr": ranking.mean_reciprocal_rank(),
        f"precision_at_{k}": ranking.precision(k),
        f"recall_at_{k}": ranking.recall(k),
        f"hit_rate_at_{k}": ranking.hit_rate(k),
        "n_queries": float(ranking.n_queries),
        "n_queries_without_relevant": float(ranking.n_queries - np.count_nonzero(ranking.valid)),
    }


class _Ranking:
    """Rows sorted by (query, -score), summarised per tie block (same query, same score).

    Positions are 0-based within the query; a block covers positions [start, end).
    """

    def __init__(
        self,
        *,
        n_queries: int,
        block_query: np.ndarray,
        block_start: np.ndarray,
        block_end: np.ndarray,
        block_gain: np.ndarray,
        block_hits: np.ndarray,
        hits_through: np.ndarray,
        gains: tuple[np.ndarray, np.ndarray],
    ) -> None:
        self.n_queries = n_queries
        self.block_query = block_query
        self.block_start = block_start
        self.block_end = block_end
        self.block_gain = block_gain
        self.block_hits = block_hits
        self.hits_through = hits_through
        self.gains = gains
        self.positives = np.bincount(block_query, weights=block_hits, minlength=n_queries)
        self.valid = self.positives > 0
        if not self.valid.any():
            raise InvalidInput(
                "y_true has no relevant item (y_true > 0) in any query; "
                "ranking metrics need at least one query with a relevant item"
            )

    @classmethod
    def build(cls, y_true: Any, y_score: Any, query_id: Any) -> _Ranking:
        """Return the ranking of validated inputs."""
        relevance = as_float(y_true, "y_true")
        score = as_float(y_score, "y_score")
        codes, n_queries = _query_codes(query_id)
        n = same_length(y_true=relevance, y_score=score, query_id=codes)
        if (relevance < 0).any():
            where = int(np.flatnonzero(relevance < 0)[0])
            raise InvalidInput(
                f"y_true must be relevance grades >= 0, found {relevance[where]!r} at row {where}"
            )
        order = np.lexsort((-score, codes))
        query, score, relevance = codes[order], score[order], relevance[order]
        del order
        new_query = np.empty(n, dtype=np.bool_)
        new_query[0] = True
        np.not_equal(query[1:], query[:-1], out=new_query[1:])
        query_first = np.flatnonzero(new_query)
        # A block starts at a new query or a new score; the query mask is no longer needed.
        new_block = new_query
        new_block[1:] |= score[1:] != score[:-1]
        first = np.flatnonzero(new_block)
        last = np.append(first[1:], n)
        block_query = query[first]
        block_start = first - query_first[block_query]
        # Integer running counts stay exact however many rows there are.
        relevant = relevance > 0
        hits_before = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(relevant, out=hits_before[1:])
        return cls(
            n_queries=n_queries,
            block_query=block_query,
            block_start=block_start,
            block_end=block_start + (last - first),
            block_gain=np.add.reduceat(relevance, first),
            block_hits=hits_before[last] - hits_before[first],
            hits_through=hits_before[last] - hits_before[query_first[block_query]],
            gains=(query[relevant], relevance[relevant]),
        )

    def _mean(self, per_query: np.ndarray) -> float:
        return float(per_query[self.valid].mean())

    def _by_query(self, per_block: np.ndarray) -> np.ndarray:
        return np.bincount(self.block_query, weights=per_block, minlength=self.n_queries)

    def _tie_averaged(self, gain: np.ndarray, cumulative_discount: np.ndarray) -> np.ndarray:
        """Return per query the sum over blocks of mean block gain x discounts it occupies."""
        top = len(cumulative_discount) - 1
        start = np.minimum(self.block_start, top)
        end = np.minimum(self.block_end, top)
        covered = cumulative_discount[end] - cumulative_discount[start]
        size = self.block_end - self.block_start
        return self._by_query(gain / size * covered)

    def mean_average_precision(self) -> float:
        """Return the mean over queries of scikit-learn's average precision."""
        precision = self.hits_through / self.block_end
        summed = self._by_query(self.block_hits * precision)
        with np.errstate(divide="ignore", invalid="ignore"):
            return self._mean(summed / self.positives)

    def ndcg(self, k: int) -> float:
        """Return the mean over queries of tie-averaged NDCG at k."""
        discounts = _cumulative_discount(min(k, int(self.block_end.max())))
        dcg = self._tie_averaged(self.block_gain, discounts)
        with np.errstate(divide="ignore", invalid="ignore"):
            return self._mean(dcg / self._ideal_dcg(k))

    def _ideal_dcg(self, k: int) -> np.ndarray:
        query, gain = self.gains
        if gain.min() == gain.max():
            # One relevance grade (the binary case): the ideal is that grade at the first
            # min(positives, k) positions, no sort needed.
            discounts = _cumulative_discount(min(k, int(self.positives.max())))
            top = np.minimum(self.positives.astype(np.int64), len(discounts) - 1)
            return gain[0] * discounts[top]
        order = np.lexsort((-gain, query))
        query, gain = query[order], gain[order]
        first = np.flatnonzero(np.r_[True, query[1:] != query[:-1]])
        position = np.arange(len(query)) - np.repeat(first, np.diff(np.append(first, len(query))))
        keep = position < k
        discount = 1.0 / np.log2(position[keep] + 2.0)
        return np.bincount(query[keep], weights=gain[keep] * discount, minlength=self.n_queries)

    def precision(self, k: int) -> float:
        """Return the mean over queries of the expected relevant share of the top k."""
        return self._mean(self._expected_hits(k) / k)

    def recall(self, k: int) -> float:
        """Return the mean over queries of the expected share of relevant items in the top k."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return self._mean(self._expected_hits(k) / self.positives)

    def _expected_hits(self, k: int) -> np.ndarray:
        top = min(k, int(self.block_end.max()))
        return self._tie_averaged(self.block_hits.astype(np.float64), np.arange(top + 1.0))

    def best_rank(self) -> np.ndarray:
        """Return per query the pessimistic rank of its best-scored relevant item (0 if none)."""
        with_hits = self.block_hits > 0
        query = self.block_query[with_hits]
        # Blocks run in rank order within a query, so the first one with a hit is the best.
        first = np.r_[True, query[1:] != query[:-1]]
        rank = np.zeros(self.n_queries, dtype=np.int64)
        rank[query[first]] = self.block_end[with_hits][first]
        return rank

    def mean_reciprocal_rank(self) -> float:
        """Return the mean over queries of 1 / the pessimistic best relevant rank."""
        rank = self.best_rank()[self.valid]
        return float((1.0 / rank).mean())

    def hit_rate(self, k: int) -> float:
        """Return the share of queries whose pessimistic best relevant rank is <= k."""
        rank = self.best_rank()[self.valid]
        return float(np.count_nonzero(rank <= k) / rank.size)


def _cumulative_discount(top: int) -> np.ndarray:
    """Return c with c[p] = sum of 1/log2(i + 2) for i < p, for p in 0..top."""
    out = np.zeros(top + 1)
    np.cumsum(1.0 / np.log2(np.arange(top) + 2.0), out=out[1:])
    return out


def _query_codes(query_id: Any) -> tuple[np.ndarray, int]:
    """Return dense integer codes for the query ids and the number of distinct queries."""
    import pandas as pd

    values = as_array(query_id, "query_id")
    codes, uniques = pd.factorize(values.astype(object) if values.dtype.kind in "US" else values)
    if values.dtype.kind not in "iub" and (codes < 0).any():
        where = int(np.flatnonzero(codes < 0)[0])
        raise InvalidInput(f"query_id is missing (None/NaN) at row {where}; give every row a query")
    return codes.astype(np.int64, copy=False), len(uniques)


def _check_k(k: Any) -> int:
    """Return k as an int, refusing anything but a positive integer."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise InvalidInput(f"k must be a positive integer (the cut-off rank), got {k!r}")
    return int(k)
