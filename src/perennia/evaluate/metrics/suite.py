"""The whole binary-classification suite in one pass: one validation, one sort, one count.

`binary_classification_report` is what the evaluator calls; it is also the fast path the
benchmark measures against calling scikit-learn's functions one by one. Label metrics read
one `BinaryCounts`, every curve and area reads one `ScoreRanking`, calibration reads one
`bincount`. Probability metrics (log loss, Brier, calibration) are included only when the
scores are probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from perennia.evaluate.metrics._validation import as_binary, as_float, as_weights, same_length
from perennia.evaluate.metrics.binary import BinaryCounts, binary_log_loss, brier_from_arrays
from perennia.evaluate.metrics.calibration import CalibrationBins
from perennia.evaluate.metrics.curves import ScoreRanking
from perennia.evaluate.metrics.thresholds import ThresholdChoice, choose_threshold, ranking_lift

__all__ = ["BinaryReport", "binary_classification_report"]


@dataclass
class BinaryReport:
    """Every binary metric, the full curves, chosen thresholds, calibration bins and lift."""

    metrics: dict[str, float]
    counts: BinaryCounts
    curves: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    thresholds: dict[str, ThresholdChoice] = field(default_factory=dict)
    calibration: CalibrationBins | None = None  # equal-width bins (what ece and mce use)
    calibration_quantile: CalibrationBins | None = None  # equal-mass bins (ece_quantile)
    # Metrics at a fixed operating point (recall_at_fpr_1pct), kept out of `metrics`, which
    # mirrors scikit-learn's functions one for one.
    operating_points: dict[str, float] = field(default_factory=dict)


def binary_classification_report(
    y_true: Any,
    y_score: Any,
    *,
    threshold: float = 0.5,
    sample_weight: Any = None,
    pos_label: Any = 1,
    beta: float = 2.0,
    n_bins: int = 10,
    cost_matrix: Any = None,
    curve_points: int | None = 2000,
) -> BinaryReport:
    """Return every binary metric, curve and threshold choice of scores against labels.

    Curves are computed at full resolution (areas and threshold choices use every distinct
    score) and returned with at most `curve_points` points each; None returns them whole.
    """
    y = as_binary(y_true, "y_true", pos_label=pos_label)
    score = as_float(y_score, "y_score", allow_inf=True)
    weights = as_weights(sample_weight, same_length(y_true=y, y_score=score))
    counts = BinaryCounts.from_masks(y, score >= threshold, weights)
    report = BinaryReport(_label_metrics(counts, beta), counts)
    is_probability = bool(score.min() >= 0.0 and score.max() <= 1.0)
    if is_probability:
        # Row-wise metrics first: their chunked temporaries are gone before the sort's arrays.
        _probability_metrics(report, y, score, weights, n_bins)
    ranking = ScoreRanking.from_arrays(y, score, weights)
    if is_probability:
        sorted_prob = _sorted_values(ranking) if weights is None else None
        quantile = CalibrationBins.from_arrays(
            y, score, weights, n_bins=n_bins, strategy="quantile", sorted_prob=sorted_prob
        )
        report.metrics["ece_quantile"] = quantile.expected_error()
        report.calibration_quantile = quantile
    _ranking_metrics(report, ranking, n_bins, cost_matrix, curve_points)
    return report


def _ranking_metrics(
    report: BinaryReport,
    ranking: ScoreRanking,
    n_bins: int,
    cost_matrix: Any,
    curve_points: int | None,
) -> None:
    metrics, curves = report.metrics, report.curves
    if ranking.positives > 0 and ranking.negatives > 0:
        metrics["roc_auc"] = ranking.roc_auc()
        report.operating_points["recall_at_fpr_1pct"] = ranking.recall_at_fpr(0.01)
        curves["roc"] = sampled_curve(ranking, curve_points, "roc")
        for method in ("youden", "fbeta") + (("cost",) if cost_matrix is not None else ()):
            choice = choose_threshold(ranking, method, beta=1.0, cost_matrix=cost_matrix)
            report.thresholds["f1" if method == "fbeta" else method] = choice
    if ranking.positives > 0:
        metrics["pr_auc"] = ranking.average_precision()
        curves["pr"] = sampled_curve(ranking, curve_points, "pr")
        lift = ranking_lift(ranking, n_bins)
        curves["lift"] = {"fraction": lift.fraction, "gain": lift.gain, "lift": lift.lift}


def thin(curve: dict[str, np.ndarray], max_points: int) -> dict[str, np.ndarray]:
    """Return the curve (equal-length arrays) at most `max_points` evenly spaced points long."""
    size = len(next(iter(curve.values())))
    if size <= max_points:
        return curve
    keep = np.unique(np.linspace(0, size - 1, max_points).round().astype(np.intp))
    return {name: np.asarray(values)[keep] for name, values in curve.items()}


def sampled_curve(ranking: ScoreRanking, max_points: int | None, kind: str) -> dict:
    """Return the ROC or PR curve at (at most) `max_points` evenly spaced thresholds."""
    if max_points is None or ranking.tps.size + 1 <= max_points:
        if kind == "roc":
            fpr, tpr, thresholds = ranking.roc_curve()
            return {"fpr": fpr, "tpr": tpr, "thresholds": thresholds}
        precision, recall, thresholds = ranking.precision_recall_curve()
        return {"precision": precision, "recall": recall, "thresholds": thresholds}
    # Sampling the thresholds first keeps a 10M-row curve from ever being materialised whole.
    keep = np.unique(np.linspace(0, ranking.tps.size - 1, max_points - 1).round().astype(np.intp))
    tps, fps, thresholds = ranking.tps[keep], ranking.fps[keep], ranking.thresholds[keep]
    if kind == "roc":
        return {
            "fpr": np.r_[0.0, fps / ranking.negatives],
            "tpr": np.r_[0.0, tps / ranking.positives],
            "thresholds": np.r_[np.inf, thresholds],
        }
    predicted = tps + fps
    precision = np.divide(tps, predicted, out=np.zeros_like(tps), where=predicted != 0)
    return {
        "precision": np.r_[precision[::-1], 1.0],
        "recall": np.r_[(tps / ranking.positives)[::-1], 0.0],
        "thresholds": thresholds[::-1],
    }


def _label_metrics(counts: BinaryCounts, beta: float) -> dict[str, float]:
    return {
        "accuracy": counts.accuracy(),
        "precision": counts.precision(),
        "recall": counts.recall(),
        "specificity": counts.specificity(),
        "false_positive_rate": counts.false_positive_rate(),
        "f1": counts.fbeta(1.0),
        f"f{beta:g}".replace(".", "_"): counts.fbeta(beta),
        "balanced_accuracy": counts.balanced_accuracy(),
        "geometric_mean": counts.geometric_mean(),
        "matthews_corrcoef": counts.matthews(),
    }


def _probability_metrics(
    report: BinaryReport,
    y: np.ndarray,
    prob: np.ndarray,
    weights: np.ndarray | None,
    n_bins: int,
) -> None:
    metrics = report.metrics
    metrics["log_loss"] = binary_log_loss(y, prob, weights)
    metrics["brier_score"] = brier_from_arrays(y, prob, weights)
    uniform = CalibrationBins.from_arrays(y, prob, weights, n_bins=n_bins)
    metrics["ece"] = uniform.expected_error()
    metrics["mce"] = uniform.maximum_error()
    report.calibration = uniform


class _RepeatedSorted:
    """The sorted scores with multiplicity, read lazily from an unweighted ranking."""

    def __init__(self, ranking: ScoreRanking) -> None:
        self.ranking = ranking
        self.size = int(round(ranking.rows_taken(ranking.tps.size - 1)))

    def __getitem__(self, index: np.ndarray) -> np.ndarray:
        # Ascending position k is descending position size - 1 - k: the first threshold block
        # whose cumulative row count passes it holds that value.
        ranking = self.ranking
        blocks = [ranking.first_block_beyond(self.size - 1 - int(k)) for k in np.ravel(index)]
        return ranking.thresholds[np.array(blocks, dtype=np.intp)].reshape(np.shape(index))


def _sorted_values(ranking: ScoreRanking) -> Any:
    # Without weights the ranking's counts are row counts, so it locates any order statistic
    # without materialising the sorted array.
    return _RepeatedSorted(ranking)
