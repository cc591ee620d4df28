"""The flavor contract: how one kind of model is written to a package folder and read back.

A flavor writes only formats that load without running code the package could smuggle in
(skops, XGBoost's UBJSON, LightGBM's text model, ONNX) unless it says `needs_pickle`; the
package refuses to load a pickle flavor unless the caller passes `allow_pickle=True`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol


class Flavor(Protocol):
    """One model family: recognises its models, saves them and loads them back."""

    name: str
    needs_pickle: bool
    requirements: tuple[str, ...]

    def handles(self, model: Any) -> bool:
        """Return True when this flavor can save `model`."""
        ...

    def framework(self, model: Any) -> tuple[str, str]:
        """Return (distribution name, version) of the library the model needs."""
        ...

    def save(self, model: Any, folder: Path) -> dict[str, Any]:
        """Write the model's files into `folder`; return flavor details kept in the manifest."""
        ...

    def load(self, folder: Path, details: dict[str, Any], *, trusted_types: list[str]) -> Any:
        """Return the model object stored in `folder` (digests were already verified)."""
        ...


def distribution_version(name: str) -> str:
    """Return the installed version of a distribution, or "unknown"."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"
