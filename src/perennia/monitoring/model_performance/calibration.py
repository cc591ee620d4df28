"""Score calibration for confidence-based estimation: isotonic, and only when it helps.

CBPE reads a score p as "this row is positive with probability p", so scores must be
calibrated. Like NannyML we calibrate when the reference says it is needed, but we decide
with a proper scoring rule rather than a binned calibration error: isotonic regression is
cross-fitted on the reference (each fold's scores mapped by a calibrator fitted on the other
folds) and kept only if its out-of-fold Brier score beats the raw scores'. Calibrated scores
lose that comparison (isotonic's steps only add noise), so they are used as they are;
miscalibrated ones win it by a margin. "always" and "never" skip the decision.

Multiclass scores are calibrated one class against the rest, then each row is renormalised
to sum to 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from perennia.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np

MODES = ("auto", "always", "never")


@dataclass(frozen=True)
class ScoreCalibrator:
    """The fitted mapping from raw scores to probabilities (identity when not applied)."""

    applied: bool
    reason: str
    models: tuple[Any, ...] = ()  # one isotonic regression per score column
    brier_raw: float | None = None  # out-of-fold, on the reference ("auto" only)
    brier_calibrated: float | None = None

    def transform(self, scores: np.ndarray) -> np.ndarray:
        """Return calibrated probabilities for an (n,) or (n, k) array of raw scores."""
        if not self.applied:
            return scores
        return _apply(self.models, scores)

    def to_dict(self) -> dict[str, Any]:
        """Return whether calibration is applied, why, and the Brier scores behind the choice."""
        return {
            "applied": self.applied,
            "reason": self.reason,
            "brier_raw": self.brier_raw,
            "brier_calibrated": self.brier_calibrated,
        }


def fit_calibrator(
    truth: np.ndarray, scores: np.ndarray, *, mode: str = "auto", folds: int = 5, seed: int = 0
) -> ScoreCalibrator:
    """Return a calibrator for scores (n,) against bool truth (n,), or (n, k) against (n, k)."""
    import numpy as np

    if mode not in MODES:
        raise InvalidInput(f"calibration={mode!r} is not one of {', '.join(MODES)}")
    if mode == "never":
        return ScoreCalibrator(False, "calibration='never'")
    if mode == "always":
        return ScoreCalibrator(True, "calibration='always'", _fit(truth, scores))
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise InvalidInput(f"folds={folds!r} must be an integer of at least 2")
    if truth.shape[0] < 2 * folds:
        raise InvalidInput(
            f"the reference has {truth.shape[0]} rows; deciding on calibration needs at least"
            f" {2 * folds}: give a longer reference or calibration='never'"
        )
    fold_of = np.random.default_rng(seed).permutation(truth.shape[0]) % folds
    out_of_fold = np.empty(scores.shape, dtype=np.float64)
    for fold in range(folds):
        held = fold_of == fold
        out_of_fold[held] = _apply(_fit(truth[~held], scores[~held]), scores[held])
    raw, calibrated = _brier(truth, scores), _brier(truth, out_of_fold)
    if calibrated < raw:
        reason = "isotonic calibration lowered the reference's out-of-fold Brier score"
        return ScoreCalibrator(True, reason, _fit(truth, scores), raw, calibrated)
    reason = "the raw scores were at least as well calibrated on the reference"
    return ScoreCalibrator(False, reason, (), raw, calibrated)


def _fit(truth: np.ndarray, scores: np.ndarray) -> tuple[Any, ...]:
    import numpy as np
    from sklearn.isotonic import IsotonicRegression

    truth2, scores2 = truth.reshape(len(truth), -1), scores.reshape(len(scores), -1)
    models = []
    for column in range(scores2.shape[1]):
        model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        models.append(model.fit(scores2[:, column], truth2[:, column].astype(np.float64)))
    return tuple(models)


def _apply(models: tuple[Any, ...], scores: np.ndarray) -> np.ndarray:
    import numpy as np

    if scores.ndim == 1:
        return np.clip(models[0].predict(scores), 0.0, 1.0)
    columns = [model.predict(scores[:, c]) for c, model in enumerate(models)]
    calibrated = np.clip(np.column_stack(columns), 0.0, 1.0)
    sums = calibrated.sum(axis=1, keepdims=True)
    # A row every calibrator sends to 0 keeps its raw scores rather than becoming 0/0.
    return np.where(sums > 0, calibrated / np.where(sums > 0, sums, 1.0), scores)


def _brier(truth: np.ndarray, prob: np.ndarray) -> float:
    import numpy as np

    error = prob - truth
    return float(np.mean(np.sum((error * error).reshape(len(error), -1), axis=1)))
