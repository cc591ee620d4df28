"""What the evaluator is given, made uniform: columns by name or array, features, predictions.

`data` may be a pandas or polars DataFrame, a dict of columns, or a numpy array of features;
`targets`, `sensitive_features`, `sample_weight`, `query_id` may each name a column of `data`
or be an array. A model is anything with `predict` (and `predict_proba` for probabilities),
a plain callable, or precomputed predictions (an array, or the name of a column of `data`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

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
        picked = data[value]
        return picked.to_numpy() if hasattr(picked, "to_numpy") else np.asarray(picked)
    if hasattr(value, "to_numpy"):
        return value.to_numpy()
    return np.asarray(value)


def column_names(data: Any) -> list[str]:
    """Return the column names of a DataFrame or dict (an empty list for arrays)."""
    if isinstance(data, Mapping):
        return [str(k) for k in data]
    columns = getattr(data, "columns", None)
    return [str(c) for c in columns] if columns is not None else []


def row_count(data: Any) -> int:
    """Return the number of rows of a DataFrame, dict of columns or array."""
    if isinstance(data, Mapping):
        first = next(iter(data.values()), [])
        return len(first)
    if hasattr(data, "shape"):
        return int(data.shape[0])
    return len(data)


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
    if isinstance(data, Mapping):
        import pandas as pd

        return pd.DataFrame({c: data[c] for c in wanted})
    return (
        data.select(wanted)
        if hasattr(data, "select") and not hasattr(data, "loc")
        else data[wanted]
    )


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
        proba = np.asarray(model.predict_proba(inputs), dtype=np.float64)
        if task == "binary":
            return Predictions(_positive_column(proba), _classes(classes), True)
        return Predictions(proba, _classes(classes), True)
    if task == "binary" and hasattr(model, "decision_function"):
        return Predictions(np.asarray(model.decision_function(inputs), dtype=np.float64))
    output = model.predict(inputs) if hasattr(model, "predict") else model(inputs)
    output = output.to_numpy() if hasattr(output, "to_numpy") else np.asarray(output)
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
