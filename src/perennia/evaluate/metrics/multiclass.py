"""Label metrics for two or more classes, with scikit-learn's names, signatures and averages.

`average="binary"` (the default of the precision/recall/F family) reads the positive class
only and goes through the fast `BinaryCounts`; "macro", "micro", "weighted" and None read a
confusion matrix built with one `bincount`. Classes are the sorted union of the labels in
y_true and y_pred unless `labels=` fixes them, as in scikit-learn.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from perennia.errors import InvalidInput
from perennia.evaluate.metrics._validation import (
    as_array,
    as_float,
    as_matrix,
    as_weights,
    plain,
    same_length,
)
from perennia.evaluate.metrics.binary import BinaryCounts, binary_log_loss

__all__ = [
    "accuracy_score",
    "balanced_accuracy_score",
    "cohen_kappa_score",
    "confusion_matrix",
    "f1_score",
    "fbeta_score",
    "log_loss",
    "matthews_corrcoef",
    "precision_score",
    "recall_score",
    "roc_auc_ovr_score",
    "top_k_accuracy_score",
]

_AVERAGES = ("binary", "macro", "micro", "weighted", None)


def encode(y_true: Any, y_pred: Any, labels: Any = None) -> tuple[np.ndarray, ...]:
    """Return (true codes, predicted codes, labels) with codes indexing the sorted labels."""
    y = as_array(y_true, "y_true")
    pred = as_array(y_pred, "y_pred")
    same_length(y_true=y, y_pred=pred)
    _refuse_missing(y, "y_true")
    _refuse_missing(pred, "y_pred")
    if labels is None:
        labels = np.unique(np.concatenate([np.unique(y), np.unique(pred)]))
    else:
        labels = np.asarray(labels)
        if labels.size == 0 or np.unique(labels).size != labels.size:
            raise InvalidInput("labels must be a non-empty list of distinct class labels")
    sorter = np.argsort(labels)
    codes = []
    for values in (y, pred):
        position = np.searchsorted(labels, values, sorter=sorter).clip(0, labels.size - 1)
        code = sorter[position]
        codes.append(np.where(labels[code] == values, code, -1))
    return codes[0], codes[1], labels


def confusion_matrix(
    y_true: Any, y_pred: Any, *, labels: Any = None, sample_weight: Any = None
) -> np.ndarray:
    """Return the confusion matrix: rows are true labels, columns predicted, in label order."""
    true_codes, pred_codes, found = encode(y_true, y_pred, labels)
    weights = as_weights(sample_weight, true_codes.size)
    return _matrix(true_codes, pred_codes, found.size, weights)


def _matrix(
    true_codes: np.ndarray, pred_codes: np.ndarray, k: int, weights: np.ndarray | None
) -> np.ndarray:
    # Rows whose label is outside `labels` are left out, as scikit-learn does.
    keep = (true_codes >= 0) & (pred_codes >= 0)
    if not keep.all():
        true_codes, pred_codes = true_codes[keep], pred_codes[keep]
        weights = None if weights is None else weights[keep]
    flat = np.bincount(true_codes * k + pred_codes, weights=weights, minlength=k * k)
    matrix = flat.reshape(k, k)
    return matrix if weights is not None else matrix.astype(np.int64)


def accuracy_score(y_true: Any, y_pred: Any, *, sample_weight: Any = None) -> float:
    """Return the share (or weight share) of rows whose prediction equals the label."""
    y = as_array(y_true, "y_true")
    pred = as_array(y_pred, "y_pred")
    weights = as_weights(sample_weight, same_length(y_true=y, y_pred=pred))
    _refuse_missing(y, "y_true")
    _refuse_missing(pred, "y_pred")
    return float(np.average(y == pred, weights=weights))


def precision_score(y_true: Any, y_pred: Any, **options: Any) -> float | np.ndarray:
    """Return precision: binary for pos_label, or macro/micro/weighted/None over classes."""
    return _family("precision", y_true, y_pred, **options)


def recall_score(y_true: Any, y_pred: Any, **options: Any) -> float | np.ndarray:
    """Return recall (true positive rate): binary, or macro/micro/weighted/None over classes."""
    return _family("recall", y_true, y_pred, **options)


def f1_score(y_true: Any, y_pred: Any, **options: Any) -> float | np.ndarray:
    """Return the F1 score: binary, or macro/micro/weighted/None over classes."""
    return _family("fbeta", y_true, y_pred, beta=1.0, **options)


def fbeta_score(y_true: Any, y_pred: Any, *, beta: float, **options: Any) -> float | np.ndarray:
    """Return the F-beta score (recall weighted beta times as much as precision)."""
    if not isinstance(beta, int | float) or not beta > 0 or math.isinf(beta):
        raise InvalidInput(f"beta must be a positive finite number, got {beta!r}")
    return _family("fbeta", y_true, y_pred, beta=float(beta), **options)


def _family(
    metric: str,
    y_true: Any,
    y_pred: Any,
    *,
    average: str | None = "binary",
    pos_label: Any = 1,
    labels: Any = None,
    sample_weight: Any = None,
    zero_division: float = 0.0,
    beta: float = 1.0,
) -> float | np.ndarray:
    if average not in _AVERAGES:
        raise InvalidInput(f"average must be one of {_AVERAGES}, got {average!r}")
    if average == "binary":
        counts = BinaryCounts.from_labels(
            y_true, y_pred, pos_label=pos_label, sample_weight=sample_weight
        )
        if metric == "fbeta":
            return counts.fbeta(beta, zero_division)
        return getattr(counts, metric)(zero_division)
    true_codes, pred_codes, found = encode(y_true, y_pred, labels)
    weights = as_weights(sample_weight, true_codes.size)
    tp, predicted, support = _class_counts(true_codes, pred_codes, found.size, weights)
    if average == "micro":
        tp, predicted, support = (
            tp.sum(keepdims=True),
            predicted.sum(keepdims=True),
            support.sum(keepdims=True),
        )
    scores = _per_class(metric, tp, predicted, support, beta, zero_division)
    if average is None:
        return scores
    if average == "weighted":
        if support.sum() == 0:
            return float(zero_division)
        return float(np.average(scores, weights=support))
    return float(scores.mean())


def _class_counts(
    true_codes: np.ndarray, pred_codes: np.ndarray, k: int, weights: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return per listed class: true positives, predicted count and support (weighted)."""

    # Rows of classes outside `labels` still count as the listed classes' false positives
    # and negatives, as in scikit-learn; only their own classes are not scored.
    def count(codes: np.ndarray, keep: np.ndarray) -> np.ndarray:
        w = None if weights is None else weights[keep]
        return np.bincount(codes[keep], weights=w, minlength=k).astype(np.float64)

    hit = (true_codes == pred_codes) & (true_codes >= 0)
    return (
        count(true_codes, hit),
        count(pred_codes, pred_codes >= 0),
        count(true_codes, true_codes >= 0),
    )


def _per_class(
    metric: str,
    tp: np.ndarray,
    predicted: np.ndarray,
    support: np.ndarray,
    beta: float,
    zero_division: float,
) -> np.ndarray:
    if metric == "precision":
        numerator, denominator = tp, predicted
    elif metric == "recall":
        numerator, denominator = tp, support
    else:
        b2 = beta * beta
        numerator = (1 + b2) * tp
        denominator = numerator + b2 * (support - tp) + (predicted - tp)
    safe = np.where(denominator == 0, 1.0, denominator)
    return np.where(denominator == 0, float(zero_division), numerator / safe)


def balanced_accuracy_score(y_true: Any, y_pred: Any, *, sample_weight: Any = None) -> float:
    """Return the mean recall over the classes present in y_true."""
    true_codes, pred_codes, found = encode(y_true, y_pred)
    weights = as_weights(sample_weight, true_codes.size)
    matrix = _matrix(true_codes, pred_codes, found.size, weights).astype(np.float64)
    support = matrix.sum(axis=1)
    present = support > 0
    return float(np.mean(np.diag(matrix)[present] / support[present]))


def matthews_corrcoef(y_true: Any, y_pred: Any, *, sample_weight: Any = None) -> float:
    """Return the (multiclass) Matthews correlation coefficient; 0.0 when undefined."""
    true_codes, pred_codes, found = encode(y_true, y_pred)
    weights = as_weights(sample_weight, true_codes.size)
    matrix = _matrix(true_codes, pred_codes, found.size, weights).astype(np.float64)
    true_sums, pred_sums = matrix.sum(axis=1), matrix.sum(axis=0)
    n = pred_sums.sum()
    cov_ytyp = np.trace(matrix) * n - true_sums @ pred_sums
    cov_ypyp = n * n - pred_sums @ pred_sums
    cov_ytyt = n * n - true_sums @ true_sums
    if cov_ypyp * cov_ytyt == 0:
        return 0.0
    return float(cov_ytyp / math.sqrt(cov_ytyt * cov_ypyp))


def cohen_kappa_score(
    y_true: Any, y_pred: Any, *, labels: Any = None, sample_weight: Any = None
) -> float:
    """Return Cohen's kappa, agreement beyond chance; NaN when chance agreement is total."""
    true_codes, pred_codes, found = encode(y_true, y_pred, labels)
    weights = as_weights(sample_weight, true_codes.size)
    matrix = _matrix(true_codes, pred_codes, found.size, weights).astype(np.float64)
    expected = np.outer(matrix.sum(axis=1), matrix.sum(axis=0)) / matrix.sum()
    off_diagonal = 1.0 - np.eye(found.size)
    denominator = float((off_diagonal * expected).sum())
    if denominator == 0:
        return float("nan")
    return 1.0 - float((off_diagonal * matrix).sum()) / denominator


def top_k_accuracy_score(
    y_true: Any, y_score: Any, *, k: int = 2, labels: Any = None, sample_weight: Any = None
) -> float:
    """Return the share of rows whose true class is among the k highest-scored classes."""
    scores = as_matrix(y_score, "y_score")
    codes, _ = _class_codes(y_true, scores, labels)
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise InvalidInput(f"k must be a positive integer, got {k!r}")
    weights = as_weights(sample_weight, codes.size)
    if k >= scores.shape[1]:
        return 1.0
    # Among equal scores the later column ranks higher, exactly as scikit-learn's stable argsort.
    top = np.argsort(scores, axis=1, kind="stable")[:, ::-1][:, :k]
    hits = (top == codes[:, None]).any(axis=1)
    return float(np.average(hits, weights=weights))


def log_loss(y_true: Any, y_prob: Any, *, labels: Any = None, sample_weight: Any = None) -> float:
    """Return the cross-entropy of predicted probabilities (1-D: of the greater label)."""
    if np.ndim(y_prob) == 1 or (np.ndim(y_prob) == 2 and np.shape(y_prob)[1] == 1):
        prob = as_float(y_prob, "y_prob")
        y = as_array(y_true, "y_true")
        _refuse_missing(y, "y_true")
        found = np.unique(y) if labels is None else np.unique(np.asarray(labels))
        if found.size != 2:
            raise InvalidInput(
                f"y_prob has one column, the probability of the greater of two classes, but "
                f"{found.size} classes are known ({found[:5].tolist()}); pass labels=[negative, "
                "positive] or one probability column per class"
            )
        positive = y == found[1]
        weights = as_weights(sample_weight, same_length(y_true=y, y_prob=prob))
        _check_probability_range(prob)
        return binary_log_loss(positive, prob, weights)
    scores = as_matrix(y_prob, "y_prob")
    codes, _ = _class_codes(y_true, scores, labels)
    weights = as_weights(sample_weight, codes.size)
    _check_probability_range(scores)
    sums = scores.sum(axis=1)
    if not np.allclose(sums, 1.0, rtol=np.sqrt(np.finfo(np.float64).eps)):
        row = int(np.flatnonzero(~np.isclose(sums, 1.0, rtol=1e-8))[0])
        raise InvalidInput(
            f"y_prob rows must sum to 1; row {row} sums to {plain(sums[row])!r}; pass predict_proba output"
        )
    eps = np.finfo(np.float64).eps
    chosen = np.clip(scores[np.arange(codes.size), codes], eps, 1 - eps)
    return float(-np.average(np.log(chosen), weights=weights))


def roc_auc_ovr_score(
    y_true: Any,
    y_prob: Any,
    *,
    labels: Any = None,
    average: str = "macro",
    sample_weight: Any = None,
) -> float:
    """Return the one-vs-rest ROC AUC averaged over classes ("macro" or "weighted")."""
    from perennia.evaluate.metrics.curves import ScoreRanking

    if average not in ("macro", "weighted"):
        raise InvalidInput(f"average must be 'macro' or 'weighted', got {average!r}")
    scores = as_matrix(y_prob, "y_prob")
    codes, found = _class_codes(y_true, scores, labels)
    weights = as_weights(sample_weight, codes.size)
    areas, prevalence = [], []
    for column in range(found.size):
        is_class = codes == column
        ranking = ScoreRanking.from_arrays(is_class, scores[:, column], weights)
        areas.append(ranking.roc_auc())
        prevalence.append(ranking.positives)
    if average == "weighted":
        return float(np.average(areas, weights=prevalence))
    return float(np.mean(areas))


def _class_codes(y_true: Any, scores: np.ndarray, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    """Return (class index of each row, the class of each score column)."""
    y = as_array(y_true, "y_true")
    same_length(y_true=y, y_score=scores)
    _refuse_missing(y, "y_true")
    found = np.unique(y) if labels is None else np.asarray(labels)
    if found.size != scores.shape[1]:
        raise InvalidInput(
            f"y_score has {scores.shape[1]} columns but {found.size} classes are known "
            f"({found[:5].tolist()}); pass labels= naming the class of each column"
        )
    sorter = np.argsort(found)
    position = sorter[np.searchsorted(found, y, sorter=sorter).clip(0, found.size - 1)]
    unknown = found[position] != y
    if unknown.any():
        row = int(np.flatnonzero(unknown)[0])
        raise InvalidInput(
            f"y_true[{row}] = {plain(y[row])!r} is not one of the labels {found[:5].tolist()}"
        )
    return position, found


def _check_probability_range(prob: np.ndarray) -> None:
    if prob.min() < 0 or prob.max() > 1:
        raise InvalidInput(
            "y_prob must be probabilities in [0, 1]; use predict_proba, not decision_function"
        )


def _refuse_missing(values: np.ndarray, name: str) -> None:
    if values.dtype.kind == "f" and np.isnan(values).any():
        row = int(np.flatnonzero(np.isnan(values))[0])
        raise InvalidInput(f"{name} holds NaN at row {row}; drop rows without a label first")
    if values.dtype == object:
        missing = np.array([v is None or v != v for v in values[:1_000_000]])
        if missing.any():
            row = int(np.flatnonzero(missing)[0])
            raise InvalidInput(f"{name} holds a missing label at row {row}; drop such rows first")
