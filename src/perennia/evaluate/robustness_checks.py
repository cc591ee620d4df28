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
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from perennia._util import tables
from perennia.errors import InvalidInput
from perennia.evaluate import inputs as io
from perennia.evaluate import tasks
from perennia.evaluate.metrics._validation import as_array, as_binary, as_float, as_weights
from perennia.evaluate.result import _json_ready

CHECKS = (
    "gaussian_noise",
    "missing_values",
    "unseen_categories",
    "permutation",
    "extreme_values",
    "edge_cases",
)
DEFAULT_METRICS = {"binary": "roc_auc", "multiclass": "accuracy", "regression": "rmse"}
LOWER_IS_BETTER = frozenset(
    {"mse", "rmse", "mae", "median_ae", "mape", "smape", "wmape", "max_error"}
    | {"log_loss", "brier_score"}
)
ROW_KEYS = ("check", "target", "metric", "baseline", "value", "change", "status", "detail")
UNSEEN = "__unseen__"
ALL_NUMERIC = "all numeric"
DETAIL_CHARS = 200


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


def _is_numeric(column: Any) -> bool:
    import pandas as pd

    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def _is_text(column: Any) -> bool:
    import pandas as pd

    dtype = column.dtype
    return isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(dtype)


def _floats(column: Any) -> np.ndarray:
    return column.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)


def _with_values(column: Any, rows: Any, value: Any) -> Any:
    """Return a copy of `column` with `value` at positions `rows`, keeping its kind of dtype."""
    import pandas as pd

    missing = value is None or (isinstance(value, float) and math.isnan(value))
    if isinstance(column.dtype, pd.CategoricalDtype):
        out = column.copy()
        if not missing and value not in out.cat.categories:
            out = out.cat.add_categories([value])
        out.iloc[rows] = np.nan if missing else value
        return out
    if _is_numeric(column) and (missing or isinstance(value, int | float | np.number)):
        array = _floats(column)
        array[rows] = np.nan if missing else value
        return pd.Series(array, index=column.index, name=column.name)
    if isinstance(column.dtype, pd.StringDtype):
        out = column.copy()
        out.iloc[rows] = column.dtype.na_value if missing else value
        return out
    array = column.to_numpy(dtype=object, copy=True)
    array[rows] = None if missing else value
    return pd.Series(array, index=column.index, name=column.name)


def _replaced(frame: Any, name: str, column: Any) -> Any:
    """Return a copy of `frame` with one column replaced (the other columns are shared)."""
    out = frame.copy(deep=False)
    out[name] = column
    return out


def _gaussian_noise(ctx: _Context, rng: np.random.Generator) -> list[dict]:
    numeric = ctx.numeric()
    if not numeric:
        return [ctx.row("gaussian_noise", ALL_NUMERIC, "skipped", "no numeric feature")]
    rows, noisy = [], {}
    for name in numeric:
        values = _floats(ctx.frame[name])
        sd = ctx.noise_scale * float(np.nanstd(values)) if not np.isnan(values).all() else 0.0
        noisy[name] = values + rng.normal(0.0, 1.0, values.size) * sd
        detail = f"noise sd {sd:.4g} ({ctx.noise_scale:g} × column sd)"
        frame = _replaced(ctx.frame, name, noisy[name])
        rows.append(ctx.measure("gaussian_noise", name, [frame], detail))
    everything = ctx.frame.copy(deep=False)
    for name, values in noisy.items():
        everything[name] = values
    detail = f"noise on {len(noisy)} columns at {ctx.noise_scale:g} × column sd"
    rows.append(ctx.measure("gaussian_noise", ALL_NUMERIC, [everything], detail))
    return rows


def _missing_values(ctx: _Context, rng: np.random.Generator) -> list[dict]:
    rows = []
    for name in ctx.columns:
        where = ctx.share(rng)
        frame = _replaced(ctx.frame, name, _with_values(ctx.frame[name], where, None))
        detail = f"{where.size} of {len(ctx.frame)} rows set to missing"
        rows.append(ctx.measure("missing_values", name, [frame], detail))
    return rows


def _unseen_categories(ctx: _Context, rng: np.random.Generator) -> list[dict]:
    text = [c for c in ctx.columns if _is_text(ctx.frame[c])]
    if not text:
        reason = "no object, category or string feature to put an unseen category in"
        return [ctx.row("unseen_categories", "", "skipped", reason)]
    rows = []
    for name in text:
        where = ctx.share(rng)
        frame = _replaced(ctx.frame, name, _with_values(ctx.frame[name], where, UNSEEN))
        detail = f"{where.size} of {len(ctx.frame)} rows set to {UNSEEN!r}"
        rows.append(ctx.measure("unseen_categories", name, [frame], detail))
    return rows


def _permutation(ctx: _Context, rng: np.random.Generator) -> list[dict]:
    rows, n = [], len(ctx.frame)
    for name in ctx.columns:
        column = ctx.frame[name]
        # Drawn lazily so only one shuffled copy is alive at a time.
        frames = (
            _replaced(ctx.frame, name, column.iloc[rng.permutation(n)].set_axis(column.index))
            for _ in range(ctx.n_repeats)
        )
        rows.append(ctx.measure("permutation", name, frames, "permutation importance"))
    return rows


def _extreme_values(ctx: _Context, rng: np.random.Generator) -> list[dict]:
    numeric = ctx.numeric()
    if not numeric:
        return [ctx.row("extreme_values", "", "skipped", "no numeric feature")]
    rows = []
    for name in numeric:
        values = _floats(ctx.frame[name])
        if not np.isfinite(values).any():
            rows.append(ctx.row("extreme_values", name, "skipped", "no finite value"))
            continue
        low, high = float(np.nanmin(values)), float(np.nanmax(values))
        # max × 10 is only beyond the range when max > 0; otherwise step ten spans past it.
        top = high * 10 if high > 0 else high + 10 * max(high - low, 1.0)
        where = ctx.share(rng)
        values[where] = top
        detail = f"{where.size} rows set to {top:.4g} (max {high:.4g})"
        if low < 0:
            below = where[1::2]
            values[below] = low * 10
            detail = f"{where.size - below.size} rows set to {top:.4g} (max {high:.4g}), "
            detail += f"{below.size} to {low * 10:.4g} (min {low:.4g})"
        frame = _replaced(ctx.frame, name, values)
        rows.append(ctx.measure("extreme_values", name, [frame], detail))
    return rows


EDGE_CASES = ("all zeros", "column maxima", "column minima", "empty strings", "all missing")


def _edge_cases(ctx: _Context, rng: np.random.Generator) -> list[dict]:
    numeric = set(ctx.numeric())
    text = {c for c in ctx.columns if c not in numeric and _is_text(ctx.frame[c])}
    rows = []
    for case in EDGE_CASES:
        if case == "empty strings" and not text:
            rows.append(_edge_row(ctx, case, "skipped", "no text feature"))
            continue
        single = ctx.frame.iloc[[0]]
        for name in ctx.columns:
            value = _edge_value(case, ctx.frame[name], name in numeric, name in text)
            single = _replaced(single, name, _with_values(single[name], [0], value))
        rows.append(_predict_one(ctx, case, single))
    return rows


def _edge_value(case: str, column: Any, numeric: bool, text: bool) -> Any:
    """Return the value `column` takes in the edge-case row `case`."""
    if case == "all missing":
        return None
    if case == "empty strings":
        # Only text goes empty; the rest stays typical so the row isolates that one change.
        return "" if text else _typical(column, numeric)
    if not numeric:
        return _mode(column)
    values = _floats(column)
    finite = values[np.isfinite(values)]
    if case == "all zeros" or not finite.size:
        return 0.0
    return float(finite.max() if case == "column maxima" else finite.min())


def _predict_one(ctx: _Context, target: str, single: Any) -> dict[str, Any]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            output = np.asarray(ctx.predict(single).values)
    except Exception as exc:  # any model failure is a finding, not a crash
        return _edge_row(ctx, target, "error", _describe(exc))
    shown = np.array2string(output.ravel()[:10], precision=4, separator=", ")
    if output.dtype.kind in "fc" and not np.isfinite(output).all():
        return _edge_row(ctx, target, "degraded", f"non-finite prediction {shown}")
    return _edge_row(ctx, target, "ok", f"prediction {shown}")


def _edge_row(ctx: _Context, target: str, status: str, detail: str) -> dict[str, Any]:
    row = ctx.row("edge_cases", target, status, detail)
    row.update(metric=None, baseline=None)
    return row


def _mode(column: Any) -> Any:
    found = column.mode(dropna=True)
    return found.iloc[0] if len(found) else None


def _typical(column: Any, numeric: bool) -> Any:
    if not numeric:
        return _mode(column)
    values = _floats(column)
    return float(np.nanmedian(values)) if np.isfinite(values).any() else None


def _describe(exc: BaseException) -> str:
    return _one_line(f"{type(exc).__name__}: {exc}")


def _one_line(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= DETAIL_CHARS else text[: DETAIL_CHARS - 1] + "…"


_RUNNERS: dict[str, Callable[[_Context, np.random.Generator], list[dict]]] = {
    "gaussian_noise": _gaussian_noise,
    "missing_values": _missing_values,
    "unseen_categories": _unseen_categories,
    "permutation": _permutation,
    "extreme_values": _extreme_values,
    "edge_cases": _edge_cases,
}
