"""Downsampling a series for charts: min/max per bucket (keeps every extreme) and LTTB (shape).

Pure numpy, deterministic: every function returns the indices of the points to keep, in the
input's order, so callers pick rows from whatever columns they hold. Inputs are ordered by x;
NaN values are never chosen as extremes (a bucket holding only NaN keeps nothing).
"""

from __future__ import annotations

from typing import Any


def group_extremes(groups: Any, values: Any) -> Any:
    """Return the sorted indices of each group's min and max (first occurrence wins ties).

    `groups` holds a non-decreasing group id per point; a group's two indices collapse to one
    when its min and max are the same point.
    """
    import numpy as np

    groups = np.asarray(groups, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    keep = ~np.isnan(values)
    index = np.flatnonzero(keep)
    if not len(index):
        return np.empty(0, dtype=np.int64)
    g, v = groups[index], values[index]
    # lexsort sorts by the last key first: group, then value, then position for stable ties.
    by_min = np.lexsort((index, v, g))
    by_max = np.lexsort((index, -v, g))
    sorted_groups = g[by_min]
    first = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    chosen = np.concatenate([index[by_min[first]], index[by_max[first]]])
    return np.unique(chosen)


def step_buckets(x: Any, n_buckets: int) -> Any:
    """Return each point's bucket id when [min(x), max(x)] is cut into `n_buckets` equal widths."""
    import numpy as np

    x = np.asarray(x, dtype=np.float64)
    if not len(x):
        return np.empty(0, dtype=np.int64)
    lo, hi = float(x[0]), float(x[-1])
    if hi <= lo or n_buckets <= 1:
        return np.zeros(len(x), dtype=np.int64)
    ids = np.floor((x - lo) * (n_buckets / (hi - lo))).astype(np.int64)
    return np.minimum(ids, n_buckets - 1)


def minmax(x: Any, values: Any, max_points: int) -> Any:
    """Return the indices of each equal-width x bucket's min and max, at most `max_points`."""
    import numpy as np

    n = len(values)
    if n <= max_points:
        return np.arange(n, dtype=np.int64)
    return group_extremes(step_buckets(x, max(1, max_points // 2)), values)


def lttb(x: Any, y: Any, n_out: int) -> Any:
    """Return the indices Largest-Triangle-Three-Buckets keeps: first, last and `n_out - 2` more.

    NaN values count as 0 for the triangle areas; a series of at most `n_out` points is kept
    whole.
    """
    import numpy as np

    x = np.asarray(x, dtype=np.float64)
    y = np.nan_to_num(np.asarray(y, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    n = len(x)
    if n <= n_out or n_out < 3:
        return np.arange(n, dtype=np.int64) if n <= n_out else np.array([0, n - 1])
    edges = np.linspace(1, n - 1, n_out - 1).astype(np.int64)
    chosen = np.empty(n_out, dtype=np.int64)
    chosen[0], chosen[-1] = 0, n - 1
    a = 0
    for i in range(n_out - 2):
        lo, hi = edges[i], max(edges[i + 1], edges[i] + 1)
        nxt_lo, nxt_hi = hi, max(edges[i + 2] if i + 2 < len(edges) else n, hi + 1)
        # Huge values overflow to inf/NaN areas: those count as 0, still deterministic.
        with np.errstate(all="ignore"):
            avg_x, avg_y = x[nxt_lo:nxt_hi].mean(), y[nxt_lo:nxt_hi].mean()
            area = np.abs((x[a] - avg_x) * (y[lo:hi] - y[a]) - (x[a] - x[lo:hi]) * (avg_y - y[a]))
        a = lo + int(np.argmax(np.nan_to_num(area, nan=0.0)))
        chosen[i + 1] = a
    return chosen
