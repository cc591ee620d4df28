"""Binned distances for numeric columns: PSI on the reference's quantile bins, and
Jensen-Shannon and Hellinger on bins shared by both samples."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from perennia._util import distances
from perennia.errors import InvalidInput
from perennia.monitoring.stats.result import TestResult, numeric_sample

if TYPE_CHECKING:
    import numpy as np


def psi(ref: Any, cur: Any, bins: int = 10) -> TestResult:
    """Return the population stability index; effect = PSI (0.1 moderate, 0.25 large, by custom).

    Binning: edges at the reference's quantiles 0, 1/bins, ..., 1 (duplicates from ties merged),
    each bin [e_i, e_i+1) and the last closed at the reference's maximum; two more bins hold
    current values below the reference's minimum and above its maximum, so a shift out of the
    reference's range counts. Shares below `perennia._util.distances.PSI_FLOOR` (1e-4) are
    raised to it, not renormalised. (A contract's drift check and `perennia.data.prepare`'s diff
    use the same PSI over different bins: the reference's inner deciles, no out-of-range bins.)
    """
    import numpy as np

    bins = _bin_count(bins)
    a = numeric_sample(ref, "ref")
    b = numeric_sample(cur, "cur")
    edges = np.unique(np.quantile(a, np.linspace(0.0, 1.0, bins + 1)))
    p = _quantile_bin_counts(a, edges) / a.size
    q = _quantile_bin_counts(b, edges) / b.size
    value = distances.psi(p, q)
    return TestResult(statistic=value, p_value=None, effect=value, method="psi")


def jensen_shannon(ref: Any, cur: Any, bins: int = 20) -> TestResult:
    """Return the Jensen-Shannon distance (base 2, in [0, 1]) on shared bins; effect = distance.

    Shared bins: `bins` equal-width bins over the pooled range, as
    numpy.histogram_bin_edges(concatenate([ref, cur]), bins).
    """
    distance = distances.jensen_shannon(*_shared_shares(ref, cur, bins))
    return TestResult(statistic=distance, p_value=None, effect=distance, method="jensen_shannon")


def hellinger(ref: Any, cur: Any, bins: int = 20) -> TestResult:
    """Return the Hellinger distance (in [0, 1]) on the shared bins of `jensen_shannon`; effect = it."""
    import numpy as np

    p, q = _shared_shares(ref, cur, bins)
    # The Euclidean form avoids the cancellation of sqrt(1 - sum(sqrt(p q))) near zero.
    distance = float(np.sqrt(((np.sqrt(p) - np.sqrt(q)) ** 2).sum() / 2.0))
    return TestResult(statistic=distance, p_value=None, effect=distance, method="hellinger")


def _bin_count(bins: Any) -> int:
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise InvalidInput(f"bins must be a positive integer, got {bins!r}")
    return bins


def _quantile_bin_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Return counts in [below min, inner bins..., above max] for the reference's quantile edges."""
    import numpy as np

    inner = max(edges.size - 1, 1)
    index = np.searchsorted(edges, values, "right") - 1
    # The maximum itself belongs to the last inner bin, which is closed on the right.
    index = np.where(values == edges[-1], inner - 1, index)
    slot = np.where(values < edges[0], 0, np.where(values > edges[-1], inner + 1, index + 1))
    return np.bincount(slot, minlength=inner + 2).astype(np.float64)


def _shared_shares(ref: Any, cur: Any, bins: Any) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np

    bins = _bin_count(bins)
    a = numeric_sample(ref, "ref")
    b = numeric_sample(cur, "cur")
    lo, hi = min(a.min(), b.min()), max(a.max(), b.max())
    edges = np.histogram_bin_edges(np.array([lo, hi]), bins=bins)
    p = np.histogram(a, bins=edges)[0] / a.size
    q = np.histogram(b, bins=edges)[0] / b.size
    return p, q
