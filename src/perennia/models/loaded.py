"""LoadedModel: one interface over every flavor, with the signature enforced at predict time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from perennia.errors import InvalidInput


class LoadedModel:
    """A verified model: `predict`, `predict_proba` where the model has it, and `metadata`."""

    def __init__(self, model: Any, manifest: Any, folder: Path) -> None:
        self._model = model
        self.metadata = manifest
        self.folder = folder
        self._signature = None
        if manifest.signature:
            from perennia.models.signature import ModelSignature

            self._signature = ModelSignature.from_dict(manifest.signature)

    @property
    def signature(self) -> Any:
        """Return the model's ModelSignature, or None when it was saved without one."""
        return self._signature

    @property
    def input_example(self) -> Any:
        """Return the input example saved with the model, or None."""
        from perennia.models.package import read_example

        return read_example(self.folder, self.metadata)

    @property
    def feature_names_in_(self) -> Any:
        """Return the input column names, as scikit-learn names them: from the model, else the
        signature (an evaluator selects these columns from a wider table)."""
        names = getattr(self._model, "feature_names_in_", None)
        signature = self._signature
        if names is None and signature is not None and signature.input_kind == "dataframe":
            names = [spec.name for spec in signature.inputs]
        if names is None:
            raise AttributeError("feature_names_in_")  # as for an estimator fitted on arrays
        return names

    def unwrap(self) -> Any:
        """Return what the flavor loaded: the estimator, or its wrapper around a booster/session."""
        return self._model

    def predict(self, data: Any) -> Any:
        """Return the model's predictions for `data`, checked against the signature first."""
        return self._model.predict(self._inputs(data))

    def predict_proba(self, data: Any) -> Any:
        """Return class probabilities, or raise when the model has none."""
        method = getattr(self._model, "predict_proba", None)
        if method is None:
            raise InvalidInput(
                f"{self.metadata.model_class} has no predict_proba; it is not a probabilistic "
                "classifier"
            )
        return method(self._inputs(data))

    def _inputs(self, data: Any) -> Any:
        if self._signature is None:
            return data
        from perennia.models.signature import enforce

        return enforce(self._signature, data)

    def __repr__(self) -> str:
        return f"LoadedModel({self.metadata.model_class}, flavor={self.metadata.flavor})"
