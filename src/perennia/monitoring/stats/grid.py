"""Exact two-sample KS and Wasserstein in linear time: a fine grid, refined only where needed.

Sorting a million floats costs about 70 ms on this machine kind, two sorts a column; this
module avoids both. Each sample is counted into the same `GRID_SIZE` equal-width buckets over
the pooled range (one multiply, one `bincount`). Because a bucket index never decreases as the
value grows, buckets hold contiguous runs of the pooled order, and within a bucket the gap
F - G between the empirical CDFs moves by at most the bucket's shares. So:

- KS: the gap at every bucket's end is a real value of F - G; a bucket whose gap could not
  exceed the largest of those is skipped;
- Wasserstein: where the gap keeps one sign across a bucket, the integral of |F - G| over it is
  the absolute integral of F - G, which each bucket's count and "tail" (sum of distances to its
  upper edge) give exactly;

and only the few remaining buckets (near the KS maximum, where the CDFs cross) have their points
gathered and sorted. Results equal the sort-based definitions up to floating-point rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

GRID_SIZE = 1 << 16


@dataclass(frozen=True)
class GridResult:
    """The KS statistic D = max |F - G| and the 1-Wasserstein distance of two samples."""

    ks: float
    wasserstein: float


@dataclass(frozen=True)
class Bucketed:
    index: np.ndarray  # each value's bucket
    counts: np.ndarray  # values per bucket (int64)
    tails: np.ndarray  # per bucket, sum of (upper edge - value) in bucket widths


@dataclass(frozen=True)
class PairGrid:
    """Two samples counted into one grid of `size` equal-width buckets over their pooled range."""

    a: np.ndarray
    b: np.ndarray
    lo: float
    scale: float  # buckets per unit of value
    size: int
    ba: Bucketed
    bb: Bucketed

    @classmethod
    def build(cls, a: np.ndarray, b: np.ndarray, size: int = GRID_SIZE) -> PairGrid | None:
        """Return the grid of `a` and `b`, or None when their range is empty or too wide to grid."""
        import numpy as np

        lo = float(min(a.min(), b.min()))
        hi = float(max(a.max(), b.max()))
        span = hi - lo
        if span == 0 or not np.isfinite(span) or not np.isfinite(size / span):
            return None
        scale = size / span
        return cls(a, b, lo, scale, size, bucket(a, lo, scale, size), bucket(b, lo, scale, size))

    def bucket_of(self, values: np.ndarray) -> np.ndarray:
        """Return the bucket each of `values` (inside the pooled range) falls in."""
        import numpy as np

        index = ((np.asarray(values, dtype=np.float64) - self.lo) * self.scale).astype(np.int64)
        return np.clip(index, 0, self.size - 1)


def ks_and_wasserstein(a: np.ndarray, b: np.ndarray, size: int = GRID_SIZE) -> GridResult:
    """Return the exact KS statistic and Wasserstein distance of finite 1-D samples `a` and `b`."""
    grid = PairGrid.build(a, b, size)
    if grid is None:
        return _sorted_fallback(a, b)
    return grid_statistics(grid)


def grid_statistics(grid: PairGrid) -> GridResult:
    """Return the exact KS statistic and Wasserstein distance of the grid's two samples."""
    import numpy as np

    ba, bb = grid.ba, grid.bb
    m, n = grid.a.size, grid.b.size
    # Integer gaps scaled by m*n keep the sign tests exact.
    start_a = np.cumsum(ba.counts) - ba.counts
    start_b = np.cumsum(bb.counts) - bb.counts
    gap_start = start_a * float(n) - start_b * float(m)
    gap_end = gap_start + ba.counts * float(n) - bb.counts * float(m)
    low = gap_start - bb.counts * float(m)  # the gap's least value inside the bucket
    high = gap_start + ba.counts * float(n)  # and its greatest
    d_ends = float(np.abs(gap_end).max())
    ks_open = np.maximum(high, -low) > d_ends
    one_sign = (low >= 0) | (high <= 0)
    width = 1.0 / grid.scale
    integral = gap_start + ba.tails * float(n) - bb.tails * float(m)
    w_known = float(np.abs(integral[one_sign]).sum()) * width
    open_buckets = ks_open | ~one_sign
    d_open, w_open = _refine(grid, open_buckets, gap_start, width, ~one_sign)
    mn = float(m) * float(n)
    return GridResult(ks=max(d_ends, d_open) / mn, wasserstein=(w_known + w_open) / mn)


def bucket(values: np.ndarray, lo: float, scale: float, size: int) -> Bucketed:
    """Return each value's bucket on the grid starting at `lo`, and per-bucket counts and tails."""
    import numpy as np

    position = (values - lo) * scale
    index = position.astype(np.int64)
    np.minimum(index, size - 1, out=index)
    # position becomes the distance to the bucket's upper edge, in bucket widths.
    np.subtract(position, index, out=position)
    np.subtract(1.0, position, out=position)
    counts = np.bincount(index, minlength=size)
    tails = np.bincount(index, weights=position, minlength=size)
    return Bucketed(index=index, counts=counts, tails=tails)


def _refine(
    grid: PairGrid,
    open_buckets: np.ndarray,
    gap_start: np.ndarray,
    width: float,
    integrate: np.ndarray,
) -> tuple[float, float]:
    """Return (largest |gap| at a value, integral of |gap| over the `integrate` buckets), both
    scaled by m*n, from the sorted points of the open buckets."""
    import numpy as np

    if not open_buckets.any():
        return 0.0, 0.0
    a, b, ba, bb = grid.a, grid.b, grid.ba, grid.bb
    take_a, take_b = open_buckets[ba.index], open_buckets[bb.index]
    values = np.concatenate([a[take_a], b[take_b]])
    bucket = np.concatenate([ba.index[take_a], bb.index[take_b]])
    step = np.concatenate(
        [np.full(int(take_a.sum()), float(b.size)), np.full(int(take_b.sum()), -float(a.size))]
    )
    # Buckets hold contiguous runs of the order, so sorting by value also groups by bucket.
    order = np.argsort(values, kind="stable")
    values, bucket, step = values[order], bucket[order], step[order]
    first = np.ones(values.size, dtype=bool)
    first[1:] = bucket[1:] != bucket[:-1]
    running = np.cumsum(step)
    run = np.cumsum(first) - 1
    gap = gap_start[bucket] + running - (running - step)[first][run]
    # KS reads the gap after the last of equal values, never between ties.
    last = np.ones(values.size, dtype=bool)
    last[:-1] = values[1:] != values[:-1]
    d_open = float(np.abs(gap[last]).max())
    return d_open, _integrate(values, bucket, gap, first, gap_start, grid.lo, width, integrate)


def _integrate(
    values: np.ndarray,
    bucket: np.ndarray,
    gap: np.ndarray,
    first: np.ndarray,
    gap_start: np.ndarray,
    lo: float,
    width: float,
    integrate: np.ndarray,
) -> float:
    """Return the integral of |gap| over the open buckets marked in `integrate`."""
    import numpy as np

    keep = integrate[bucket]
    if not keep.any():
        return 0.0
    values, bucket, gap, first = values[keep], bucket[keep], gap[keep], first[keep]
    lower_edge = lo + bucket * width
    upper_edge = lo + (bucket + 1) * width
    # Each point's gap holds until the next point of its bucket, or the bucket's upper edge.
    following = np.empty_like(values)
    following[:-1] = values[1:]
    is_last = np.ones(values.size, dtype=bool)
    is_last[:-1] = bucket[1:] != bucket[:-1]
    following[is_last] = upper_edge[is_last]
    inside = float((np.abs(gap) * np.maximum(following - values, 0.0)).sum())
    leading = float(
        (
            np.abs(gap_start[bucket[first]]) * np.maximum(values[first] - lower_edge[first], 0.0)
        ).sum()
    )
    return inside + leading


def _sorted_fallback(a: np.ndarray, b: np.ndarray) -> GridResult:
    """Return both statistics by sorting, for ranges too wide to grid (near the float limits)."""
    import numpy as np

    from perennia._util.distances import ks_statistic

    sa, sb = np.sort(a), np.sort(b)
    pooled = np.sort(np.concatenate([sa, sb]))
    left = pooled[:-1]
    gaps = (
        np.searchsorted(sa, left, "right") / sa.size - np.searchsorted(sb, left, "right") / sb.size
    )
    with np.errstate(over="ignore", invalid="ignore"):
        distance = float((np.abs(gaps) * np.diff(pooled)).sum())
    return GridResult(ks=ks_statistic(sa, sb), wasserstein=distance)
