"""scikit-learn estimators and pipelines, stored in skops' secure format (no pickle).

skops refuses to load types outside its trusted set. Types that scikit-learn itself defines
(`sklearn.*`, e.g. an MLP's optimizer state) are accepted too: loading them only builds
scikit-learn's own objects. Any other type (a user's function, a third-party class) is recorded
at save time and must be named in `trusted_types=` at load time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from perennia.errors import PermissionDenied
from perennia.models.flavors.base import distribution_version

FILE = "model.skops"


def refused_types(untrusted: list[str], trusted: list[str] | None) -> list[str]:
    """Return the types a skops file needs beyond skops' set, scikit-learn's own and `trusted`."""
    return sorted(
        name for name in set(untrusted) - set(trusted or []) if not name.startswith("sklearn.")
    )


class SklearnFlavor:
    """Saves any scikit-learn estimator (pipelines included) with skops."""

    name = "sklearn"
    needs_pickle = False
    # Distributions loading needs beyond the model's own modules.
    requirements: tuple[str, ...] = ("scikit-learn", "skops")

    def handles(self, model: Any) -> bool:
        """Return True for scikit-learn estimators."""
        return any(cls.__module__.startswith("sklearn.") for cls in type(model).__mro__)

    def framework(self, model: Any) -> tuple[str, str]:
        """Return ("scikit-learn", its version)."""
        return "scikit-learn", distribution_version("scikit-learn")

    def save(self, model: Any, folder: Path) -> dict[str, Any]:
        """Write model.skops; return the file name and the types skops does not trust."""
        import skops.io

        skops.io.dump(model, folder / FILE)
        untrusted = skops.io.get_untrusted_types(file=folder / FILE)
        return {"file": FILE, "untrusted_types": sorted(untrusted)}

    def load(self, folder: Path, details: dict[str, Any], *, trusted_types: list[str]) -> Any:
        """Return the estimator, refusing types outside skops' set unless trusted by the caller."""
        import skops.io

        path = folder / details.get("file", FILE)
        untrusted = skops.io.get_untrusted_types(file=path)
        refused = refused_types(untrusted, trusted_types)
        if refused:
            raise PermissionDenied(
                f"the model needs types outside skops' trusted set: {refused}; pass "
                "trusted_types=[...] naming them if you trust where the package came from"
            )
        return skops.io.load(path, trusted=untrusted)


FLAVOR = SklearnFlavor()
