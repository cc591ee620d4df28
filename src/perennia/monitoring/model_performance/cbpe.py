"""Confidence-based performance estimation (CBPE, after NannyML): metrics before labels arrive.

If a calibrated score p says "positive with probability p", a row predicted positive is a
true positive with probability p and a false positive with probability 1 - p; a row predicted
negative is a false negative with probability p and a true negative with 1 - p. Summing over a
window gives the expected confusion matrix, and every label metric follows from it (through
the same `BinaryCounts` formulas the realised metrics use). ROC AUC is estimated the same way:
each row counts as p of a positive and 1 - p of a negative at its raw score, and the area is
that weighted ranking's, so the ranking is the model's own (calibration's ties do not blur it).

The estimate is right when P(label | score) is the same in the window as in the reference:
covariate shift (the scores' distribution moves, the class balance with it) is fine; concept
drift (the same score now means something else) is invisible to any label-free method.
Scores are calibrated on the reference first (see `calibration`). Multiclass models are
estimated one class against the rest, with macro averages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from perennia.errors import InvalidInput
from perennia.monitoring.model_performance.calibration import ScoreCalibrator, fit_calibrator
from perennia.monitoring.model_performance.realised import count_metrics
from perennia.monitoring.model_performance.result import Metric

if TYPE_CHECKING:
    import numpy as np

    from perennia.evaluate.metrics.binary import BinaryCounts

BINARY = ("accuracy", "precision", "recall", "specificity", "f1", "roc_auc")
MULTICLASS = ("accuracy", "precision_macro", "recall_macro", "f1_macro", "roc_auc_ovr")
EMPTY = "no predictions in the window"


class CBPE:
    """Estimates a binary classifier's metrics from its scores, after fitting on a reference."""

    def __init__(
        self, *, threshold: float = 0.5, calibration: str = "auto", folds: int = 5, seed: int = 0
    ) -> None:
        if isinstance(threshold, bool) or not isinstance(threshold, int | float):
            raise InvalidInput(f"threshold={threshold!r} must be a probability between 0 and 1")
        if not 0.0 <= threshold <= 1.0:
            raise InvalidInput(f"threshold={threshold!r} must be a probability between 0 and 1")
        self.threshold = float(threshold)
        self.calibration = calibration
        self.folds = folds
        self.seed = seed
        self.calibrator_: ScoreCalibrator | None = None

    def fit(self, y_true: Any, y_score: Any, *, pos_label: Any = 1) -> CBPE:
        """Return self, with the score calibration decided and fitted on labelled reference rows."""
        from perennia.evaluate.metrics._validation import as_binary, same_length

        y = as_binary(y_true, "y_true", pos_label=pos_label)
        score = _probabilities(y_score, "y_score")
        same_length(y_true=y, y_score=score)
        if y.all() or not y.any():
            raise InvalidInput(
                "y_true of the reference holds one class only; CBPE needs both to calibrate"
            )
        self.calibrator_ = fit_calibrator(
            y, score, mode=self.calibration, folds=self.folds, seed=self.seed
        )
        return self

    def calibrated(self, y_score: Any) -> np.ndarray:
        """Return the probabilities CBPE reads for the scores (the scores when not calibrated)."""
        return self._calibrator().transform(_probabilities(y_score, "y_score"))

    def expected_counts(self, y_score: Any, *, y_pred: Any = None) -> BinaryCounts:
        """Return the expected true/false positives/negatives of the rows with these scores."""
        from perennia.evaluate.metrics.binary import BinaryCounts

        score = _probabilities(y_score, "y_score")
        predicted = self._predicted(score, y_pred)
        p = self._calibrator().transform(score)
        return _expected(BinaryCounts, p, predicted)

    def estimate(
        self, y_score: Any, *, y_pred: Any = None, metrics: tuple[str, ...] = BINARY
    ) -> dict[str, Metric]:
        """Return each estimated metric on the rows (not computable on an empty window)."""
        from perennia.evaluate.metrics.binary import BinaryCounts

        _check_metrics(metrics, BINARY)
        if _size(y_score) == 0:
            return {name: Metric.missing(EMPTY) for name in metrics}
        score = _probabilities(y_score, "y_score")
        predicted = self._predicted(score, y_pred)
        p = self._calibrator().transform(score)
        out = count_metrics(_expected(BinaryCounts, p, predicted), metrics)
        if "roc_auc" in metrics:
            out["roc_auc"] = _expected_auc(score, p)
        return {name: out[name] for name in metrics}

    def _predicted(self, score: np.ndarray, y_pred: Any) -> np.ndarray:
        from perennia.evaluate.metrics._validation import as_array, same_length

        if y_pred is None:
            return score >= self.threshold
        predicted = as_array(y_pred, "y_pred")
        same_length(y_score=score, y_pred=predicted)
        if predicted.dtype != bool:
            raise InvalidInput("y_pred must be bool (True = predicted positive) for CBPE")
        return predicted

    def _calibrator(self) -> ScoreCalibrator:
        if self.calibrator_ is None:
            raise InvalidInput("this CBPE is not fitted; call fit(y_true, y_score) on a reference")
        return self.calibrator_


class MulticlassCBPE:
    """CBPE for a multiclass classifier: each class against the rest, macro-averaged."""

    def __init__(self, *, calibration: str = "auto", folds: int = 5, seed: int = 0) -> None:
        self.calibration = calibration
        self.folds = folds
        self.seed = seed
        self.classes_: np.ndarray | None = None
        self.calibrator_: ScoreCalibrator | None = None

    def fit(self, y_true: Any, y_score: Any, *, classes: Any) -> MulticlassCBPE:
        """Return self, calibrated on reference labels and scores (one column per class)."""
        import numpy as np

        from perennia.evaluate.metrics._validation import as_array, same_length

        found = np.asarray(classes)
        score = _score_matrix(y_score, found.size)
        y = as_array(y_true, "y_true")
        same_length(y_true=y, y_score=score)
        onehot = y[:, None] == found[None, :]
        if not onehot.any(axis=1).all():
            row = int(np.flatnonzero(~onehot.any(axis=1))[0])
            raise InvalidInput(f"y_true[{row}] = {y[row]!r} is not one of classes {found.tolist()}")
        self.classes_ = found
        self.calibrator_ = fit_calibrator(
            onehot, score, mode=self.calibration, folds=self.folds, seed=self.seed
        )
        return self

    def estimate(
        self, y_score: Any, *, y_pred: Any = None, metrics: tuple[str, ...] = MULTICLASS
    ) -> dict[str, Metric]:
        """Return each estimated metric on the rows (not computable on an empty window)."""
        import numpy as np

        from perennia.evaluate.metrics.binary import BinaryCounts

        _check_metrics(metrics, MULTICLASS)
        if self.calibrator_ is None or self.classes_ is None:
            raise InvalidInput("this MulticlassCBPE is not fitted; call fit() on a reference")
        if _size(y_score) == 0:
            return {name: Metric.missing(EMPTY) for name in metrics}
        score = _score_matrix(y_score, self.classes_.size)
        p = self.calibrator_.transform(score)
        chosen = self._chosen(score, y_pred)
        per_class = [
            _expected(BinaryCounts, p[:, c], chosen == c) for c in range(self.classes_.size)
        ]
        averages = {
            "precision_macro": lambda c: c.precision(),
            "recall_macro": lambda c: c.recall(),
            "f1_macro": lambda c: c.fbeta(1.0),
        }
        out = {"accuracy": Metric.of(float(np.mean(p[np.arange(len(p)), chosen])))}
        for name, formula in averages.items():
            out[name] = Metric.of(float(np.mean([formula(c) for c in per_class])))
        if "roc_auc_ovr" in metrics:
            areas = [_expected_auc(score[:, c], p[:, c]) for c in range(self.classes_.size)]
            missing = [a for a in areas if a.value is None]
            out["roc_auc_ovr"] = (
                missing[0] if missing else Metric.of(np.mean([a.value for a in areas]))
            )
        return {name: out[name] for name in metrics}

    def _chosen(self, score: np.ndarray, y_pred: Any) -> np.ndarray:
        """Return the column index of each row's predicted class."""
        import numpy as np

        from perennia.evaluate.metrics._validation import as_array, same_length

        if y_pred is None:
            return np.argmax(score, axis=1)
        predicted = as_array(y_pred, "y_pred")
        same_length(y_score=score, y_pred=predicted)
        matches = predicted[:, None] == self.classes_[None, :]
        if not matches.any(axis=1).all():
            row = int(np.flatnonzero(~matches.any(axis=1))[0])
            raise InvalidInput(
                f"y_pred[{row}] = {predicted[row]!r} is not one of classes {self.classes_.tolist()}"
            )
        return np.argmax(matches, axis=1)


def _expected(counts_type: Any, p: np.ndarray, predicted: np.ndarray) -> BinaryCounts:
    """Return the expected confusion counts of calibrated probabilities and bool predictions."""
    import math

    tp = math.fsum(p[predicted])
    fn = math.fsum(p[~predicted])
    fp = float(predicted.sum()) - tp
    tn = float((~predicted).sum()) - fn
    # Each cell is a sum of values in [0, 1]; a difference rounding below zero is zero.
    return counts_type(tp, max(fp, 0.0), fn, max(tn, 0.0))


def _expected_auc(score: np.ndarray, p: np.ndarray) -> Metric:
    """Return the ROC AUC expected when each row is positive with probability p."""
    import numpy as np

    from perennia.evaluate.metrics.curves import ScoreRanking

    if not p.any():
        return Metric.missing("no row is expected to be positive")
    if (p == 1.0).all():
        return Metric.missing("no row is expected to be negative")
    # Each row twice: as a positive of weight p and a negative of weight 1 - p, same score.
    n = score.size
    truth = np.r_[np.ones(n, dtype=bool), np.zeros(n, dtype=bool)]
    ranking = ScoreRanking.from_arrays(truth, np.r_[score, score], np.r_[p, 1.0 - p])
    return Metric.of(ranking.roc_auc())


def _probabilities(values: Any, name: str) -> np.ndarray:
    from perennia.evaluate.metrics._validation import as_probability

    return as_probability(values, name)


def _score_matrix(values: Any, k: int) -> np.ndarray:
    from perennia.evaluate.metrics._validation import as_matrix

    matrix = as_matrix(values, "y_score")
    if matrix.shape[1] != k:
        raise InvalidInput(f"y_score has {matrix.shape[1]} columns but there are {k} classes")
    if matrix.min() < 0.0 or matrix.max() > 1.0:
        raise InvalidInput("y_score must hold probabilities in [0, 1]; pass predict_proba output")
    return matrix


def _size(values: Any) -> int:
    try:
        return len(values)
    except TypeError:
        raise InvalidInput("y_score must be an array of scores, one per row") from None


def _check_metrics(metrics: tuple[str, ...], offered: tuple[str, ...]) -> None:
    unknown = [m for m in metrics if m not in offered]
    if unknown:
        raise InvalidInput(f"CBPE cannot estimate {unknown}; it estimates {', '.join(offered)}")
