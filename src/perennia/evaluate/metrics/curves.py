"""Threshold curves from one sort: ROC, precision-recall, their areas, and the points behind them.

`ScoreRanking` sorts the scores once and keeps, for every distinct score taken as a threshold
(from the highest down), the cumulative true and false positives. ROC AUC, average precision,
both curves, threshold search and lift all read those arrays instead of sorting again.

Conventions follow scikit-learn exactly, so results agree to floating-point noise: rows with
zero weight are dropped first, a row is predicted positive when `score >= threshold`, the ROC
curve starts at (0, 0) with threshold +inf, and the PR curve ends at (recall 0, precision 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from perennia.errors import InvalidInput
from perennia.evaluate.metrics._validation import (
    as_binary,
    as_float,
    as_weights,
    row_slices,
    same_length,
)

__all__ = [
    "ScoreRanking",
    "average_precision_score",
    "precision_recall_curve",
    "roc_auc_score",
    "roc_curve",
]


@dataclass(frozen=True)
class ScoreRanking:
    """Cumulative positives and negatives at each distinct score, highest score first."""

    thresholds: np.ndarray  # distinct scores, descending
    tps: np.ndarray  # weight of positives with score >= threshold
    fps: np.ndarray  # weight of negatives with score >= threshold
    positives: float
    negatives: float

    @classmethod
    def build(
        cls, y_true: Any, y_score: Any, *, sample_weight: Any = None, pos_label: Any = 1
    ) -> ScoreRanking:
        """Return the ranking of `y_score` against binary `y_true` (one sort)."""
        y = as_binary(y_true, "y_true", pos_label=pos_label)
        score = as_float(y_score, "y_score", allow_inf=True)
        n = same_length(y_true=y, y_score=score)
        weights = as_weights(sample_weight, n)
        return cls.from_arrays(y, score, weights)

    @classmethod
    def from_arrays(
        cls, y: np.ndarray, score: np.ndarray, weights: np.ndarray | None
    ) -> ScoreRanking:
        """Return the ranking of validated arrays: bool labels, float scores, optional weights."""
        if weights is not None and not weights.all():
            keep = weights != 0
            y, score, weights = y[keep], score[keep], weights[keep]
        # Peak memory matters at tens of millions of rows: each temporary is freed as soon as
        # the next one is built from it.
        # Stable and descending, as scikit-learn sorts: tied rows keep their order, so weighted
        # sums accumulate in the same order and round the same way (its dropping of collinear
        # ROC points compares those sums exactly).
        order = np.argsort(-score, kind="stable")
        sorted_score = score[order]
        # The last row of each run of equal scores closes that threshold's block.
        boundary = sorted_score[1:] != sorted_score[:-1]
        ends = np.flatnonzero(boundary)
        del boundary
        ends = np.append(ends, sorted_score.size - 1)
        thresholds = sorted_score[ends]
        del sorted_score
        sorted_y = y[order]
        if weights is None:
            del order
            tps = np.cumsum(sorted_y, dtype=np.float64)[ends]
            del sorted_y
            fps = np.add(ends, 1.0)
            fps -= tps
        else:
            sorted_w = weights[order]
            del order
            tps = np.cumsum(np.where(sorted_y, sorted_w, 0.0))[ends]
            fps = np.cumsum(np.where(sorted_y, 0.0, sorted_w))[ends]
        return cls(thresholds, tps, fps, float(tps[-1]), float(fps[-1]))

    def roc_curve(self, *, drop_intermediate: bool = True) -> tuple[np.ndarray, ...]:
        """Return (fpr, tpr, thresholds) as scikit-learn's roc_curve does."""
        fps, tps, thresholds = self.fps, self.tps, self.thresholds
        if drop_intermediate and fps.size > 2:
            keep = np.flatnonzero(
                np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True]
            )
            fps, tps, thresholds = fps[keep], tps[keep], thresholds[keep]
        fps = np.r_[0.0, fps]
        tps = np.r_[0.0, tps]
        thresholds = np.r_[np.inf, thresholds]
        fpr = fps / self.negatives if self.negatives > 0 else np.full(fps.shape, np.nan)
        tpr = tps / self.positives if self.positives > 0 else np.full(tps.shape, np.nan)
        return fpr, tpr, thresholds

    def recall_at_fpr(self, max_fpr: float) -> float:
        """Return the highest recall (TPR) among thresholds whose FPR is at most `max_fpr`."""
        self.need_both_classes("recall at a false-positive rate")
        # fps only grows as the threshold falls, so the allowed thresholds are a prefix and the
        # last of them has the highest recall; "predict nothing" (recall 0) is always allowed.
        fpr = self.fps / self.negatives
        allowed = int(np.searchsorted(fpr, max_fpr, side="right"))
        return float(self.tps[allowed - 1] / self.positives) if allowed else 0.0

    def roc_auc(self) -> float:
        """Return the area under the ROC curve (trapezoids between distinct thresholds)."""
        self.need_both_classes("roc_auc")
        area = 0.0
        for fps, tps, prev_f, prev_t in self.in_pieces():
            area += np.dot(np.diff(fps, prepend=prev_f), tps + np.r_[prev_t, tps[:-1]])
        return float(area / 2.0 / (self.positives * self.negatives))

    def in_pieces(self):
        """Yield (fps, tps, fps before, tps before) chunk by chunk, starting from (0, 0)."""
        # Chunks keep every temporary small when there are tens of millions of thresholds.
        prev_f = prev_t = 0.0
        for part in row_slices(self.tps.size):
            fps, tps = self.fps[part], self.tps[part]
            yield fps, tps, prev_f, prev_t
            prev_f, prev_t = float(fps[-1]), float(tps[-1])

    def rows_taken(self, block: int) -> float:
        """Return the weight of rows scored at or above threshold number `block`."""
        return float(self.tps[block] + self.fps[block])

    def first_block_beyond(self, taken: float) -> int:
        """Return the first threshold index whose rows-taken exceeds `taken` (bisection)."""
        low, high = 0, self.tps.size
        while low < high:
            middle = (low + high) // 2
            if self.rows_taken(middle) > taken:
                high = middle
            else:
                low = middle + 1
        return low

    def precision_recall_curve(self) -> tuple[np.ndarray, ...]:
        """Return (precision, recall, thresholds) as scikit-learn's precision_recall_curve does."""
        precision = self.precision()
        recall = self.recall()
        return (
            np.r_[precision[::-1], 1.0],
            np.r_[recall[::-1], 0.0],
            self.thresholds[::-1].copy(),
        )

    def average_precision(self) -> float:
        """Return average precision: precision at each threshold weighted by the recall gained."""
        if self.positives <= 0:
            raise InvalidInput(
                "average precision is undefined: y_true holds no positive row; "
                "evaluate on data that contains the positive class"
            )
        total = 0.0
        for fps, tps, _, prev_t in self.in_pieces():
            predicted = tps + fps
            precision = np.divide(tps, predicted, out=np.zeros_like(tps), where=predicted != 0)
            total += np.dot(np.diff(tps, prepend=prev_t), precision)
        return float(max(0.0, total / self.positives))

    def precision(self) -> np.ndarray:
        """Return precision at each threshold (0 where nothing is predicted positive)."""
        predicted = self.tps + self.fps
        return np.divide(self.tps, predicted, out=np.zeros_like(self.tps), where=predicted != 0)

    def recall(self) -> np.ndarray:
        """Return recall at each threshold (1 everywhere when there is no positive row)."""
        if self.positives <= 0:
            return np.ones_like(self.tps)
        return self.tps / self.positives

    def need_both_classes(self, metric: str) -> None:
        if self.positives <= 0 or self.negatives <= 0:
            present = "positive" if self.positives > 0 else "negative"
            raise InvalidInput(
                f"{metric} is undefined: y_true holds only {present} rows (with nonzero "
                "weight); evaluate on data that contains both classes"
            )


def roc_curve(
    y_true: Any,
    y_score: Any,
    *,
    pos_label: Any = 1,
    sample_weight: Any = None,
    drop_intermediate: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (false positive rates, true positive rates, thresholds) of the ROC curve."""
    ranking = ScoreRanking.build(y_true, y_score, sample_weight=sample_weight, pos_label=pos_label)
    ranking.need_both_classes("roc_curve")
    return ranking.roc_curve(drop_intermediate=drop_intermediate)


def roc_auc_score(
    y_true: Any, y_score: Any, *, pos_label: Any = 1, sample_weight: Any = None, labels: Any = None
) -> float:
    """Return the area under the ROC curve; a 2-D y_score gives the one-vs-rest macro average."""
    if np.ndim(y_score) == 2 and np.shape(y_score)[1] != 1:
        from perennia.evaluate.metrics.multiclass import roc_auc_ovr_score

        return roc_auc_ovr_score(y_true, y_score, labels=labels, sample_weight=sample_weight)
    ranking = ScoreRanking.build(y_true, y_score, sample_weight=sample_weight, pos_label=pos_label)
    return ranking.roc_auc()


def precision_recall_curve(
    y_true: Any, y_score: Any, *, pos_label: Any = 1, sample_weight: Any = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (precision, recall, thresholds), recall decreasing, as scikit-learn orders them."""
    ranking = ScoreRanking.build(y_true, y_score, sample_weight=sample_weight, pos_label=pos_label)
    return ranking.precision_recall_curve()


def average_precision_score(
    y_true: Any, y_score: Any, *, pos_label: Any = 1, sample_weight: Any = None
) -> float:
    """Return average precision, the area under the precision-recall step curve (PR AUC)."""
    ranking = ScoreRanking.build(y_true, y_score, sample_weight=sample_weight, pos_label=pos_label)
    return ranking.average_precision()
