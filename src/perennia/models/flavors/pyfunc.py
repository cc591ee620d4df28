"""Any Python object with a `predict` method, stored with cloudpickle.

Unpickling runs code chosen by whoever wrote the file, so this flavor is `needs_pickle`: the
package loads it only when the caller passes `allow_pickle=True`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from perennia.models.flavors.base import distribution_version

FILE = "model.pkl"


class PythonFunctionFlavor:
    """Saves an object with `predict` (a class instance, a wrapper) by pickling it."""

    name = "python_function"
    needs_pickle = True
    # Distributions loading needs beyond the model's own modules.
    requirements: tuple[str, ...] = ("cloudpickle",)

    def handles(self, model: Any) -> bool:
        """Return True for objects with a callable predict."""
        return callable(getattr(model, "predict", None))

    def framework(self, model: Any) -> tuple[str, str]:
        """Return ("cloudpickle", its version)."""
        return "cloudpickle", distribution_version("cloudpickle")

    def save(self, model: Any, folder: Path) -> dict[str, Any]:
        """Write model.pkl; return the file name and the class it holds."""
        import cloudpickle

        with open(folder / FILE, "wb") as handle:
            cloudpickle.dump(model, handle)
        cls = type(model)
        return {
            "file": FILE,
            "class": f"{cls.__module__}.{cls.__qualname__}",
            "python": ".".join(map(str, sys.version_info[:3])),
        }

    def load(self, folder: Path, details: dict[str, Any], *, trusted_types: list[str]) -> Any:
        """Return the unpickled object (the package has checked allow_pickle and digests)."""
        import pickle

        with open(folder / details.get("file", FILE), "rb") as handle:
            return pickle.load(handle)  # noqa: S301 - only reached with allow_pickle=True


FLAVOR = PythonFunctionFlavor()
