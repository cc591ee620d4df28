"""The context every robustness check runs in: the model, its inputs and the targets, and how
one perturbed copy of the inputs is predicted, scored against the baseline and turned into a
row shaped like `ROW_KEYS` of `perennia.evaluate.robustness_checks`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from perennia.errors import InvalidInput
from perennia.evaluate import inputs as io
from perennia.evaluate import tasks
from perennia.evaluate.metrics._validation import as_float

LOWER_IS_BETTER = frozenset(
    {"mse", "rmse", "mae", "median_ae", "mape", "smape", "wmape", "max_error"}
    | {"log_loss", "brier_score"}
)
DETAIL_CHARS = 200


class _NonFinite(Exception):
    """The model returned NaN or infinite predictions: a degradation, not a crash."""


@dataclass
class _Context:
    """The model's inputs, the validated targets, and how to score one prediction."""

    model: Any
    frame: Any  # pandas DataFrame of the model's input columns
    as_numpy: bool  # the caller passed a numpy array, so the model is fed one
    task: str
    metric: str
    y: np.ndarray
    weights: np.ndarray | None
    threshold: float
    columns: list[str]  # the columns perturbed, a subset of the frame's
    tolerance: float
    n_repeats: int
    noise_scale: float
    missing_rate: float
    baseline: float = math.nan
    higher_is_better: bool = True

    def measure_baseline(self) -> None:
        """Set the baseline metric from the unperturbed data, checking the metric exists."""
        try:
            found = self.metrics(self.predict(self.frame))
        except _NonFinite as exc:
            raise InvalidInput(
                f"{exc} on the unperturbed data; robustness needs a baseline"
            ) from None
        if not isinstance(self.metric, str) or self.metric not in found:
            raise InvalidInput(
                f"metric={self.metric!r} is not computed for task={self.task!r} with these "
                f"predictions; choose one of {', '.join(sorted(found))}"
            )
        self.baseline = float(found[self.metric])
        self.higher_is_better = self.metric not in LOWER_IS_BETTER

    def predict(self, frame: Any) -> io.Predictions:
        """Return the model's predictions on `frame` (as numpy when the caller gave numpy)."""
        given = frame.to_numpy() if self.as_numpy else frame
        return io.predict(self.model, given, self.task, ())

    def metrics(self, predictions: io.Predictions) -> dict[str, float]:
        """Return the task's headline metrics of `predictions` against the targets."""
        values = predictions.values
        if values.shape[0] != self.y.size:
            raise InvalidInput(
                f"the model gave {values.shape[0]} predictions for {self.y.size} rows"
            )
        if values.dtype.kind in "fc" and not np.isfinite(values).all():
            bad = int((~np.isfinite(values.reshape(values.shape[0], -1))).any(axis=1).sum())
            raise _NonFinite(f"the model returned non-finite predictions for {bad} rows")
        labels = None
        if self.task == "binary":
            values = as_float(values, "predictions", allow_inf=True)
        elif self.task == "regression":
            values = as_float(values, "predictions")
        elif values.ndim == 2:
            labels = predictions.classes
            # headline_metrics indexes labels by argmax; a bare callable gives no classes_.
            labels = np.unique(self.y) if labels is None else labels
        return tasks.headline_metrics(
            self.task, self.y, values, self.weights, threshold=self.threshold, labels=labels
        )

    def score(self, frame: Any) -> float:
        """Return the watched metric of the model's predictions on `frame` (NaN if undefined)."""
        return float(self.metrics(self.predict(frame)).get(self.metric, math.nan))

    def degradation(self, value: float) -> float:
        """Return how much worse `value` is than the baseline (positive = worse)."""
        return self.baseline - value if self.higher_is_better else value - self.baseline

    def measure(self, check: str, target: str, frames: Iterable[Any], detail: str) -> dict:
        """Return the row for one perturbation: the metric averaged over `frames`."""
        try:
            with warnings.catch_warnings(record=True) as caught:
                # Perturbations provoke warnings on purpose; they belong in the row.
                warnings.simplefilter("always")
                values = [self.score(frame) for frame in frames]
        except _NonFinite as exc:
            return self.row(check, target, "degraded", f"{detail}; {exc}")
        except Exception as exc:  # any model failure is a finding, not a crash
            return self.row(check, target, "error", _describe(exc))
        value = float(np.mean(values))
        change = self.degradation(value)
        if len(values) > 1:
            spread = float(np.std([self.degradation(v) for v in values]))
            detail = f"{detail} {change:.4g} ± {spread:.2g} over {len(values)} repeats"
        if caught:
            detail = f"{detail}; warned: {caught[0].message}"
        status = "degraded" if change > self.tolerance else "ok"
        if not math.isfinite(value):
            status = "degraded" if math.isfinite(self.baseline) else "ok"
        return self.row(check, target, status, detail, value, change)

    def row(
        self,
        check: str,
        target: str,
        status: str,
        detail: str,
        value: float | None = None,
        change: float | None = None,
    ) -> dict[str, Any]:
        """Return one finding as a dict with exactly the keys of `ROW_KEYS`."""
        return {
            "check": check,
            "target": target,
            "metric": self.metric,
            "baseline": self.baseline,
            "value": value,
            "change": change,
            "status": status,
            "detail": _one_line(detail),
        }

    def numeric(self) -> list[str]:
        """Return the perturbed columns holding numbers (booleans excluded)."""
        return [c for c in self.columns if _is_numeric(self.frame[c])]

    def share(self, rng: np.random.Generator) -> np.ndarray:
        """Return sorted positions of a `missing_rate` share of the rows (at least one)."""
        n = len(self.frame)
        count = min(n, max(1, round(self.missing_rate * n)))
        return np.sort(rng.choice(n, count, replace=False))


def _is_numeric(column: Any) -> bool:
    import pandas as pd

    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def _describe(exc: BaseException) -> str:
    return _one_line(f"{type(exc).__name__}: {exc}")


def _one_line(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= DETAIL_CHARS else text[: DETAIL_CHARS - 1] + "…"
