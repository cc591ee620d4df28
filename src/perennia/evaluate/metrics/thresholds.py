"""Choosing a decision threshold, and lift/gain: both read the one sort in `ScoreRanking`.

Candidate thresholds are the distinct scores (a row is positive when `score >= threshold`)
plus +inf, "predict nothing positive". Ties between equally good thresholds go to the highest
threshold, the most conservative choice.

- "youden": maximise Youden's J = TPR - FPR;
- "fbeta": maximise F-beta (beta=1 is F1);
- "cost": minimise the expected cost given `cost_matrix` [[TN, FP], [FN, TP]] (rows: truth,
  columns: decision), e.g. [[0, 1], [5, 0]] when a missed positive costs five false alarms.

Lift/gain ranks rows by score and reports, for the top 10%, 20%, ... of rows (by weight), the
share of all positives captured (gain) and that share over the share of rows targeted (lift).
Rows tied in score are taken in proportion, so ties never depend on row order.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from perennia.errors import InvalidInput
from perennia.evaluate.metrics.curves import ScoreRanking

__all__ = ["LiftTable", "ThresholdChoice", "lift_gain", "optimal_threshold"]

_METHODS = ("youden", "fbeta", "cost")


@dataclass(frozen=True)
class ThresholdChoice:
    """The chosen threshold, the value of its criterion, and the rates it gives."""

    method: str
    threshold: float
    value: float
    tpr: float
    fpr: float
    precision: float
    recall: float

    def to_dict(self) -> dict[str, float | str]:
        """Return the choice as plain data."""
        return asdict(self)


@dataclass(frozen=True)
class LiftTable:
    """Cumulative gain and lift at each targeted fraction of rows."""

    fraction: np.ndarray
    gain: np.ndarray
    lift: np.ndarray

    def to_dict(self) -> dict[str, list[float]]:
        """Return the table as plain lists."""
        return {
            "fraction": self.fraction.tolist(),
            "gain": self.gain.tolist(),
            "lift": self.lift.tolist(),
        }


def choose_threshold(
    ranking: ScoreRanking,
    method: str = "youden",
    *,
    beta: float = 1.0,
    cost_matrix: Any = None,
) -> ThresholdChoice:
    """Return the best threshold of a ranking by Youden's J, F-beta or expected cost."""
    ranking.need_both_classes(f"the {method} threshold")
    if method not in _METHODS:
        raise InvalidInput(f"method must be one of {_METHODS}, got {method!r}")
    b2 = _positive(beta, "beta") ** 2
    costs = _cost_matrix(cost_matrix) if method == "cost" else None
    best_value, best_index, offset = None, 0, 0
    # Index 0 is "predict nothing" (threshold +inf); chunks keep temporaries small.
    pieces = [(np.zeros(1), np.zeros(1))]
    pieces += ((fps, tps) for fps, tps, _, _ in ranking.in_pieces())
    for fps, tps in pieces:
        value = _criterion(method, tps, fps, ranking, b2, costs)
        index = int(np.argmin(value) if method == "cost" else np.argmax(value))
        better = best_value is None or (
            value[index] < best_value if method == "cost" else value[index] > best_value
        )
        if better:
            best_value, best_index = float(value[index]), offset + index
        offset += tps.size
    tp = 0.0 if best_index == 0 else float(ranking.tps[best_index - 1])
    fp = 0.0 if best_index == 0 else float(ranking.fps[best_index - 1])
    threshold = np.inf if best_index == 0 else float(ranking.thresholds[best_index - 1])
    recall = tp / ranking.positives
    return ThresholdChoice(
        method,
        threshold,
        best_value,
        recall,
        fp / ranking.negatives,
        tp / (tp + fp) if tp + fp else 0.0,
        recall,
    )


def _criterion(
    method: str,
    tps: np.ndarray,
    fps: np.ndarray,
    ranking: ScoreRanking,
    b2: float,
    costs: np.ndarray | None,
) -> np.ndarray:
    if method == "youden":
        # J x P x N is exact for counts, so equally good thresholds tie exactly.
        return (tps * ranking.negatives - fps * ranking.positives) / (
            ranking.positives * ranking.negatives
        )
    if method == "fbeta":
        denominator = (1 + b2) * tps + b2 * (ranking.positives - tps) + fps
        return np.divide(
            (1 + b2) * tps, denominator, out=np.zeros_like(tps), where=denominator != 0
        )
    (c_tn, c_fp), (c_fn, c_tp) = costs
    total = ranking.positives + ranking.negatives
    return (
        c_tp * tps
        + c_fp * fps
        + c_fn * (ranking.positives - tps)
        + c_tn * (ranking.negatives - fps)
    ) / total


def optimal_threshold(
    y_true: Any,
    y_score: Any,
    *,
    method: str = "youden",
    beta: float = 1.0,
    cost_matrix: Any = None,
    sample_weight: Any = None,
    pos_label: Any = 1,
) -> ThresholdChoice:
    """Return the threshold that maximises Youden's J or F-beta, or minimises expected cost."""
    if method not in _METHODS:
        raise InvalidInput(f"method must be one of {_METHODS}, got {method!r}")
    ranking = ScoreRanking.build(y_true, y_score, sample_weight=sample_weight, pos_label=pos_label)
    return choose_threshold(ranking, method, beta=beta, cost_matrix=cost_matrix)


def ranking_lift(ranking: ScoreRanking, n_bins: int = 10) -> LiftTable:
    """Return cumulative gain and lift of a ranking at 1/n_bins, 2/n_bins, ..., 1 of the rows."""
    if not isinstance(n_bins, int) or isinstance(n_bins, bool) or n_bins < 1:
        raise InvalidInput(f"n_bins must be a positive integer, got {n_bins!r}")
    if ranking.positives <= 0:
        raise InvalidInput("lift is undefined: y_true holds no positive row")
    total = ranking.positives + ranking.negatives
    fraction = np.arange(1, n_bins + 1) / n_bins
    gain = np.array([_captured(ranking, cut * total) for cut in fraction]) / ranking.positives
    return LiftTable(fraction, gain, gain / fraction)


def _captured(ranking: ScoreRanking, taken: float) -> float:
    """Return the positives among the top `taken` rows, tied rows taken in proportion."""
    block = min(ranking.first_block_beyond(taken), ranking.tps.size - 1)
    before_rows = ranking.rows_taken(block - 1) if block else 0.0
    before_pos = float(ranking.tps[block - 1]) if block else 0.0
    rows = ranking.rows_taken(block) - before_rows
    share = min(max((taken - before_rows) / rows, 0.0), 1.0) if rows else 1.0
    return before_pos + share * (float(ranking.tps[block]) - before_pos)


def lift_gain(
    y_true: Any,
    y_score: Any,
    *,
    n_bins: int = 10,
    sample_weight: Any = None,
    pos_label: Any = 1,
) -> LiftTable:
    """Return the cumulative gain and lift table at n_bins equal fractions of the rows."""
    ranking = ScoreRanking.build(y_true, y_score, sample_weight=sample_weight, pos_label=pos_label)
    return ranking_lift(ranking, n_bins)


def _positive(value: Any, name: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value < np.inf:
        raise InvalidInput(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def _cost_matrix(cost_matrix: Any) -> np.ndarray:
    if cost_matrix is None:
        raise InvalidInput(
            "method='cost' needs cost_matrix=[[TN, FP], [FN, TP]], e.g. [[0, 1], [5, 0]]"
        )
    try:
        matrix = np.asarray(cost_matrix, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInput("cost_matrix must hold numbers: [[TN, FP], [FN, TP]]") from None
    if matrix.shape != (2, 2) or not np.isfinite(matrix).all():
        raise InvalidInput(
            f"cost_matrix must be 2x2 finite numbers [[TN, FP], [FN, TP]], got shape {matrix.shape}"
        )
    return matrix
