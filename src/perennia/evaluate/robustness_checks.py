"""`robustness()`: how a model's metric moves when its inputs are perturbed, check by check.

Each check copies the model's input columns, perturbs them (noise, missing values, unseen
categories, shuffles, out-of-range values) and predicts once per perturbation on the full
data; `edge_cases` predicts on hand-built single rows. Each finding is one row shaped like
`EvaluationResult.robustness`: {check, target, metric, baseline, value, change, status,
detail}. `change` is the signed degradation (positive = worse, whichever way the metric
points); a model that raises gives status "error" with its message instead of propagating.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from perennia._util import tables
from perennia.errors import InvalidInput
from perennia.evaluate import inputs as io
from perennia.evaluate.metrics._validation import as_array, as_binary, as_float, as_weights
from perennia.evaluate.result import _json_ready
from perennia.evaluate.robustness_context import _Context
from perennia.evaluate.robustness_perturbations import _RUNNERS

CHECKS = (
    "gaussian_noise",
    "missing_values",
    "unseen_categories",
    "permutation",
    "extreme_values",
    "edge_cases",
)
DEFAULT_METRICS = {"binary": "roc_auc", "multiclass": "accuracy", "regression": "rmse"}
ROW_KEYS = ("check", "target", "metric", "baseline", "value", "change", "status", "detail")


@dataclass
class RobustnessReport:
    """The watched metric, its value on the unperturbed data, and one row per finding."""

    metric: str
    baseline: float
    rows: list[dict[str, Any]] = field(default_factory=list)
    higher_is_better: bool = True
    task: str = "binary"

    def to_frame(self):
        """Return the rows as a pandas DataFrame with the columns of `ROW_KEYS`."""
        import pandas as pd

        return pd.DataFrame(self.rows, columns=list(ROW_KEYS))

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready plain data (NaN and infinities become None)."""
        keys = ("task", "metric", "higher_is_better", "baseline", "rows")
        return _json_ready({key: getattr(self, key) for key in keys})

    def worst(self, n: int = 5) -> list[dict[str, Any]]:
        """Return the `n` worst rows: errors, then degradations, largest change first."""
        rank = {"error": 0, "degraded": 1, "ok": 2, "skipped": 3}

        def key(row: dict[str, Any]) -> tuple[int, float]:
            change = row["change"]
            finite = change is not None and math.isfinite(change)
            return rank.get(row["status"], 4), -change if finite else math.inf

        return sorted(self.rows, key=key)[:n]


def robustness(
    model: Any,
    data: Any,
    targets: Any,
    *,
    task: str = "binary",
    checks: Sequence[str] | str | None = None,
    metric: str | None = None,
    features: Sequence[str] | None = None,
    n_repeats: int = 3,
    noise_scale: float = 0.1,
    missing_rate: float = 0.1,
    tolerance: float = 0.01,
    seed: int = 0,
    sample_weight: Any = None,
    threshold: float = 0.5,
    pos_label: Any = 1,
) -> RobustnessReport:
    """Return a RobustnessReport: how `metric` changes under each perturbation of `data`.

    `model`: a fitted estimator (predict/predict_proba) or a callable. `data`: a pandas or
    polars DataFrame, a pyarrow Table, a dict of columns, or a 2-D numpy array (columns named
    x0, x1, ...). `targets` and `sample_weight`: column names of `data` or arrays. `checks`:
    names from `CHECKS` (default all). `features`: the columns to perturb (default every model input).
    `missing_rate` is the share of rows each missing-value, unseen-category and
    extreme-value perturbation touches. A row is "degraded" when its change exceeds
    `tolerance`. The model raising on the unperturbed data is not caught.
    """
    names = _check_names(checks)
    io.check_task(task)
    if task not in DEFAULT_METRICS:
        raise InvalidInput(
            f"robustness supports task {', '.join(DEFAULT_METRICS)}; got {task!r} "
            "(ranking needs query groups a perturbation would not keep)"
        )
    _check_settings(n_repeats, noise_scale, missing_rate, tolerance)
    if not callable(model) and not hasattr(model, "predict"):
        raise InvalidInput("model must have predict (or predict_proba) or be callable")
    frame, as_numpy = _as_pandas(data)
    y_true = as_array(io.column(frame, targets, "targets"), "targets")
    inputs = io.features(
        frame, model, [v for v in (targets, sample_weight) if io.is_column_name(v)]
    )
    raw = None if sample_weight is None else io.column(frame, sample_weight, "sample_weight")
    ctx = _Context(
        model,
        inputs,
        as_numpy,
        task,
        DEFAULT_METRICS[task] if metric is None else metric,
        _targets(y_true, task, pos_label),
        as_weights(raw, y_true.size),
        threshold,
        _perturbed_columns(inputs, features),
        tolerance,
        n_repeats,
        noise_scale,
        missing_rate,
    )
    ctx.measure_baseline()
    rows: list[dict[str, Any]] = []
    for name in names:
        # One stream per check, so a check gives the same rows whichever others run with it.
        rng = np.random.default_rng([seed, CHECKS.index(name)])
        rows += _RUNNERS[name](ctx, rng)
    return RobustnessReport(ctx.metric, ctx.baseline, rows, ctx.higher_is_better, task)


def _check_names(checks: Sequence[str] | str | None) -> list[str]:
    if checks is None:
        return list(CHECKS)
    wanted = [checks] if isinstance(checks, str) else list(checks)
    unknown = [name for name in wanted if name not in CHECKS]
    if unknown:
        raise InvalidInput(f"unknown robustness check {unknown[0]!r}; known: {', '.join(CHECKS)}")
    return list(dict.fromkeys(wanted))


def _check_settings(n_repeats: int, noise_scale: float, rate: float, tolerance: float) -> None:
    if not isinstance(n_repeats, numbers.Integral) or n_repeats < 1:
        raise InvalidInput(f"n_repeats must be an integer >= 1, got {n_repeats!r}")
    if not noise_scale > 0:
        raise InvalidInput(f"noise_scale must be > 0, got {noise_scale!r}")
    if not 0 < rate <= 1:
        raise InvalidInput(f"missing_rate must be in (0, 1], got {rate!r}")
    if not tolerance >= 0:
        raise InvalidInput(f"tolerance must be >= 0, got {tolerance!r}")


def _targets(y_true: np.ndarray, task: str, pos_label: Any) -> np.ndarray:
    if task == "binary":
        return as_binary(y_true, "targets", pos_label=pos_label)
    return as_float(y_true, "targets") if task == "regression" else y_true


def _as_pandas(data: Any) -> tuple[Any, bool]:
    """Return `data` as a pandas DataFrame, and whether it came as an array (x0, x1, ...)."""
    if data is None:
        raise InvalidInput("data is missing; pass a DataFrame or a 2-D array of features")
    try:
        frame = tables.to_pandas(data, "data")
    except (TypeError, ValueError) as exc:
        raise InvalidInput(str(exc)) from None
    return frame, not (tables.is_table(data) or isinstance(data, Mapping))


def _perturbed_columns(frame: Any, features: Sequence[str] | None) -> list[str]:
    names = [str(c) for c in frame.columns]
    if features is None:
        return names
    wanted = [features] if isinstance(features, str) else [str(c) for c in features]
    unknown = [c for c in wanted if c not in names]
    if unknown:
        raise InvalidInput(f"features {unknown} are not model inputs; inputs: {', '.join(names)}")
    return wanted
