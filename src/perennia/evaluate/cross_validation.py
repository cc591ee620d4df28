"""`cross_validate()`: k-fold evaluation where each fold is a nested run of one parent run.

Folds come from scikit-learn's splitters ("stratified", "group", "time-series", "kfold", or
any object with `split`). Each fold fits a fresh clone of the estimator, is evaluated with
`evaluate()`, and logs its metrics to its own nested run; the parent run gets every fold's
metrics as steps plus their mean and standard deviation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from perennia._util import tables
from perennia.errors import InvalidInput
from perennia.evaluate import inputs as io
from perennia.evaluate.evaluator import evaluate
from perennia.evaluate.result import EvaluationResult

STRATEGIES = ("stratified", "kfold", "group", "time-series")


@dataclass
class CrossValidationResult:
    """Per-fold evaluations, and the mean and standard deviation of each metric across folds."""

    folds: list[EvaluationResult]
    mean: dict[str, float] = field(default_factory=dict)
    std: dict[str, float] = field(default_factory=dict)
    run_id: str | None = None
    fold_run_ids: list[str] = field(default_factory=list)

    def to_frame(self):
        """Return one row per fold and one column per metric."""
        import pandas as pd

        return pd.DataFrame([fold.metrics for fold in self.folds]).rename_axis("fold")


def cross_validate(
    estimator: Any,
    data: Any,
    targets: Any,
    *,
    cv: Any = "stratified",
    n_splits: int = 5,
    groups: Any = None,
    task: str = "binary",
    shuffle: bool = True,
    seed: int = 0,
    threshold: float = 0.5,
    log: bool = True,
    run_name: str = "cross-validation",
) -> CrossValidationResult:
    """Return per-fold metrics and their mean/std; logs each fold as a nested run when `log`."""
    from sklearn.base import clone

    io.check_task(task)
    frame = _frame(data)
    y = np.asarray(io.column(frame, targets, "targets"))
    group_values = None if groups is None else np.asarray(io.column(frame, groups, "groups"))
    feature_frame = frame.drop(columns=[targets]) if io.is_column_name(targets) else frame
    drop = [groups] if io.is_column_name(groups) else []
    feature_frame = feature_frame.drop(columns=drop)
    splitter = _splitter(cv, n_splits, task, shuffle, seed)
    extra = {} if group_values is None else {"groups": group_values}
    splits = list(splitter.split(feature_frame, y, **extra))
    folds, fold_runs = [], []
    with _parent_run(log, run_name) as parent:
        if parent is not None:
            _log_setup(cv, len(splits), task)
        for index, (fit_rows, test_rows) in enumerate(splits):
            model = clone(estimator).fit(feature_frame.iloc[fit_rows], y[fit_rows])
            result = evaluate(
                model,
                feature_frame.iloc[test_rows],
                targets=y[test_rows],
                task=task,
                threshold=threshold,
                dataset_name=f"fold_{index}",
                log=False,
            )
            folds.append(result)
            if parent is not None:
                fold_runs.append(_log_fold(index, result, len(fit_rows)))
        outcome = _summarise(folds)
        if parent is not None:
            _log_summary(outcome)
            outcome.run_id = parent.run_id
            outcome.fold_run_ids = fold_runs
    return outcome


def _frame(data: Any):
    try:
        return tables.to_pandas(data, "data")
    except (TypeError, ValueError) as exc:
        raise InvalidInput(str(exc)) from None


def _splitter(cv: Any, n_splits: int, task: str, shuffle: bool, seed: int) -> Any:
    from sklearn import model_selection as ms

    if hasattr(cv, "split") and not isinstance(cv, str):
        return cv
    if isinstance(cv, int) and not isinstance(cv, bool):
        cv, n_splits = "stratified", cv
    if not isinstance(n_splits, int) or n_splits < 2:
        raise InvalidInput(f"n_splits must be an integer >= 2, got {n_splits!r}")
    state = {"shuffle": shuffle, "random_state": seed if shuffle else None}
    if cv == "stratified":
        if task in ("binary", "multiclass"):
            return ms.StratifiedKFold(n_splits, **state)
        return ms.KFold(n_splits, **state)
    if cv == "kfold":
        return ms.KFold(n_splits, **state)
    if cv == "group":
        return _GroupSplitter(ms.GroupKFold(n_splits))
    if cv == "time-series":
        return ms.TimeSeriesSplit(n_splits)
    raise InvalidInput(
        f"cv must be one of {', '.join(STRATEGIES)}, an int or a splitter; got {cv!r}"
    )


class _GroupSplitter:
    """GroupKFold that says which argument is missing instead of scikit-learn's message."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def split(self, X: Any, y: Any, groups: Any = None) -> Any:
        if groups is None:
            raise InvalidInput("cv='group' needs groups= (a column name of data or an array)")
        return self.inner.split(X, y, groups=groups)


def _summarise(folds: list[EvaluationResult]) -> CrossValidationResult:
    names = [name for name in folds[0].metrics if all(name in f.metrics for f in folds)]
    outcome = CrossValidationResult(folds)
    for name in names:
        values = np.array([fold.metrics[name] for fold in folds], dtype=np.float64)
        outcome.mean[name] = float(np.mean(values))
        outcome.std[name] = float(np.std(values, ddof=1)) if values.size > 1 else 0.0
    return outcome


class _NoRun:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None


def _parent_run(log: bool, run_name: str) -> Any:
    if not log:
        return _NoRun()
    from perennia.tracking import fluent

    return fluent.start_run(run_name=run_name, nested=fluent.active_run() is not None)


def _log_setup(cv: Any, n_splits: int, task: str) -> None:
    from perennia.tracking import fluent

    strategy = cv if isinstance(cv, str) else type(cv).__name__
    fluent.log_params({"cv": strategy, "cv_splits": n_splits, "task": task})


def _log_fold(index: int, result: EvaluationResult, train_rows: int) -> str:
    from perennia.tracking import fluent

    finite = _finite(result.metrics)
    with fluent.start_run(run_name=f"fold-{index}", nested=True) as run:
        fluent.log_params({"fold": index, "train_rows": train_rows, "test_rows": result.n_rows})
        fluent.log_metrics({f"val_{k}": v for k, v in finite.items()})
    fluent.log_metrics({f"cv_{k}": v for k, v in finite.items()}, step=index)
    return run.run_id


def _log_summary(outcome: CrossValidationResult) -> None:
    from perennia.tracking import fluent

    summary = {f"cv_{k}_mean": v for k, v in _finite(outcome.mean).items()}
    summary.update({f"cv_{k}_std": v for k, v in _finite(outcome.std).items()})
    fluent.log_metrics(summary)


def _finite(metrics: dict[str, float]) -> dict[str, float]:
    return {
        k: float(v) for k, v in metrics.items() if isinstance(v, int | float) and math.isfinite(v)
    }
