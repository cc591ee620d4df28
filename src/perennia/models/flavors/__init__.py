"""Model flavors by name; `flavor_for(model)` picks the one that handles a model.

Flavors are looked up lazily so that saving a scikit-learn model never imports XGBoost.
"""

from __future__ import annotations

import importlib
from typing import Any

from perennia.errors import InvalidInput

# Order matters: the first flavor that handles a model wins, so specific libraries come
# before scikit-learn (XGBoost's and LightGBM's estimators are scikit-learn estimators too)
# and the pickle-based "python_function" comes last.
_MODULES = {
    "xgboost": "perennia.models.flavors.xgboost",
    "lightgbm": "perennia.models.flavors.lightgbm",
    "onnx": "perennia.models.flavors.onnx",
    "sklearn": "perennia.models.flavors.sklearn",
    "python_function": "perennia.models.flavors.pyfunc",
}


def get_flavor(name: str) -> Any:
    """Return the flavor named `name`, or raise naming the known ones."""
    if name not in _MODULES:
        raise InvalidInput(f"unknown model flavor {name!r}; known: {', '.join(_MODULES)}")
    return importlib.import_module(_MODULES[name]).FLAVOR


def flavor_for(model: Any) -> Any:
    """Return the first flavor that can save `model`."""
    for name in _MODULES:
        try:
            flavor = get_flavor(name)
        except ImportError:
            continue  # that library is not installed, so the model cannot be one of its
        if flavor.handles(model):
            return flavor
    raise InvalidInput(
        f"no flavor can save a {type(model).__name__}: pass a scikit-learn, XGBoost, LightGBM or "
        "ONNX model, or an object with a predict method"
    )
