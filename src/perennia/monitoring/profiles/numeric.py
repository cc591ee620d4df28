"""A numeric column's profile: moments, a fixed-grid exact histogram with tails, a distinct count.

The histogram has `bins` equal-width buckets over fixed bounds [lo, hi]. Each bucket keeps its
count and its "tail" (the sum of its values' distances to the bucket's upper edge, in bucket
widths), which is what lets KS and Wasserstein be computed later against current data without
the reference. Profiles over the same bounds and bins merge exactly (counts and tails add);
`regrid` maps a profile onto other bounds approximately (stated in its docstring).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from perennia.errors import InvalidInput
from perennia.monitoring.profiles import hll
from perennia.monitoring.stats.grid import bucket

if TYPE_CHECKING:
    import numpy as np

DEFAULT_BINS = 4096


@dataclass(frozen=True, eq=False)
class NumericProfile:
    """Counts, moments and the fixed-grid histogram of one numeric column."""

    count: int  # finite values
    missing: int  # nulls, NaN and infinities
    minimum: float
    maximum: float
    mean: float
    m2: float  # sum of squared deviations from the mean (Chan et al.'s mergeable form)
    lo: float
    hi: float
    counts: np.ndarray
    tails: np.ndarray
    registers: np.ndarray
    exact: bool = True
    kind: str = "numeric"

    @property
    def std(self) -> float:
        """Return the population standard deviation of the finite values."""
        return math.sqrt(self.m2 / self.count) if self.count else float("nan")

    @property
    def distinct(self) -> float:
        """Return the estimated number of distinct finite values (HyperLogLog, about 1.6%)."""
        return hll.estimate(self.registers)

    @property
    def scale(self) -> float:
        """Return buckets per unit of value (0 for a one-point grid)."""
        return self.counts.size / (self.hi - self.lo) if self.hi > self.lo else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Return the profile as a JSON-able dict (arrays packed by the caller's encoder)."""
        return {
            "kind": self.kind,
            "count": self.count,
            "missing": self.missing,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "mean": self.mean,
            "m2": self.m2,
            "lo": self.lo,
            "hi": self.hi,
            "counts": self.counts,
            "tails": self.tails,
            "registers": self.registers,
            "exact": self.exact,
        }


def numeric_profile(
    values: np.ndarray, lo: float, hi: float, bins: int = DEFAULT_BINS
) -> NumericProfile:
    """Return the profile of float64 `values` on the grid [lo, hi] (finite values must lie inside)."""
    import numpy as np

    finite = np.isfinite(values)
    x = values if finite.all() else values[finite]
    if x.size and (float(x.min()) < lo or float(x.max()) > hi):
        raise InvalidInput(f"values lie outside the profile bounds [{lo}, {hi}]; widen the bounds")
    scale = bins / (hi - lo) if hi > lo else 0.0
    if x.size == 0:
        counts, tails = np.zeros(bins, dtype=np.int64), np.zeros(bins)
        minimum, maximum, mean, m2 = math.inf, -math.inf, 0.0, 0.0
    else:
        if scale > 0:
            bucketed = bucket(x, lo, scale, bins)
            counts, tails = bucketed.counts.astype(np.int64), bucketed.tails
        else:
            counts = np.zeros(bins, dtype=np.int64)
            counts[0] = x.size
            tails = np.zeros(bins)
        minimum, maximum = float(x.min()), float(x.max())
        mean = float(x.mean())
        m2 = float(((x - mean) ** 2).sum())
    return NumericProfile(
        count=int(x.size),
        missing=int(values.size - x.size),
        minimum=minimum,
        maximum=maximum,
        mean=mean,
        m2=m2,
        lo=float(lo),
        hi=float(hi),
        counts=counts,
        tails=tails,
        registers=hll.add_numbers(hll.empty(), x),
    )


def merge_numeric(a: NumericProfile, b: NumericProfile) -> NumericProfile:
    """Return the profile of both profiles' values: exact on one grid, else via `regrid`."""
    if (a.lo, a.hi, a.counts.size) != (b.lo, b.hi, b.counts.size):
        lo, hi = min(a.lo, b.lo), max(a.hi, b.hi)
        bins = max(a.counts.size, b.counts.size)
        a, b = regrid(a, lo, hi, bins), regrid(b, lo, hi, bins)
    count = a.count + b.count
    delta = b.mean - a.mean
    mean = a.mean + delta * b.count / count if count else 0.0
    m2 = a.m2 + b.m2 + delta * delta * a.count * b.count / count if count else 0.0
    return NumericProfile(
        count=count,
        missing=a.missing + b.missing,
        minimum=min(a.minimum, b.minimum),
        maximum=max(a.maximum, b.maximum),
        mean=mean,
        m2=m2,
        lo=a.lo,
        hi=a.hi,
        counts=a.counts + b.counts,
        tails=a.tails + b.tails,
        registers=hll.merge(a.registers, b.registers),
        exact=a.exact and b.exact,
    )


def regrid(profile: NumericProfile, lo: float, hi: float, bins: int) -> NumericProfile:
    """Return `profile` mapped onto the grid [lo, hi] with `bins` buckets, approximately.

    Each source bucket's values are assumed spread evenly over it and are shared among the
    target buckets it overlaps. Error bound: a value moves by at most one source bucket width,
    so any CDF read from the result is off by at most the largest source bucket's share (plus
    half a value, from rounding running totals to whole counts). The result is marked
    `exact=False`. The same grid returns the profile unchanged.
    """
    import numpy as np

    if (profile.lo, profile.hi, profile.counts.size) == (lo, hi, bins):
        return profile
    if not (lo <= profile.lo and hi >= profile.hi):
        raise InvalidInput("regrid bounds must contain the profile's own bounds")
    target_scale = bins / (hi - lo) if hi > lo else 0.0
    counts = np.zeros(bins, dtype=np.float64)
    tails = np.zeros(bins, dtype=np.float64)
    source = profile.counts.size
    width = (profile.hi - profile.lo) / source if source else 0.0
    for j in np.flatnonzero(profile.counts):
        start = profile.lo + j * width
        _spread(
            counts, tails, float(profile.counts[j]), start, start + width, lo, target_scale, bins
        )
    return NumericProfile(
        **{
            **profile.__dict__,
            "lo": lo,
            "hi": hi,
            "counts": _whole_counts(counts),
            "tails": tails,
            "exact": False,
        }
    )


def _whole_counts(shares: np.ndarray) -> np.ndarray:
    """Return integer counts whose running totals are the shares' running totals, rounded."""
    import numpy as np

    # Rounding each bucket alone loses a value spread thinly over many finer buckets (each
    # share < 0.5 becomes 0); rounding the running total keeps every CDF within half a value.
    totals = np.rint(np.cumsum(shares)).astype(np.int64)
    return np.diff(totals, prepend=0)


def _spread(
    counts: np.ndarray,
    tails: np.ndarray,
    mass: float,
    start: float,
    stop: float,
    lo: float,
    scale: float,
    bins: int,
) -> None:
    """Add `mass` spread evenly over [start, stop) into the target grid's counts and tails."""
    if scale == 0:
        counts[0] += mass
        return
    if stop <= start:
        # A one-point source grid (a constant column): every value sits at `start`.
        k = min(int((start - lo) * scale), bins - 1)
        counts[k] += mass
        tails[k] += mass * (k + 1 - (start - lo) * scale)
        return
    first = min(int((start - lo) * scale), bins - 1)
    last = min(int((stop - lo) * scale), bins - 1)
    for k in range(first, last + 1):
        left = max(start, lo + k / scale)
        right = min(stop, lo + (k + 1) / scale)
        if right <= left:
            continue
        share = mass * (right - left) / (stop - start)
        counts[k] += share
        # Evenly spread values sit, on average, at the middle of [left, right).
        upper = lo + (k + 1) / scale
        tails[k] += share * (upper - (left + right) / 2.0) * scale
