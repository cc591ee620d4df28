"""Global feature importance: permutation importance on any model, or the library's own measure.

`permutation_importance` follows scikit-learn's algorithm step for step (one seed drawn
from `random_state`, a fresh RandomState of that seed per feature, each repeat shuffling the
already-shuffled column again), so on a scikit-learn model it gives the same importances as
`sklearn.inspection.permutation_importance` with the same `scoring` and `random_state`. The
repeats of one feature are predicted in one call (the model sees them stacked), which costs
one predict per feature instead of one per repeat.
"""

from __future__ import annotations

from typing import Any

from perennia._util import tables
from perennia.errors import InvalidInput
from perennia.evaluate.explain import model_access as access
from perennia.evaluate.explain import scoring
from perennia.evaluate.explain.result import FeatureImportance

# Rows one predict call may hold: the repeats of a feature are stacked up to this many.
MAX_STACKED_ROWS = 1_000_000
XGBOOST_TYPES = ("gain", "weight", "cover", "total_gain", "total_cover")
LIGHTGBM_TYPES = ("gain", "split")


def permutation_importance(
    model: Any,
    X: Any,
    y: Any,
    *,
    metric: Any = None,
    greater_is_better: bool = True,
    n_repeats: int = 5,
    random_state: Any = None,
    sample: int | float | None = None,
    sample_weight: Any = None,
) -> FeatureImportance:
    """Return how much the metric drops when each column of `X` is shuffled.

    `model`: a fitted estimator, a Perennia LoadedModel, or a function of the rows. `metric`:
    a scikit-learn scorer name (see `scoring.SCORERS`) or `metric(y_true, y_pred)` (then
    `greater_is_better` says which way is better); default accuracy for classifiers, r2
    otherwise, as scikit-learn's `score`. `sample`: score a random subset of the rows (a count,
    or a fraction), drawn once and used for the baseline and every shuffle alike (unlike
    scikit-learn's `max_samples`, whose baseline uses every row).
    """
    import numpy as np

    if not isinstance(n_repeats, int) or n_repeats < 1:
        raise InvalidInput(f"n_repeats must be a positive integer, got {n_repeats!r}")
    data, names = _table(X)
    target = _column(y, "y", len(data))
    weights = None if sample_weight is None else _column(sample_weight, "sample_weight", len(data))
    classes = access.classes_of(model)
    chosen = metric if metric is not None else scoring.default_metric(classes is not None)
    scorer = scoring.scorer_for(chosen, classes, greater_is_better=greater_is_better)
    respond = scoring.responder(model, scorer.response)
    seed = _seed(random_state)
    if sample is not None:
        rows = _sample_rows(len(data), sample, seed)
        data = data.iloc[rows] if hasattr(data, "iloc") else data[rows]
        target, weights = target[rows], None if weights is None else weights[rows]
    baseline = scorer.score(target, respond(data), weights)
    drops = np.empty((len(names), n_repeats))
    for j in range(len(names)):
        scores = _shuffled_scores(respond, scorer, data, target, weights, j, seed, n_repeats)
        drops[j] = baseline - scores
    return FeatureImportance(
        names,
        drops.mean(axis=1),
        "permutation",
        importances_std=drops.std(axis=1),
        importances=drops,
        metric=scorer.name,
        baseline=float(baseline),
    )


def _table(X: Any) -> tuple[Any, list[str]]:
    """Return X as a pandas DataFrame (tables) or a 2-D array, and its column names."""
    import pandas as pd

    if tables.is_table(X) or isinstance(X, dict):
        frame = X if isinstance(X, pd.DataFrame) else tables.to_pandas(X, "X")
        return frame, [str(c) for c in frame.columns]
    array = tables.to_numpy(X, "X")
    if array.ndim != 2:
        raise InvalidInput(f"X must be 2-D (rows x features); got shape {array.shape}")
    return array, [f"x{i}" for i in range(array.shape[1])]


def _column(values: Any, what: str, n_rows: int) -> Any:
    try:
        array = tables.to_1d(values, what)
    except (TypeError, ValueError) as error:
        raise InvalidInput(str(error)) from None
    if len(array) != n_rows:
        raise InvalidInput(
            f"{what} has {len(array)} values for {n_rows} rows of X; pass one per row"
        )
    return array


def _seed(random_state: Any) -> int:
    """Return the one seed scikit-learn draws from `random_state` for every feature."""
    import numpy as np

    if isinstance(random_state, np.random.RandomState):
        state = random_state
    elif random_state is None:
        state = np.random.mtrand._rand  # numpy's global state, as check_random_state(None)
    else:
        state = np.random.RandomState(random_state)
    return int(state.randint(np.iinfo(np.int32).max + 1))


def _sample_rows(n_rows: int, sample: int | float, seed: int) -> Any:
    import numpy as np

    if isinstance(sample, float) and 0 < sample <= 1:
        size = max(1, int(sample * n_rows))
    elif isinstance(sample, int) and not isinstance(sample, bool) and sample > 0:
        size = sample
    else:
        raise InvalidInput(f"sample must be a row count or a fraction in (0, 1], got {sample!r}")
    if size > n_rows:
        raise InvalidInput(f"sample={sample} exceeds the {n_rows} rows of X; pass at most that")
    return np.sort(np.random.default_rng(seed).choice(n_rows, size, replace=False))


def _shuffled_scores(
    respond: Any, scorer: Any, data: Any, y: Any, weights: Any, j: int, seed: int, repeats: int
) -> Any:
    """Return the scores with column j shuffled, once per repeat, as scikit-learn shuffles."""
    import numpy as np

    state = np.random.RandomState(seed)
    shuffle = np.arange(len(data))
    order = np.arange(len(data))
    orders = []
    for _ in range(repeats):
        state.shuffle(shuffle)
        order = order[shuffle]  # scikit-learn shuffles the already-shuffled column again
        orders.append(order)
    per_call = max(1, min(repeats, MAX_STACKED_ROWS // max(len(data), 1)))
    scores = []
    for start in range(0, repeats, per_call):
        chunk = orders[start : start + per_call]
        outputs = respond(_stacked(data, j, chunk))
        for k in range(len(chunk)):
            piece = outputs[k * len(data) : (k + 1) * len(data)]
            scores.append(scorer.score(y, piece, weights))
    return np.asarray(scores)


def _stacked(data: Any, j: int, orders: list[Any]) -> Any:
    """Return copies of `data`, one per order, stacked, column j reordered in each."""
    import numpy as np
    import pandas as pd

    if hasattr(data, "iloc"):
        stacked = pd.concat([data] * len(orders), ignore_index=True)
        column = data.iloc[:, j]
        shuffled = pd.concat([column.iloc[order] for order in orders], ignore_index=True)
        stacked.isetitem(j, shuffled.array)  # .array keeps the column's dtype (categories too)
        return stacked
    stacked = np.concatenate([data] * len(orders), axis=0)
    stacked[:, j] = np.concatenate([data[order, j] for order in orders])
    return stacked


def native_importance(model: Any, *, importance_type: str = "gain") -> FeatureImportance:
    """Return the model library's own importance, with the model's feature names.

    XGBoost: `get_score(importance_type)` (gain by default; features never split on get 0).
    LightGBM: `feature_importance("gain" or "split")`. scikit-learn trees and forests:
    `feature_importances_` (impurity decrease, method "impurity"). scikit-learn linear models:
    |coef| (method "abs_coef", averaged over classes), a proxy that only ranks features
    measured on one scale (standardise first). Raises CannotExplain for anything else.
    """
    import numpy as np

    found = access.booster_of(model)
    if found is not None:
        return _booster_importance(*found, importance_type)
    inner = access.unwrap(model)
    names = access.model_features(model)
    if getattr(inner, "feature_importances_", None) is not None:
        values = np.asarray(inner.feature_importances_, dtype=np.float64)
        return FeatureImportance(_names(names, values.size), values, "impurity")
    if type(inner).__module__.startswith("sklearn.linear_model") and hasattr(inner, "coef_"):
        coef = np.atleast_2d(np.asarray(inner.coef_, dtype=np.float64))
        values = np.abs(coef).mean(axis=0)
        return FeatureImportance(_names(names, values.size), values, "abs_coef")
    raise access.CannotExplain(
        f"a {type(inner).__name__} has no importance of its own; use permutation_importance "
        "with targets"
    )


def _booster_importance(kind: str, booster: Any, importance_type: str) -> FeatureImportance:
    import numpy as np

    if kind == "xgboost":
        if importance_type not in XGBOOST_TYPES:
            raise InvalidInput(
                f"importance_type for XGBoost must be one of {', '.join(XGBOOST_TYPES)}; got "
                f"{importance_type!r}"
            )
        names = booster.feature_names or [f"f{i}" for i in range(booster.num_features())]
        try:
            found = booster.get_score(importance_type=importance_type)
        except Exception as error:  # a linear booster has no split statistics
            raise access.CannotExplain(f"XGBoost gives no {importance_type}: {error}") from None
        values = np.asarray([float(found.get(name, 0.0)) for name in names])
        method = "split" if importance_type == "weight" else importance_type
        return FeatureImportance([str(n) for n in names], values, method)
    if importance_type not in LIGHTGBM_TYPES:
        raise InvalidInput(
            f"importance_type for LightGBM must be one of {', '.join(LIGHTGBM_TYPES)}; got "
            f"{importance_type!r}"
        )
    values = np.asarray(booster.feature_importance(importance_type), dtype=np.float64)
    return FeatureImportance([str(n) for n in booster.feature_name()], values, importance_type)


def _names(names: list[str] | None, width: int) -> list[str]:
    return names if names and len(names) == width else [f"x{i}" for i in range(width)]


def global_importance(
    model: Any, X: Any = None, y: Any = None, **options: Any
) -> FeatureImportance:
    """Return the model's native importance when it has a real one, else permutation importance.

    Boosted trees (gain) and scikit-learn trees (impurity) answer natively, without data.
    Linear models' |coef| is only a proxy, so with targets `y` they get permutation importance
    and without them the proxy. Other models need `X` and `y` for permutation importance;
    `options` go to `permutation_importance` (metric, n_repeats, random_state, sample, ...).
    """
    inner = access.unwrap(model)
    linear = type(inner).__module__.startswith("sklearn.linear_model")
    if not (linear and y is not None):
        try:
            return native_importance(model)
        except access.CannotExplain:
            if y is None:
                raise access.CannotExplain(
                    f"a {type(inner).__name__} has no importance of its own; pass X and y for "
                    "permutation importance"
                ) from None
    if X is None or y is None:
        raise InvalidInput("permutation importance needs both X and y")
    return permutation_importance(model, X, y, **options)
