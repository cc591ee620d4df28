"""False discovery rate control across the columns of one dataset."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from perennia.errors import InvalidInput
from perennia.monitoring.stats.result import numeric_sample

if TYPE_CHECKING:
    import numpy as np


def benjamini_hochberg(p_values: Any, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Return (rejected, adjusted): Benjamini-Hochberg step-up decisions at `alpha` and the
    BH-adjusted p-values, in the input order."""
    import numpy as np

    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise InvalidInput(f"alpha must be a number strictly between 0 and 1, got {alpha!r}")
    p = numeric_sample(p_values, "p_values")
    if ((p < 0) | (p > 1)).any():
        raise InvalidInput("p_values must lie in [0, 1]")
    order = np.argsort(p)
    m = p.size
    ranked = p[order] * (m / np.arange(1, m + 1))
    # Step-up: each adjusted value is the smallest scaled p-value at its rank or above.
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    adjusted = np.empty_like(ranked)
    adjusted[order] = np.clip(ranked, 0.0, 1.0)
    return adjusted <= alpha, adjusted
