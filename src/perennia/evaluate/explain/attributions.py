"""Per-prediction attributions: exact TreeSHAP where the model has it, SHAP or occlusion otherwise.

`method="auto"` picks, in order:
- XGBoost and LightGBM models: the libraries' own exact TreeSHAP (`pred_contribs=True`,
  `pred_contrib=True`), in margin space; no background is needed and no shap install.
- scikit-learn tree models (trees, forests, gradient boosting): shap's TreeExplainer
  (path-dependent TreeSHAP), when shap is installed.
- scikit-learn linear models: exact linear SHAP computed here, `coef * (x - mean(background))`
  with base `intercept + coef . mean(background)` (what shap's LinearExplainer gives for
  independent features), in margin space for classifiers.
- anything else: shap on the model's output (probabilities or predictions) against a small
  background sample: Kernel SHAP over every coalition (exact) up to 11 features, shap's
  permutation explainer beyond; without shap, occlusion (see `agnostic.py`), which is not
  SHAP and whose values do not add up.
"""

from __future__ import annotations

from typing import Any

from perennia.errors import InvalidInput
from perennia.evaluate.explain import model_access as access
from perennia.evaluate.explain.result import Attributions

METHODS = (
    "auto",
    "xgboost_treeshap",
    "lightgbm_treeshap",
    "shap_tree",
    "linear",
    "shap",
    "occlusion",
)
# The methods that compare each row with background rows (the rest read the trees alone).
NEEDS_BACKGROUND = frozenset({"linear", "shap", "occlusion"})
MAX_BACKGROUND = 50

# scikit-learn models shap's TreeExplainer reads directly.
SKLEARN_TREES = frozenset(
    {
        "DecisionTreeClassifier",
        "DecisionTreeRegressor",
        "ExtraTreeClassifier",
        "ExtraTreeRegressor",
        "RandomForestClassifier",
        "RandomForestRegressor",
        "ExtraTreesClassifier",
        "ExtraTreesRegressor",
        "GradientBoostingClassifier",
        "GradientBoostingRegressor",
        "HistGradientBoostingClassifier",
        "HistGradientBoostingRegressor",
    }
)


def has_shap() -> bool:
    """Return True when the shap library can be imported."""
    try:
        import shap  # noqa: F401
    except ImportError:
        return False
    return True


def method_for(model: Any) -> str:
    """Return the method `attributions(model, X)` uses with `method="auto"`."""
    found = access.booster_of(model)
    if found is not None:
        return f"{found[0]}_treeshap"
    inner = access.unwrap(model)
    if _is_sklearn_tree(inner) and has_shap():
        return "shap_tree"
    if _is_linear(inner):
        return "linear"
    return "shap" if has_shap() else "occlusion"


def attributions(
    model: Any,
    X: Any,
    *,
    background: Any = None,
    method: str = "auto",
    max_background: int = MAX_BACKGROUND,
    random_state: int = 0,
) -> Attributions:
    """Return the attributions of every row of `X` (see the module docstring for the methods).

    `background`: the rows linear, shap and occlusion compare against (default: `X` itself);
    at most `max_background` of them (drawn by `numpy.random.default_rng(random_state)`) are
    used by shap, whose cost grows with their number.
    """
    chosen = _checked_method(model, method)
    data, names = access.model_inputs(model, X)
    if len(data) == 0:
        raise InvalidInput("X holds no rows; pass at least one row to explain")
    if chosen == "xgboost_treeshap":
        return _xgboost(model, data, names)
    if chosen == "lightgbm_treeshap":
        return _lightgbm(model, data, names)
    if chosen == "shap_tree":
        return _shap_tree(model, data, names)
    rows = data if background is None else access.model_inputs(model, background, "background")[0]
    if len(rows) == 0:
        raise InvalidInput("background holds no rows; pass rows like the ones explained")
    if chosen == "linear":
        return _linear(model, data, rows, names)
    from perennia.evaluate.explain import agnostic

    if chosen == "occlusion":
        return agnostic.occlusion(model, data, rows, names)
    sample = _sample(rows, max_background, random_state)
    return agnostic.shap_values(model, data, sample, names, random_state)


def _checked_method(model: Any, method: str) -> str:
    """Return the method to use, or raise naming why the model cannot be explained that way."""
    if method not in METHODS:
        raise InvalidInput(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    if method == "auto":
        return method_for(model)
    found = access.booster_of(model)
    inner = access.unwrap(model)
    if method in ("xgboost_treeshap", "lightgbm_treeshap") and (
        found is None or f"{found[0]}_treeshap" != method
    ):
        raise access.CannotExplain(
            f"method={method!r} needs a {method.split('_')[0]} model, got {type(inner).__name__}"
        )
    if method == "shap_tree" and not _is_sklearn_tree(inner):
        raise access.CannotExplain(
            f"method='shap_tree' needs a scikit-learn tree model, got {type(inner).__name__}"
        )
    if method == "linear" and not _is_linear(inner):
        raise access.CannotExplain(
            f"method='linear' needs a scikit-learn linear model, got {type(inner).__name__}"
        )
    if method in ("shap", "shap_tree") and not has_shap():
        raise access.CannotExplain(
            f"method={method!r} needs the shap library: pip install shap, or use method='occlusion'"
        )
    return method


def _is_sklearn_tree(inner: Any) -> bool:
    return access.library_of(inner) == "sklearn" and type(inner).__name__ in SKLEARN_TREES


def _is_linear(inner: Any) -> bool:
    return (
        type(inner).__module__.startswith("sklearn.linear_model")
        and hasattr(inner, "coef_")
        and hasattr(inner, "intercept_")
    )


def _sample(rows: Any, limit: int, random_state: int) -> Any:
    """Return at most `limit` of the rows, drawn without replacement and kept in order."""
    import numpy as np

    if limit < 1:
        raise InvalidInput(f"max_background must be at least 1, got {limit!r}")
    if len(rows) <= limit:
        return rows
    picked = np.sort(np.random.default_rng(random_state).choice(len(rows), limit, replace=False))
    return rows.iloc[picked] if hasattr(rows, "iloc") else rows[picked]


def _split_bias(contributions: Any) -> tuple[Any, Any]:
    """Return (values, base) from (rows, [outputs,] features + 1) contributions, the bias
    last; several outputs move to the last axis: (rows, features, outputs)."""
    import numpy as np

    contributions = np.asarray(contributions, dtype=np.float64)
    values, base = contributions[..., :-1], contributions[..., -1]
    if values.ndim == 3:
        values = values.transpose(0, 2, 1)
    return np.ascontiguousarray(values), np.ascontiguousarray(base)


def _xgboost(model: Any, data: Any, names: list[str]) -> Attributions:
    import xgboost

    _, booster = access.booster_of(model)
    inner = access.unwrap(model)
    options: dict[str, Any] = {"enable_categorical": "c" in (booster.feature_types or [])}
    if booster.feature_names and not hasattr(data, "columns"):
        # A plain array is positional: name it as the booster expects, as predict does.
        options["feature_names"] = booster.feature_names
        options["feature_types"] = booster.feature_types
    missing = getattr(inner, "missing", None)
    if isinstance(missing, float):
        options["missing"] = missing  # the estimator's own setting changes the tree paths
    matrix = xgboost.DMatrix(data, **options)
    contributions = booster.predict(
        matrix, pred_contribs=True, iteration_range=_iteration_range(inner)
    )
    values, base = _split_bias(contributions)
    classes = access.classes_of(model) if values.ndim == 3 else None
    return Attributions(values, base, names, "xgboost_treeshap", "margin", classes)


def _iteration_range(inner: Any) -> tuple[int, int]:
    """Return the trees XGBoost's estimator predicts with: up to the best iteration when
    early stopping found one, else all (a raw Booster predicts with all of them)."""
    if type(inner).__name__ == "Booster" or not hasattr(inner, "get_booster"):
        return (0, 0)
    try:
        return (0, int(inner.best_iteration) + 1)
    except (AttributeError, TypeError, ValueError):
        return (0, 0)


def _lightgbm(model: Any, data: Any, names: list[str]) -> Attributions:
    import numpy as np

    _, booster = access.booster_of(model)
    # num_iteration=None: the best iteration when early stopping found one, as predict does.
    contributions = np.asarray(booster.predict(data, pred_contrib=True), dtype=np.float64)
    outputs = int(booster.num_model_per_iteration())
    if outputs > 1:  # one block of features + 1 per class, side by side
        contributions = contributions.reshape(len(contributions), outputs, -1)
    values, base = _split_bias(contributions)
    classes = access.classes_of(model) if values.ndim == 3 else None
    return Attributions(values, base, names, "lightgbm_treeshap", "margin", classes)


def _shap_tree(model: Any, data: Any, names: list[str]) -> Attributions:
    import numpy as np
    import shap

    inner = access.unwrap(model)
    explanation = shap.TreeExplainer(inner)(data)
    values = np.asarray(explanation.values, dtype=np.float64)
    # One base per row (and output), whatever shape shap gave it in.
    base = np.broadcast_to(explanation.base_values, values.shape[:1] + values.shape[2:])
    base = np.array(base, dtype=np.float64)
    classifier = access.is_classifier(inner)
    if classifier and values.ndim == 3 and values.shape[2] == 2:
        values, base = values[:, :, 1], base[:, 1]  # binary: the positive class, as elsewhere
    # Forests and single trees average leaf probabilities; gradient boosting adds log-odds.
    output = "prediction"
    if classifier:
        output = "margin" if "GradientBoosting" in type(inner).__name__ else "probability"
    classes = access.classes_of(inner) if values.ndim == 3 else None
    return Attributions(values, base, names, "shap_tree", output, classes)


def _linear(model: Any, data: Any, background: Any, names: list[str]) -> Attributions:
    import numpy as np

    inner = access.unwrap(model)
    try:
        rows = np.asarray(data, dtype=np.float64)
        reference = np.asarray(background, dtype=np.float64).mean(axis=0)
    except (TypeError, ValueError) as error:
        raise InvalidInput(f"a linear model is explained on numeric columns: {error}") from None
    coef = np.atleast_2d(np.asarray(inner.coef_, dtype=np.float64))  # (outputs, features)
    intercept = np.broadcast_to(
        np.asarray(inner.intercept_, dtype=np.float64).reshape(-1), (coef.shape[0],)
    )
    values = (rows - reference)[:, :, None] * coef.T[None, :, :]
    base = np.tile(intercept + coef @ reference, (len(rows), 1))
    classes = None
    if coef.shape[0] == 1:
        values, base = values[:, :, 0], base[:, 0]
    elif access.is_classifier(inner):
        classes = access.classes_of(inner)
    output = "margin" if access.is_classifier(inner) else "prediction"
    return Attributions(values, base, names, "linear", output, classes)
