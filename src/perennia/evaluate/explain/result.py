"""What explanations return: global feature importance and per-prediction attributions.

Both keep numpy arrays for callers and turn into plain JSON-ready data with `to_dict()`,
which is the shape `POST /explain` answers with and the evaluation result stores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FeatureImportance:
    """How much each feature matters to a model overall.

    - `importances_mean`: one value per feature (for permutation: the mean drop in the
      metric when the feature is shuffled; for native methods: the library's own measure).
    - `importances_std` / `importances`: the spread and the (features x repeats) drops of a
      permutation importance; None for native methods, which have no repeats.
    - `method`: "permutation", "gain", "split", "impurity" or "abs_coef".
    - `metric` and `baseline`: the metric permutation scored with and its unshuffled score.
    """

    feature_names: list[str]
    importances_mean: Any
    method: str
    importances_std: Any = None
    importances: Any = None
    metric: str | None = None
    baseline: float | None = None

    def as_dict(self) -> dict[str, float]:
        """Return feature name -> importance, in the model's feature order."""
        return {
            name: float(value)
            for name, value in zip(self.feature_names, self.importances_mean, strict=True)
        }

    def top(self, k: int | None = None) -> list[tuple[str, float]]:
        """Return the (feature, importance) pairs, most important first (the first k if given)."""
        ranked = sorted(self.as_dict().items(), key=lambda pair: (-pair[1], pair[0]))
        return ranked if k is None else ranked[:k]

    def to_dict(self) -> dict[str, Any]:
        """Return the importance as JSON-ready data (non-finite numbers become None)."""
        std = self.importances_std
        return _json_ready(
            {
                "method": self.method,
                "metric": self.metric,
                "baseline": self.baseline,
                "feature_names": list(self.feature_names),
                "importances_mean": self.importances_mean,
                "importances_std": None if std is None else std,
            }
        )


@dataclass(frozen=True)
class Attributions:
    """Per-prediction attributions: how far each feature moved each row's output from the base.

    - `values`: (rows, features); for a model with several outputs (multiclass) (rows,
      features, classes), the last axis in the order of `classes`. A binary classifier is
      explained for its positive class (`classes_[1]`) alone.
    - `base_values`: (rows,) or (rows, classes): the output expected before any feature is
      known (the trees' mean, or the mean output over the background rows).
    - `output`: what `values.sum(features) + base_values` equals: "margin" (the raw score
      before the link: log-odds for binary boosting and logistic regression), "probability"
      or "prediction". Occlusion values do not add up (see `additive`).
    - `method`: "xgboost_treeshap", "lightgbm_treeshap", "shap_tree", "linear", "shap_kernel",
      "shap_permutation" or "occlusion".
    """

    values: Any
    base_values: Any
    feature_names: list[str]
    method: str
    output: str
    classes: list[Any] | None = None

    @property
    def additive(self) -> bool:
        """Return True when the values plus the base add up to the model's output (SHAP)."""
        return self.method != "occlusion"

    def totals(self) -> Any:
        """Return values summed over the features plus the base: the explained output per row."""
        return self.values.sum(axis=1) + self.base_values

    def to_dict(self) -> dict[str, Any]:
        """Return `POST /explain`'s answer: attributions, base_values, feature_names, method,
        output and (with several outputs) classes, as JSON-ready data."""
        body = {
            "attributions": self.values,
            "base_values": self.base_values,
            "feature_names": list(self.feature_names),
            "method": self.method,
            "output": self.output,
        }
        if self.classes is not None:
            body["classes"] = list(self.classes)
        return _json_ready(body)


def _json_ready(value: Any) -> Any:
    import math

    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if hasattr(value, "tolist") and not isinstance(value, str):
        value = value.tolist()
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
