"""XGBoost estimators and boosters, stored in XGBoost's own UBJSON model format (no pickle).

The scikit-learn wrappers (`XGBClassifier`, `XGBRegressor`, `XGBRanker` and the random-forest
variants) are rebuilt as the same class and filled with `load_model`; a raw `Booster` loads
as a Booster inside `XGBoostBoosterModel`, whose `predict` builds the DMatrix for it.
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path
from typing import Any

from perennia.errors import IntegrityError
from perennia.models.flavors.base import distribution_version

FILE = "model.ubj"
# Only these classes are rebuilt at load time: the manifest names one, so a closed list keeps
# a tampered-with (but re-digested) manifest from making us instantiate anything else.
ESTIMATORS = ("XGBClassifier", "XGBRegressor", "XGBRanker", "XGBRFClassifier", "XGBRFRegressor")
BOOSTER = "Booster"


class XGBoostFlavor:
    """Saves XGBoost's scikit-learn estimators and raw Boosters with `save_model` (UBJSON)."""

    name = "xgboost"
    needs_pickle = False
    # Distributions loading needs beyond the model's own modules.
    requirements: tuple[str, ...] = ("scikit-learn",)

    def handles(self, model: Any) -> bool:
        """Return True for XGBoost's own estimator and Booster classes (not user subclasses)."""
        # A user's subclass may override predict; rebuilding its XGBoost base class would
        # silently drop that, so only XGBoost's own classes are claimed.
        cls = type(model)
        return cls.__module__.split(".")[0] == "xgboost" and cls.__name__ in (*ESTIMATORS, BOOSTER)

    def framework(self, model: Any) -> tuple[str, str]:
        """Return (the distribution providing `xgboost`, e.g. "xgboost-cpu", its version)."""
        name = _distribution_of("xgboost")
        return name, distribution_version(name)

    def save(self, model: Any, folder: Path) -> dict[str, Any]:
        """Write model.ubj; return the class, features and, for classifiers, the classes."""
        cls = type(model).__name__
        model.save_model(folder / FILE)
        booster = model if cls == BOOSTER else model.get_booster()
        details: dict[str, Any] = {
            "file": FILE,
            "format": "ubj",
            "class": cls,
            "n_features": int(booster.num_features()),
            "feature_names": list(booster.feature_names) if booster.feature_names else None,
        }
        if cls == BOOSTER:
            return details
        # The estimator's save_model keeps the booster but not its hyper-parameters, and
        # `missing` changes what predict returns, so it travels in the manifest. NaN (the
        # default) is stored as None because the manifest is strict JSON.
        missing = float(model.missing)
        details["missing"] = None if math.isnan(missing) else missing
        details["objective"] = model.objective if isinstance(model.objective, str) else "custom"
        if hasattr(model, "n_classes_"):
            details["classes"] = [_json_label(label) for label in model.classes_]
            details["n_classes"] = int(model.n_classes_)
        return details

    def load(self, folder: Path, details: dict[str, Any], *, trusted_types: list[str]) -> Any:
        """Return the rebuilt estimator, or an XGBoostBoosterModel for a raw Booster."""
        import xgboost

        cls = details.get("class")
        path = folder / details.get("file", FILE)
        if cls == BOOSTER:
            return XGBoostBoosterModel(xgboost.Booster(model_file=str(path)))
        if cls not in ESTIMATORS:
            raise IntegrityError(
                f"the manifest names XGBoost class {cls!r}; expected one of {', '.join(ESTIMATORS)}"
            )
        missing = details.get("missing")
        model = getattr(xgboost, cls)(missing=math.nan if missing is None else missing)
        model.load_model(path)
        if "n_classes" in details and int(model.n_classes_) != details["n_classes"]:
            raise IntegrityError(
                f"the XGBoost model file holds {model.n_classes_} classes but the manifest "
                f"records {details['n_classes']}; refusing to load it"
            )
        return model


class XGBoostBoosterModel:
    """A loaded raw XGBoost Booster whose `predict` accepts arrays and DataFrames."""

    def __init__(self, booster: Any) -> None:
        self.booster = booster

    def predict(self, data: Any) -> Any:
        """Return the booster's predictions for `data` (wrapped in a DMatrix)."""
        import xgboost

        types = self.booster.feature_types or []
        # Categorical features need the flag, or the DMatrix refuses pandas category columns.
        options: dict[str, Any] = {"enable_categorical": "c" in types}
        if self.booster.feature_names and not hasattr(data, "columns"):
            # A plain array is positional, as with XGBClassifier.predict: give it the booster's
            # names so that feature validation compares like with like instead of failing.
            options["feature_names"] = self.booster.feature_names
            options["feature_types"] = self.booster.feature_types
        return self.booster.predict(xgboost.DMatrix(data, **options))

    def __repr__(self) -> str:
        return f"XGBoostBoosterModel({self.booster.num_features()} features)"


@cache
def _distribution_of(module: str) -> str:
    """Return the installed distribution that provides `module` (xgboost or xgboost-cpu)."""
    from importlib.metadata import packages_distributions

    owners = packages_distributions().get(module) or [module]
    return sorted(owners)[0]


def _json_label(label: Any) -> Any:
    """Return a class label as a JSON-ready Python scalar."""
    return label.item() if hasattr(label, "item") else label


FLAVOR = XGBoostFlavor()
