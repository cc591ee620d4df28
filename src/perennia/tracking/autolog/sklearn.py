"""scikit-learn autologging: every top-level `fit` logs params, training metrics, class and dataset.

Only the outermost `fit` is logged (a Pipeline's steps and a grid search's clones are not),
and logging problems are reported as warnings: autologging must never break the user's training.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
from typing import Any

from perennia.store.limits import PARAM_VALUE_LENGTH

logger = logging.getLogger(__name__)

_originals: dict[type, Any] = {}
_options: dict[str, bool] = {}
# Called as hook(estimator, X, y) inside the run after each tracked fit: layers above tracking
# (perennia.sklearn's reference profile) add their own logging without tracking knowing them.
fit_hooks: dict[str, Any] = {}
_local = threading.local()


def autolog(
    disable: bool = False, log_datasets: bool = True, log_training_metrics: bool = True
) -> None:
    """Track every scikit-learn `fit` (starting a run when none is active); `disable=True` undoes it."""
    if disable:
        for cls, original in _originals.items():
            cls.fit = original
        _originals.clear()
        return
    _options.update(log_datasets=log_datasets, log_training_metrics=log_training_metrics)
    from sklearn.pipeline import Pipeline
    from sklearn.utils import all_estimators

    for cls in {cls for _, cls in all_estimators()} | {Pipeline}:
        # Patch the class that defines the `fit` this estimator runs: often a private base
        # class such as BaseSearchCV, which all_estimators() does not list.
        owner = next((klass for klass in cls.__mro__ if "fit" in klass.__dict__), None)
        if owner is not None and owner not in _originals:
            _originals[owner] = owner.__dict__["fit"]
            owner.fit = _patched(owner.__dict__["fit"])


def _patched(original: Any) -> Any:
    @functools.wraps(original)
    def fit(self, *args: Any, **kwargs: Any) -> Any:
        depth = getattr(_local, "depth", 0)
        if depth:
            return original(self, *args, **kwargs)
        _local.depth = depth + 1
        try:
            return _tracked_fit(original, self, args, kwargs)
        finally:
            _local.depth = depth

    return fit


def _tracked_fit(original: Any, estimator: Any, args: tuple, kwargs: dict) -> Any:
    from perennia.entities import RunStatus
    from perennia.tracking import fluent

    started = fluent.active_run() is None
    if started:
        fluent.start_run(run_name=type(estimator).__name__)
    try:
        _safely("params", _log_params, estimator)
        result = original(estimator, *args, **kwargs)
        X = args[0] if args else kwargs.get("X")
        y = args[1] if len(args) > 1 else kwargs.get("y")
        _safely(
            "tags",
            fluent.set_tags,
            {
                "estimator_name": type(estimator).__name__,
                "estimator_class": f"{type(estimator).__module__}.{type(estimator).__qualname__}",
            },
        )
        if _options.get("log_training_metrics", True) and y is not None:
            _safely(
                "training metrics",
                _log_training_metrics,
                estimator,
                X,
                y,
                kwargs.get("sample_weight"),
            )
        if _options.get("log_datasets", True) and X is not None:
            _safely("training dataset", _log_dataset, X, y)
        for what, hook in list(fit_hooks.items()):
            _safely(what, hook, estimator, X, y)
    except BaseException:
        if started:
            fluent.end_run(RunStatus.FAILED.value)
        raise
    if started:
        fluent.end_run()
    return result


def _safely(what: str, function: Any, *args: Any) -> None:
    try:
        function(*args)
    except Exception as error:  # noqa: BLE001 - autologging never breaks training
        logger.warning("perennia autolog could not log %s: %s", what, error)


def _log_params(estimator: Any) -> None:
    from perennia.tracking import fluent

    params = {}
    for key, value in estimator.get_params(deep=True).items():
        text = str(value)
        params[key] = (
            text if len(text) <= PARAM_VALUE_LENGTH else text[: PARAM_VALUE_LENGTH - 3] + "..."
        )
    fluent.log_params(params)


def _classifier_metrics(estimator: Any, X: Any, y: Any, weight: Any) -> dict[str, float]:
    import numpy as np
    from sklearn import metrics

    predicted = estimator.predict(X)
    result = {
        "training_accuracy_score": metrics.accuracy_score(y, predicted, sample_weight=weight),
        "training_precision_score": metrics.precision_score(
            y, predicted, average="weighted", sample_weight=weight, zero_division=0
        ),
        "training_recall_score": metrics.recall_score(
            y, predicted, average="weighted", sample_weight=weight, zero_division=0
        ),
        "training_f1_score": metrics.f1_score(
            y, predicted, average="weighted", sample_weight=weight, zero_division=0
        ),
    }
    if hasattr(estimator, "predict_proba"):
        proba = estimator.predict_proba(X)
        classes = getattr(estimator, "classes_", None)
        result["training_log_loss"] = metrics.log_loss(
            y, proba, sample_weight=weight, labels=classes
        )
        if proba.shape[1] == 2:
            positive = np.asarray(y) == classes[1]
            result["training_roc_auc"] = metrics.roc_auc_score(
                positive, proba[:, 1], sample_weight=weight
            )
        elif len(np.unique(y)) == proba.shape[1]:
            result["training_roc_auc"] = metrics.roc_auc_score(
                y,
                proba,
                multi_class="ovr",
                average="weighted",
                sample_weight=weight,
                labels=classes,
            )
    return result


def _regressor_metrics(estimator: Any, X: Any, y: Any, weight: Any) -> dict[str, float]:
    from sklearn import metrics

    predicted = estimator.predict(X)
    mse = metrics.mean_squared_error(y, predicted, sample_weight=weight)
    return {
        "training_mean_squared_error": mse,
        "training_root_mean_squared_error": math.sqrt(mse),
        "training_mean_absolute_error": metrics.mean_absolute_error(
            y, predicted, sample_weight=weight
        ),
        "training_r2_score": metrics.r2_score(y, predicted, sample_weight=weight),
    }


def _log_training_metrics(estimator: Any, X: Any, y: Any, weight: Any) -> None:
    from sklearn.base import is_classifier, is_regressor

    from perennia.tracking import fluent

    if is_classifier(estimator):
        values = _classifier_metrics(estimator, X, y, weight)
    elif is_regressor(estimator):
        values = _regressor_metrics(estimator, X, y, weight)
    else:
        values = {}
    if hasattr(estimator, "score"):
        try:
            values["training_score"] = (
                estimator.score(X, y, sample_weight=weight)
                if weight is not None
                else estimator.score(X, y)
            )
        except TypeError:
            values["training_score"] = estimator.score(X, y)
    fluent.log_metrics({k: float(v) for k, v in values.items()})


def _log_dataset(X: Any, y: Any) -> None:
    import numpy as np
    import pandas as pd

    from perennia.tracking import fluent
    from perennia.tracking.dataset_descriptors import from_any, from_numpy

    if isinstance(X, pd.DataFrame) and y is not None:
        target = getattr(y, "name", None) or "target"
        frame = X.copy()
        frame[target] = np.asarray(y)
        dataset = from_any(frame, name="training_data", targets=target)
    elif y is not None and not isinstance(X, pd.DataFrame):
        dataset = from_numpy(np.asarray(X), np.asarray(y), name="training_data")
    else:
        dataset = from_any(X, name="training_data")
    fluent.log_input(dataset, context="training")
