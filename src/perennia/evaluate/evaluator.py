"""`evaluate()`: one model (or its predictions) on one dataset, everything a reviewer asks for.

It predicts once, computes the task's metrics and curves, slices, fairness over the sensitive
features, optional bootstrap intervals, and, when a run is active, logs the metrics (prefixed
by the dataset name), the JSON result and the HTML report to that run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from perennia.errors import InvalidInput
from perennia.evaluate import inputs as io
from perennia.evaluate import tasks
from perennia.evaluate.metrics._validation import as_array, as_weights
from perennia.evaluate.result import EvaluationResult

BOOTSTRAP_METRICS = 1000
EXPLAIN_ROWS = 10_000  # rows permutation importance scores on (each feature costs a predict)


def evaluate(
    model_or_predictions: Any,
    data: Any = None,
    *,
    targets: Any,
    task: str = "binary",
    sensitive_features: Any = None,
    slices: Any = None,
    sample_weight: Any = None,
    threshold: float = 0.5,
    pos_label: Any = 1,
    query_id: Any = None,
    k: int = 10,
    dataset_name: str = "eval",
    model_name: str | None = None,
    bootstrap: int = 0,
    confidence: float = 0.95,
    seed: int = 0,
    n_bins: int = 10,
    cost_matrix: Any = None,
    reference_group: Any = None,
    robustness_checks: bool | Sequence[str] | None = None,
    explain: bool = False,
    log: bool | None = None,
) -> EvaluationResult:
    """Return the evaluation of a model or predictions on `data` against `targets`.

    `model_or_predictions`: a fitted estimator (predict/predict_proba), a callable, an array of
    predictions, or the name of a column of `data` holding them. `targets`, `sample_weight`,
    `query_id` and each sensitive feature may be column names of `data` or arrays. `slices`
    is a column name (or list of them) to break metrics down by value, or a dict name -> bool
    mask. `bootstrap=n` adds n-resample confidence intervals. `robustness_checks=True` (or a
    list of check names) runs `robustness()` and adds its table. `explain=True` adds the
    model's global feature importance (`explain.global_importance`: native where the library
    has it, else permutation importance on at most 10,000 of these rows). `log=None` logs
    when a run is active.
    """
    io.check_task(task)
    _check_name(dataset_name)
    named = _named_columns(targets, sensitive_features, slices, sample_weight, query_id)
    y_true = as_array(io.column(data, targets, "targets"), "targets")
    predictions = io.predict(model_or_predictions, data, task, named)
    weights = as_weights(
        None if sample_weight is None else io.column(data, sample_weight, "sample_weight"),
        y_true.size,
    )
    result = EvaluationResult(
        task, dataset_name, int(y_true.size), {}, io.model_label(model_or_predictions, model_name)
    )
    y, values, labels, query = _fill(
        result,
        task,
        y_true,
        predictions,
        weights,
        threshold,
        pos_label,
        query_id,
        data,
        k,
        n_bins,
        cost_matrix,
    )
    if sensitive_features is not None:
        _fairness(
            result, task, data, y, values, weights, sensitive_features, threshold, reference_group
        )
    if slices is not None:
        result.slices = _slices(data, slices, task, y, values, weights, threshold, labels, query, k)
    if robustness_checks:
        result.robustness = _robustness(
            model_or_predictions,
            data,
            y_true,
            task,
            robustness_checks,
            weights,
            threshold,
            pos_label,
            named,
        )
    if explain:
        result.explanations = _explanations(model_or_predictions, data, y_true, task, named, seed)
    if bootstrap:
        result.intervals = _intervals(
            task, y, values, weights, threshold, labels, query, k, bootstrap, confidence, seed
        )
    if log or (log is None and _active_run()):
        log_result(result)
    return result


def _fill(
    result: EvaluationResult,
    task: str,
    y_true: np.ndarray,
    predictions: io.Predictions,
    weights: np.ndarray | None,
    threshold: float,
    pos_label: Any,
    query_id: Any,
    data: Any,
    k: int,
    n_bins: int,
    cost_matrix: Any,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    values = predictions.values
    if values.shape[0] != y_true.size:
        raise InvalidInput(
            f"the model gave {values.shape[0]} predictions for {y_true.size} rows of targets"
        )
    if task == "binary":
        y, score, weights = tasks.binary_arrays(y_true, values, weights, pos_label)
        names = _binary_names(predictions.classes, y_true, pos_label)
        tasks.binary_section(
            result,
            y,
            score,
            weights,
            threshold=threshold,
            n_bins=n_bins,
            cost_matrix=cost_matrix,
            class_names=names,
        )
        return y, score, None, None
    if task == "multiclass":
        labels = None
        if values.ndim == 2:
            # A bare callable has no classes_: columns are then the sorted labels seen in y.
            labels = predictions.classes if predictions.classes is not None else np.unique(y_true)
        tasks.multiclass_section(result, y_true, values, weights, labels)
        return y_true, values, labels, None
    if task == "regression":
        from perennia.evaluate.metrics._validation import as_float

        y = as_float(y_true, "targets")
        predicted = as_float(values, "predictions")
        tasks.regression_section(result, y, predicted, weights)
        return y, predicted, None, None
    query = as_array(io.column(data, query_id, "query_id"), "query_id")
    tasks.ranking_section(result, y_true, values, query, k)
    return y_true, values, None, query


def _robustness(
    model: Any,
    data: Any,
    y_true: np.ndarray,
    task: str,
    checks: Any,
    weights: np.ndarray | None,
    threshold: float,
    pos_label: Any,
    named: list[str],
) -> list[dict[str, Any]]:
    """Return the robustness rows of a model (not of fixed predictions: nothing to perturb)."""
    if io.is_column_name(model) or not (callable(model) or hasattr(model, "predict")):
        raise InvalidInput(
            "robustness_checks needs the model itself, not precomputed predictions: perturbing "
            "inputs means predicting again"
        )
    from perennia.evaluate.robustness_checks import robustness

    names = io.column_names(data)
    features = [c for c in names if c not in named] if names else None
    report = robustness(
        model,
        data,
        y_true,
        task=task,
        checks=None if checks is True else checks,
        features=features,
        sample_weight=weights,
        threshold=threshold,
        pos_label=pos_label,
    )
    return report.rows


def _explanations(
    model: Any, data: Any, y_true: np.ndarray, task: str, named: list[str], seed: int
) -> dict[str, Any]:
    """Return the model's global feature importance as the result stores it."""
    if io.is_column_name(model) or not (callable(model) or hasattr(model, "predict")):
        raise InvalidInput(
            "explain=True needs the model itself, not precomputed predictions: importance "
            "is measured by predicting again"
        )
    from perennia.evaluate.explain import CannotExplain, global_importance, native_importance

    if task == "ranking":  # rankings are scored per query, not per row: native importance only
        try:
            return native_importance(model).to_dict()
        except CannotExplain:
            raise InvalidInput(
                "explain=True with task='ranking' needs a model with its own importance "
                "(XGBoost, LightGBM, scikit-learn trees)"
            ) from None
    inputs = io.features(data, model, named)
    metric = "r2" if task == "regression" else "accuracy"
    sample = EXPLAIN_ROWS if y_true.size > EXPLAIN_ROWS else None
    found = global_importance(
        model, inputs, y_true, metric=metric, random_state=seed, sample=sample
    )
    return found.to_dict()


def _binary_names(classes: np.ndarray | None, y_true: np.ndarray, pos_label: Any) -> list[str]:
    if classes is not None and len(classes) == 2:
        return [str(classes[0]), str(classes[1])]
    found = [v for v in np.unique(y_true[:1_000_000]) if v != pos_label]
    return [str(found[0]) if found else "negative", str(pos_label)]


def _fairness(
    result: EvaluationResult,
    task: str,
    data: Any,
    y: np.ndarray,
    values: np.ndarray,
    weights: np.ndarray | None,
    sensitive_features: Any,
    threshold: float,
    reference_group: Any,
) -> None:
    if task != "binary":
        raise InvalidInput(
            f"fairness metrics need binary decisions; task={task!r} has none (use task='binary')"
        )
    from perennia.evaluate.metrics.fairness import fairness_report

    groups = _sensitive(data, sensitive_features)
    report = fairness_report(
        y,
        values >= threshold,
        sensitive_features=groups,
        sample_weight=weights,
        reference_group=reference_group,
    )
    result.fairness = report.to_dict()
    result.metrics.update(report.metrics())


def _sensitive(data: Any, sensitive_features: Any) -> Any:
    """Return sensitive features as a dict name -> array (column names resolved in data)."""
    if io.is_column_name(sensitive_features):
        sensitive_features = [sensitive_features]
    if isinstance(sensitive_features, Mapping):
        return {
            str(k): io.column(data, v, f"sensitive feature {k!r}")
            for k, v in sensitive_features.items()
        }
    if isinstance(sensitive_features, Sequence) and all(
        io.is_column_name(v) for v in sensitive_features
    ):
        return {name: io.column(data, name, "sensitive_features") for name in sensitive_features}
    return sensitive_features


def _slices(
    data: Any,
    slices: Any,
    task: str,
    y: np.ndarray,
    values: np.ndarray,
    weights: np.ndarray | None,
    threshold: float,
    labels: np.ndarray | None,
    query: np.ndarray | None,
    k: int,
) -> list[dict[str, Any]]:
    """Return one entry per slice value: its name, value, row count and headline metrics."""
    masks: list[tuple[str, str, np.ndarray]] = []
    if isinstance(slices, Mapping):
        for name, mask in slices.items():
            mask = as_array(io.column(data, mask, f"slice {name!r}"), f"slice {name!r}")
            if mask.dtype != np.bool_ or mask.size != y.size:
                raise InvalidInput(f"slice {name!r} must be a boolean mask with one value per row")
            masks.append((str(name), "true", mask))
    else:
        for name in [slices] if io.is_column_name(slices) else list(slices):
            column = as_array(io.column(data, name, "slices"), f"slice {name!r}")
            codes, uniques = _factorize(column)
            masks += [(str(name), str(value), codes == i) for i, value in enumerate(uniques)]
    out = []
    for name, value, mask in masks:
        w = None if weights is None else weights[mask]
        metrics = (
            {}
            if not mask.any()
            else tasks.headline_metrics(
                task,
                y[mask],
                values[mask],
                w,
                threshold=threshold,
                labels=labels,
                query=None if query is None else query[mask],
                k=k,
            )
        )
        out.append({"slice": name, "value": value, "count": int(mask.sum()), "metrics": metrics})
    return out


def _factorize(column: np.ndarray) -> tuple[np.ndarray, list[Any]]:
    import pandas as pd

    codes, uniques = pd.factorize(column, sort=True, use_na_sentinel=False)
    return codes, ["missing" if _missing(v) else v for v in uniques]


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _intervals(
    task: str,
    y: np.ndarray,
    values: np.ndarray,
    weights: np.ndarray | None,
    threshold: float,
    labels: np.ndarray | None,
    query: np.ndarray | None,
    k: int,
    n_resamples: int,
    confidence: float,
    seed: int,
) -> dict[str, tuple[float, float]]:
    """Return metric -> percentile bootstrap interval of the headline metrics."""
    from perennia.evaluate.metrics.bootstrap import _check_confidence, bootstrap_indices

    _check_confidence(confidence)
    if task == "ranking":
        raise InvalidInput("bootstrap intervals are not offered for ranking (queries would split)")
    strata = y if task in ("binary", "multiclass") else None
    samples: dict[str, list[float]] = {}
    for rows in bootstrap_indices(y.size, n_resamples, seed=seed, strata=strata):
        w = None if weights is None else weights[rows]
        found = tasks.headline_metrics(
            task, y[rows], values[rows], w, threshold=threshold, labels=labels, k=k
        )
        for name, value in found.items():
            samples.setdefault(name, []).append(value)
    tail = (1 - confidence) / 2 * 100
    out = {}
    for name, found in samples.items():
        finite = np.asarray(found, dtype=np.float64)
        finite = finite[np.isfinite(finite)]
        if finite.size * 2 >= n_resamples:
            low, high = np.percentile(finite, [tail, 100 - tail])
            out[name] = (float(low), float(high))
    return out


def log_result(result: EvaluationResult) -> None:
    """Log the result's finite metrics, JSON and HTML report to the active run."""
    from perennia.tracking.fluent import log_metrics
    from perennia.tracking.fluent_artifacts import log_text

    prefix = result.dataset_name
    log_metrics(
        {
            f"{prefix}_{name}": float(value)
            for name, value in result.metrics.items()
            if isinstance(value, int | float) and math.isfinite(value)
        }
    )
    from perennia.evaluate.report import render_evaluation

    folder = f"evaluation/{prefix}"
    log_text(result.to_json(), f"{folder}/result.json")
    log_text(render_evaluation(result.to_dict()), f"{folder}/report.html")


def _active_run() -> bool:
    from perennia.tracking.fluent import active_run

    return active_run() is not None


def _named_columns(*values: Any) -> list[str]:
    """Return the column names among the arguments: they are not model features."""
    names: list[str] = []
    for value in values:
        if io.is_column_name(value):
            names.append(value)
        elif isinstance(value, Mapping):
            names += [v for v in value.values() if io.is_column_name(v)]
        elif isinstance(value, list | tuple):
            names += [v for v in value if io.is_column_name(v)]
    return names


def _check_name(dataset_name: str) -> None:
    if not isinstance(dataset_name, str) or not dataset_name or "/" in dataset_name:
        raise InvalidInput(
            f"dataset_name must be a non-empty name without '/', got {dataset_name!r}"
        )
