"""What the evaluator is given, made uniform: columns by name or array, features, predictions.

`data` may be a pandas or polars DataFrame, a pyarrow Table, a dict of columns, or a numpy
array of features (all read by `perennia._util.tables`); `targets`, `sensitive_features`,
`sample_weight`, `query_id` may each name a column of `data` or be an array. A model is anything with `predict` (and `predict_proba` for probabilities),
a plain callable, or precomputed predictions (an array, or the name of a column of `data`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from perennia._util import tables
from perennia._util.tables import column_names, row_count  # noqa: F401 - used as io.column_names
from perennia.errors import InvalidInput

TASKS = ("binary", "multiclass", "regression", "ranking")


def is_column_name(value: Any) -> bool:
    """Return True when `value` names a column rather than holding values."""
    return isinstance(value, str)


def column(data: Any, value: Any, what: str) -> np.ndarray:
    """Return a column of `data` named by `value`, or `value` itself as an array."""
    if value is None:
        raise InvalidInput(f"{what} is missing; pass a column name of data or an array")
    if is_column_name(value):
        names = column_names(data)
        if value not in names:
            shown = ", ".join(map(repr, names[:8])) + (", ..." if len(names) > 8 else "")
            raise InvalidInput(f"{what}={value!r} is not a column of data; columns: {shown}")
        return _read(tables.column, data, value, what)
    return _read(tables.to_numpy, value, what)


def _read(convert: Any, *args: Any) -> np.ndarray:
    try:
        return convert(*args)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(str(exc)) from None


def features(data: Any, model: Any, drop: Sequence[str]) -> Any:
    """Return the model's input: the columns it was fitted on, else data minus `drop`."""
    names = column_names(data)
    if not names:
        return data
    fitted = getattr(model, "feature_names_in_", None)
    wanted = [str(c) for c in fitted] if fitted is not None else [c for c in names if c not in drop]
    missing = [c for c in wanted if c not in names]
    if missing:
        raise InvalidInput(f"data lacks the feature columns the model was fitted on: {missing[:8]}")
    return _read(tables.select, data, wanted)


@dataclass
class Predictions:
    """What a model produced: scores or probabilities, and the class of each column if known."""

    values: np.ndarray  # 1-D scores/labels/values, or 2-D class probabilities
    classes: np.ndarray | None = None
    is_probability: bool = False


def predict(model: Any, data: Any, task: str, drop: Sequence[str]) -> Predictions:
    """Return the predictions `model` makes on `data` for `task`."""
    if isinstance(model, Predictions):
        return model
    if is_column_name(model):
        return Predictions(column(data, model, "predictions"))
    if not callable(model) and not hasattr(model, "predict"):
        return Predictions(column(None, model, "predictions"))
    inputs = features(data, model, drop)
    classes = getattr(model, "classes_", None)
    if task in ("binary", "multiclass") and hasattr(model, "predict_proba"):
        proba = np.asarray(tables.to_numpy(model.predict_proba(inputs)), dtype=np.float64)
        if task == "binary":
            return Predictions(_positive_column(proba), _classes(classes), True)
        return Predictions(proba, _classes(classes), True)
    if task == "binary" and hasattr(model, "decision_function"):
        scores = tables.to_numpy(model.decision_function(inputs))
        return Predictions(np.asarray(scores, dtype=np.float64))
    output = model.predict(inputs) if hasattr(model, "predict") else model(inputs)
    output = _read(tables.to_numpy, output, "the model's predictions")
    if task == "binary" and output.ndim == 2:
        return Predictions(_positive_column(output), _classes(classes), True)
    return Predictions(output)


def _positive_column(proba: np.ndarray) -> np.ndarray:
    if proba.ndim == 1:
        return proba
    if proba.ndim != 2 or proba.shape[1] != 2:
        raise InvalidInput(
            f"task='binary' needs two probability columns, the model gave shape {proba.shape}; "
            "use task='multiclass'"
        )
    return proba[:, 1]


def _classes(classes: Any) -> np.ndarray | None:
    return None if classes is None else np.asarray(classes)


def model_label(model: Any, given: str | None) -> str:
    """Return a readable name for the model: the given one, its class, or "predictions"."""
    if given:
        return given
    if is_column_name(model):
        return f"column {model}"
    if hasattr(model, "predict") or callable(model):
        steps = getattr(model, "steps", None)
        if steps:
            return " → ".join(type(step).__name__ for _, step in steps)
        return getattr(model, "__name__", type(model).__name__)
    return "predictions"


def check_task(task: str) -> str:
    """Return the task, or raise naming the accepted ones."""
    if task not in TASKS:
        raise InvalidInput(f"task must be one of {', '.join(TASKS)}; got {task!r}")
    return task
