"""Explanations: global feature importance and per-prediction attributions for any model.

- `global_importance`, `permutation_importance`, `native_importance` -> `FeatureImportance`
- `attributions` -> `Attributions` (exact TreeSHAP for XGBoost/LightGBM, shap or occlusion
  for the rest; `method_for` says which a model gets)
- `mean_abs_attribution`, `top_movers`: summaries a monitor can store and compare

The modules import numpy, pandas and shap inside their functions, so importing this package
stays cheap. The function `attributions` shadows its module's name here on purpose.
"""

from __future__ import annotations

from perennia.evaluate.explain.attributions import NEEDS_BACKGROUND, attributions, method_for
from perennia.evaluate.explain.importance import (
    global_importance,
    native_importance,
    permutation_importance,
)
from perennia.evaluate.explain.model_access import CannotExplain
from perennia.evaluate.explain.result import Attributions, FeatureImportance
from perennia.evaluate.explain.summaries import Mover, mean_abs_attribution, top_movers

__all__ = [
    "NEEDS_BACKGROUND",
    "Attributions",
    "CannotExplain",
    "FeatureImportance",
    "Mover",
    "attributions",
    "global_importance",
    "mean_abs_attribution",
    "method_for",
    "native_importance",
    "permutation_importance",
    "top_movers",
]
