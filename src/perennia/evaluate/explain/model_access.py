"""Reaching what explanations need from a model: its booster, estimator, classes, inputs, output.

Explanations take a fitted estimator (scikit-learn, XGBoost, LightGBM), a raw booster, a
plain predict function or a Perennia `LoadedModel`. The loaded model is reached by duck
typing (`unwrap()`, then the flavor wrapper's `booster`) because `evaluate` may not import
`models`: the two are sibling layers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from perennia._util import tables
from perennia.errors import InvalidInput

BOOSTED = ("xgboost", "lightgbm")


class CannotExplain(InvalidInput):
    """The model offers no way to compute the explanation asked for (HTTP 422)."""

    error_code = "INVALID_PARAMETER_VALUE"
    http_status = 422


def library_of(obj: Any) -> str:
    """Return the top-level module of an object's class ("sklearn", "xgboost", "builtins")."""
    return type(obj).__module__.partition(".")[0]


def unwrap(model: Any) -> Any:
    """Return what a LoadedModel holds (the estimator or the flavor's wrapper), else `model`."""
    inner = getattr(model, "unwrap", None)
    return inner() if callable(inner) else model


def booster_of(model: Any) -> tuple[str, Any] | None:
    """Return ("xgboost" or "lightgbm", its Booster) for a boosted-tree model, else None."""
    inner = unwrap(model)
    kind = library_of(inner)
    if kind not in BOOSTED:
        # Perennia's flavor wrappers keep the booster as `.booster`; XGBModel's own
        # `booster` is a hyper-parameter string, which the library check rules out.
        inner = getattr(inner, "booster", None)
        kind = library_of(inner)
        if kind not in BOOSTED:
            return None
    if type(inner).__name__ == "Booster":
        return kind, inner
    try:
        return kind, inner.get_booster() if kind == "xgboost" else inner.booster_
    except Exception as error:  # each library raises its own "not fitted" class
        raise CannotExplain(f"the {type(inner).__name__} is not fitted: {error}") from None


def is_classifier(model: Any) -> bool:
    """Return True when the model (or what it wraps) records class labels."""
    return classes_of(model) is not None


def classes_of(model: Any) -> list[Any] | None:
    """Return the class labels of a classifier, or None for anything else."""
    for candidate in (model, unwrap(model)):
        classes = getattr(candidate, "classes_", None)
        if classes is not None:
            return [c.item() if hasattr(c, "item") else c for c in classes]
    return None


def model_features(model: Any) -> list[str] | None:
    """Return the input column names the model records, in its order, or None."""
    found = booster_of(model)
    if found is not None:
        kind, booster = found
        names = booster.feature_names if kind == "xgboost" else booster.feature_name()
        return [str(n) for n in names] if names else None
    for candidate in (model, unwrap(model)):
        try:
            names = candidate.feature_names_in_
        except AttributeError:
            continue
        return [str(n) for n in names]
    return None


def model_width(model: Any) -> int | None:
    """Return how many input columns the model takes, when it says."""
    found = booster_of(model)
    if found is not None:
        kind, booster = found
        return int(booster.num_features() if kind == "xgboost" else booster.num_feature())
    width = getattr(unwrap(model), "n_features_in_", None)
    return None if width is None else int(width)


def model_inputs(model: Any, data: Any, what: str = "X") -> tuple[Any, list[str]]:
    """Return (`data` as the model takes it, its feature names).

    A table keeps only the model's columns, in its order, when it holds all of them; other
    tables go through pandas; arrays must be 2-D and as wide as the model expects.
    """
    import numpy as np
    import pandas as pd

    wanted = model_features(model)
    if tables.is_table(data) or isinstance(data, dict):
        frame = data if isinstance(data, pd.DataFrame) else tables.to_pandas(data, what)
        labels = {str(c): c for c in frame.columns}
        if wanted and set(wanted) <= set(labels):
            frame = frame[[labels[n] for n in wanted]]
        _check_width(model, frame.shape[1], what)
        return frame, [str(c) for c in frame.columns]
    try:
        array = tables.to_numpy(data, what)
    except (TypeError, ValueError) as error:
        raise InvalidInput(str(error)) from None
    if array.ndim != 2:
        raise InvalidInput(
            f"{what} must be 2-D (one row per prediction, one column per feature); got shape "
            f"{np.shape(array)}"
        )
    _check_width(model, array.shape[1], what)
    names = wanted if wanted and len(wanted) == array.shape[1] else None
    return array, names or [f"x{i}" for i in range(array.shape[1])]


def _check_width(model: Any, width: int, what: str) -> None:
    expected = model_width(model)
    if expected is not None and expected != width:
        raise InvalidInput(
            f"{what} has {width} feature columns but the model takes {expected}; pass the "
            "columns the model was trained on"
        )


def output_function(model: Any) -> tuple[Callable[[Any], Any], str]:
    """Return (f, output): f maps input rows to the numbers model-agnostic explainers explain.

    A classifier with probabilities gives its positive class's probability (binary) or every
    class's (multiclass), `output="probability"`; anything else gives its predictions,
    `output="prediction"`, which must be numbers.
    """
    import numpy as np

    inner = unwrap(model)
    if hasattr(inner, "predict_proba") and hasattr(model, "predict_proba"):

        def probabilities(rows: Any) -> Any:
            proba = np.asarray(tables.to_numpy(model.predict_proba(rows)), dtype=np.float64)
            return proba[:, 1] if proba.ndim == 2 and proba.shape[1] == 2 else proba

        return probabilities, "probability"
    predict = getattr(model, "predict", None)
    if predict is None and not callable(model):
        raise CannotExplain(
            f"a {type(model).__name__} has neither predict nor predict_proba; pass a fitted "
            "model or a function of the rows"
        )
    call = predict if predict is not None else model

    def predictions(rows: Any) -> Any:
        values = tables.to_numpy(call(rows), "the model's predictions")
        if values.dtype.kind not in "biuf":
            raise CannotExplain(
                f"the model predicts {values.dtype} values, not numbers; explanations need a "
                "numeric output (a regressor, or a classifier with predict_proba)"
            )
        return values.astype(np.float64)

    return predictions, "prediction"
