"""Attribution summaries a monitor can keep and compare: mean |attribution| per feature, and the
features whose share of the explanation moved most between two periods.

A summary is a plain dict (feature -> float), so it can be stored as JSON beside a monitor's
other statistics and compared with last week's without the rows that produced it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from perennia.errors import InvalidInput


@dataclass(frozen=True)
class Mover:
    """One feature's mean |attribution| in two periods and the change between them."""

    feature: str
    previous: float
    current: float

    @property
    def change(self) -> float:
        """Return current minus previous (positive: the feature now moves predictions more)."""
        return self.current - self.previous


def mean_abs_attribution(attributions: Any) -> dict[str, float]:
    """Return feature -> mean over rows of |attribution|; with several outputs (multiclass),
    the mean over rows of the sum over classes, i.e. all the output the feature moves."""
    import numpy as np

    values = np.abs(np.asarray(attributions.values, dtype=np.float64))
    if values.ndim == 3:
        values = values.sum(axis=2)
    if values.ndim != 2 or values.shape[1] != len(attributions.feature_names):
        raise InvalidInput(
            f"attributions.values has shape {values.shape} for "
            f"{len(attributions.feature_names)} feature names; expected (rows, features[, classes])"
        )
    if values.shape[0] == 0:
        raise InvalidInput("the attributions hold no rows; summarise at least one row")
    means = values.mean(axis=0)
    return {str(name): float(m) for name, m in zip(attributions.feature_names, means, strict=True)}


def top_movers(previous: dict[str, float], current: dict[str, float], k: int = 5) -> list[Mover]:
    """Return the k features whose mean |attribution| changed most (by absolute change),
    largest first; a feature missing from one summary counts as 0 there."""
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise InvalidInput(f"k must be a positive integer, got {k!r}")
    movers = [
        Mover(name, float(previous.get(name, 0.0)), float(current.get(name, 0.0)))
        for name in set(previous) | set(current)
    ]
    # Ties go to the feature name so the answer does not depend on dict order.
    movers.sort(key=lambda m: (-abs(m.change), m.feature))
    return movers[:k]
