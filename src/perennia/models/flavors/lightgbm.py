"""LightGBM estimators and boosters, stored in LightGBM's text model format (no pickle).

Loading does not rebuild the scikit-learn wrapper: it reads the text model into a
`lightgbm.Booster` and wraps it in `LightGBMModel` (regressors, rankers, raw boosters) or
`LightGBMClassifier`, which computes labels and probabilities exactly as `LGBMClassifier`
does from the booster's output and the class labels kept in the manifest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from perennia.errors import IntegrityError, InvalidInput
from perennia.models.flavors.base import distribution_version

FILE = "model.txt"
ESTIMATORS = ("LGBMClassifier", "LGBMRegressor", "LGBMRanker")
BOOSTER = "Booster"


class LightGBMFlavor:
    """Saves LightGBM's scikit-learn estimators and raw Boosters as text models."""

    name = "lightgbm"
    needs_pickle = False
    # Distributions loading needs beyond the model's own modules.
    requirements: tuple[str, ...] = ()

    def handles(self, model: Any) -> bool:
        """Return True for LightGBM's own estimator and Booster classes (not user subclasses)."""
        # A user's subclass may override predict, which the text model cannot carry.
        cls = type(model)
        return cls.__module__.split(".")[0] == "lightgbm" and cls.__name__ in (*ESTIMATORS, BOOSTER)

    def framework(self, model: Any) -> tuple[str, str]:
        """Return ("lightgbm", its version)."""
        return "lightgbm", distribution_version("lightgbm")

    def save(self, model: Any, folder: Path) -> dict[str, Any]:
        """Write model.txt; return the class, objective, features and a classifier's classes."""
        cls = type(model).__name__
        booster = model if cls == BOOSTER else model.booster_
        # num_iteration=None keeps the best iteration when early stopping found one, which is
        # what the estimator's predict uses.
        booster.save_model(folder / FILE)
        details: dict[str, Any] = {
            "file": FILE,
            "format": "text",
            "class": cls,
            "objective": _objective(folder / FILE),
            "n_features": int(booster.num_feature()),
            "feature_names": list(booster.feature_name()),
        }
        if cls == "LGBMClassifier":
            classes = model.classes_
            details["classes"] = [_json_label(label) for label in classes]
            details["classes_dtype"] = str(classes.dtype)
            details["n_classes"] = int(model.n_classes_)
            # With a callable objective LGBMClassifier returns raw scores from both methods.
            details["custom_objective"] = callable(model.objective_)
        return details

    def load(self, folder: Path, details: dict[str, Any], *, trusted_types: list[str]) -> Any:
        """Return a LightGBMClassifier for classifiers, else a LightGBMModel."""
        import lightgbm

        cls = details.get("class")
        if cls not in (*ESTIMATORS, BOOSTER):
            raise IntegrityError(
                f"the manifest names LightGBM class {cls!r}; expected one of "
                f"{', '.join((*ESTIMATORS, BOOSTER))}"
            )
        booster = lightgbm.Booster(model_file=str(folder / details.get("file", FILE)))
        if cls != "LGBMClassifier":
            return LightGBMModel(booster)
        return LightGBMClassifier(
            booster,
            _labels(details["classes"], details.get("classes_dtype")),
            custom_objective=bool(details.get("custom_objective")),
        )


class LightGBMModel:
    """A loaded LightGBM booster: `predict` returns the booster's output for arrays or frames."""

    def __init__(self, booster: Any) -> None:
        self.booster = booster

    def predict(self, data: Any) -> Any:
        """Return the booster's predictions for `data` (a DataFrame keeps its categories)."""
        return self.booster.predict(data)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.booster.num_feature()} features)"


class LightGBMClassifier(LightGBMModel):
    """A loaded LGBMClassifier: labels and probabilities computed as LGBMClassifier does."""

    def __init__(self, booster: Any, classes: Any, *, custom_objective: bool = False) -> None:
        super().__init__(booster)
        self.classes_ = classes
        self.n_classes_ = len(classes)
        self.custom_objective = custom_objective

    def predict_proba(self, data: Any) -> Any:
        """Return class probabilities, shape (n, n_classes)."""
        import numpy as np

        result = self.booster.predict(data)
        if self.custom_objective or self.n_classes_ > 2:
            return result
        return np.vstack((1.0 - result, result)).transpose()

    def predict(self, data: Any) -> Any:
        """Return class labels: the label of the most probable class."""
        import numpy as np

        result = self.predict_proba(data)
        if self.custom_objective:
            return result
        # argmax over the same (1 - p, p) pair LGBMClassifier builds, so ties and rounding
        # at p = 0.5 resolve identically.
        return self.classes_[np.argmax(result, axis=1)]


def _objective(path: Path) -> str | None:
    """Return the objective line of a LightGBM text model's header (e.g. "binary sigmoid:1")."""
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("objective="):
                return line.strip().partition("=")[2]
            if line.startswith("Tree="):
                break  # the header is over
    return None


def _labels(values: list[Any], dtype: str | None) -> Any:
    """Return the class labels as an array of their original dtype where numpy can rebuild it."""
    import numpy as np

    if dtype and np.dtype(dtype).kind in "biufU":
        return np.asarray(values, dtype=dtype)
    labels = np.empty(len(values), dtype=object)
    labels[:] = values
    return labels


def _json_label(label: Any) -> Any:
    """Return a class label as a JSON-ready Python scalar, or raise naming the bad one."""
    value = label.item() if hasattr(label, "item") else label
    if not isinstance(value, str | int | float | bool):
        raise InvalidInput(
            f"class label {label!r} ({type(label).__name__}) cannot be stored in the manifest; "
            "train with str, int, float or bool labels"
        )
    return value


FLAVOR = LightGBMFlavor()
