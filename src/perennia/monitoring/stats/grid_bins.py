"""Quantiles and bin counts read off a `PairGrid`, so PSI needs no sort and no full search.

A value at a given rank, or the number of values below an edge, is found by locating its bucket
from the grid's counts and looking only at that bucket's values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from perennia.monitoring.stats.grid import Bucketed, PairGrid

if TYPE_CHECKING:
    import numpy as np


def reference_quantiles(grid: PairGrid, probs: np.ndarray) -> np.ndarray:
    """Return numpy.quantile(grid.a, probs) (the default linear method), exactly."""
    import numpy as np

    n = grid.a.size
    virtual = (n - 1) * np.asarray(probs, dtype=np.float64)
    below = np.floor(virtual).astype(np.int64)
    above = np.minimum(below + 1, n - 1)
    ranked = _values_at_ranks(grid, np.concatenate([below, above]))
    lower, upper = ranked[: below.size], ranked[below.size :]
    gamma = virtual - below
    # numpy's _lerp: interpolate from the nearer end, so t = 1 gives `upper` exactly.
    diff = upper - lower
    return np.where(gamma >= 0.5, upper - diff * (1 - gamma), lower + diff * gamma)


def counts_below(grid: PairGrid, sample: str, edges: np.ndarray, *, inclusive: bool) -> np.ndarray:
    """Return, for each edge, how many of sample "a" or "b" are < it (<= when `inclusive`)."""
    import numpy as np

    values, bucketed = (grid.a, grid.ba) if sample == "a" else (grid.b, grid.bb)
    less, at_most = _below_edges(grid, values, bucketed, np.asarray(edges, dtype=np.float64))
    return at_most if inclusive else less


def _values_at_ranks(grid: PairGrid, ranks: np.ndarray) -> np.ndarray:
    """Return the values of sample a at the given 0-based ranks of its sorted order."""
    import numpy as np

    counts = grid.ba.counts
    ends = np.cumsum(counts)
    buckets = np.searchsorted(ends, ranks, side="right")
    inside, inside_bucket = _gather(grid.a, grid.ba.index, buckets, grid.size)
    order = np.lexsort((inside, inside_bucket))
    inside, inside_bucket = inside[order], inside_bucket[order]
    offsets = np.searchsorted(inside_bucket, buckets, side="left")
    return inside[offsets + ranks - (ends[buckets] - counts[buckets])]


def _gather(
    values: np.ndarray, index: np.ndarray, buckets: np.ndarray, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return the values lying in any of `buckets`, and the bucket of each."""
    import numpy as np

    wanted = np.zeros(size, dtype=bool)
    wanted[buckets] = True
    take = wanted[index]
    return values[take], index[take]


def psi_counts(grid: PairGrid, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Return both samples' counts in the bins of `perennia.monitoring.stats.psi` (the reference's
    quantile bins plus one bin below its minimum and one above its maximum)."""
    import numpy as np

    edges = np.unique(reference_quantiles(grid, np.linspace(0.0, 1.0, bins + 1)))
    result = []
    for values, bucketed in ((grid.a, grid.ba), (grid.b, grid.bb)):
        less, at_most = _below_edges(grid, values, bucketed, edges)
        inner = np.diff(less)
        # The last inner bin is closed at the reference's maximum.
        last = at_most[-1] - less[-1] + (inner[-1] if inner.size else 0)
        inner = np.concatenate([inner[:-1], [last]])
        counts = np.concatenate([[less[0]], inner, [values.size - at_most[-1]]])
        result.append(counts.astype(np.float64))
    return result[0], result[1]


def _below_edges(
    grid: PairGrid, values: np.ndarray, bucketed: Bucketed, edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return how many values are < each edge and how many are <= it, with one gather."""
    import numpy as np

    buckets = grid.bucket_of(edges)
    before = (np.cumsum(bucketed.counts) - bucketed.counts)[buckets]
    inside, inside_bucket = _gather(values, bucketed.index, buckets, grid.size)
    order = np.lexsort((inside, inside_bucket))
    inside, inside_bucket = inside[order], inside_bucket[order]
    start = np.searchsorted(inside_bucket, buckets, side="left")
    stop = np.searchsorted(inside_bucket, buckets, side="right")
    less = np.array(
        [
            np.searchsorted(inside[i:j], e, "left")
            for i, j, e in zip(start, stop, edges, strict=True)
        ],
        dtype=np.int64,
    )
    at_most = np.array(
        [
            np.searchsorted(inside[i:j], e, "right")
            for i, j, e in zip(start, stop, edges, strict=True)
        ],
        dtype=np.int64,
    )
    return before + less, before + at_most
