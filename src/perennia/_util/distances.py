"""Distances between two distributions, written once for every layer that measures drift.

Two kinds of input:

- shares over the same buckets (`psi`, `jensen_shannon`, `linf`): how a caller buckets its data
  is its own stated choice (a contract's reference deciles, monitoring's quantile bins with
  out-of-range bins, equal-width shared bins); the distance over the buckets is the same;
- sorted samples (`ecdfs_at_pooled`, `ks_statistic`): both empirical CDFs read off with
  `searchsorted`, so no pooled sort is needed.

Callers check their input (finite, non-empty); numpy loads on first call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

PSI_FLOOR = 1e-4  # an empty bucket's share is raised to this so PSI's log stays finite


def quantile_edges(reference: Any, bins: int) -> np.ndarray:
    """Return the inner edges at the reference's quantiles 1/bins, ..., (bins-1)/bins, ties merged."""
    import numpy as np

    return np.unique(np.quantile(reference, np.arange(1, bins) / bins))


def bucket_shares(edges: Any, values: Any) -> np.ndarray:
    """Return each bucket's share of `values` for the buckets (-inf, e0], (e0, e1], ..., (e_last, inf)."""
    import numpy as np

    edges, values = np.asarray(edges, dtype=np.float64), np.asarray(values, dtype=np.float64)
    # side="left": a value equal to an edge falls in the bucket that edge closes, (low, edge].
    counts = np.bincount(np.searchsorted(edges, values, side="left"), minlength=edges.size + 1)
    return counts / values.size


def psi(p: Any, q: Any) -> float:
    """Return the population stability index sum((q - p) * ln(q / p)), shares floored at PSI_FLOOR.

    The floor is not renormalised, as is the custom.
    """
    import numpy as np

    p = np.maximum(np.asarray(p, dtype=np.float64), PSI_FLOOR)
    q = np.maximum(np.asarray(q, dtype=np.float64), PSI_FLOOR)
    return float(np.sum((q - p) * np.log(q / p)))


def jensen_shannon(p: Any, q: Any) -> float:
    """Return the Jensen-Shannon distance, base 2 (in [0, 1]), as scipy.spatial.distance.jensenshannon.

    Both sides are normalised to sum to 1 first, as scipy does.
    """
    import numpy as np

    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2.0
    divergence = float(np.sum(_rel_entr(p, m) + _rel_entr(q, m))) / np.log(2.0)
    return float(np.sqrt(max(divergence / 2.0, 0.0)))


def linf(p: Any, q: Any) -> float:
    """Return the L-infinity distance: the largest change in one bucket's share (0 for no buckets)."""
    import numpy as np

    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    return float(np.max(np.abs(p - q))) if p.size else 0.0


def ecdfs_at_pooled(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return both right-continuous empirical CDFs of sorted `a` and `b` at every pooled value
    (a's values, then b's)."""
    import numpy as np

    cdf_a = np.concatenate([np.searchsorted(a, a, "right"), np.searchsorted(a, b, "right")])
    cdf_b = np.concatenate([np.searchsorted(b, a, "right"), np.searchsorted(b, b, "right")])
    return cdf_a / a.size, cdf_b / b.size


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Return the two-sample Kolmogorov-Smirnov statistic of sorted `a` and `b`: max |F_a - F_b|."""
    import numpy as np

    cdf_a, cdf_b = ecdfs_at_pooled(a, b)
    return float(np.max(np.abs(cdf_a - cdf_b)))


def _rel_entr(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Return x * ln(x / y) element-wise, 0 where x is 0 (scipy.special.rel_entr for y > 0)."""
    import numpy as np

    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 0, x * np.log(x / y), 0.0)
