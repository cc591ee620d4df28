"""Two-sample statistics for numeric columns: KS, Wasserstein, Cramér-von Mises, energy, binned.

Each function sorts each sample once and reads both empirical CDFs off the sorted arrays with
`searchsorted` (`perennia._util.distances`, shared with the data layer's KS), so a column
costs two sorts and a few linear passes. The binned distances (PSI, Jensen-Shannon, Hellinger)
live in `binned`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from perennia._util.distances import ecdfs_at_pooled, ks_statistic
from perennia.monitoring.stats.result import TestResult, numeric_sample

if TYPE_CHECKING:
    import numpy as np

LARGE_KS = 10_000


def ks(ref: Any, cur: Any) -> TestResult:
    """Return the two-sided two-sample Kolmogorov-Smirnov test; effect = D, the largest CDF gap."""
    a, b = _sorted_pair(ref, cur)
    d = ks_statistic(a, b)
    p_value = ks_p_value(d, a.size, b.size)
    return TestResult(statistic=d, p_value=p_value, effect=d, method="ks")


def ks_p_value(d: float, m: int, n: int) -> float:
    """Return the two-sided asymptotic p-value of a KS statistic `d` for sample sizes m and n.

    Equal to scipy's ks_2samp(method="asymp") up to an effective size m*n/(m+n) of LARGE_KS;
    above it, see the comment inside.
    """
    import math

    from scipy.stats import kstwo

    # Smirnov's asymptotic form, as scipy's ks_2samp(method="asymp"): the two-sided
    # one-sample distribution at the effective size m*n/(m+n). scipy gets NaN when that rounds
    # to 0 (one value in each sample); we use 1, which gives p = 1 - D there.
    big, small = sorted([float(m), float(n)], reverse=True)
    effective = max(round(big * small / (big + small)), 1)
    scaled = effective * d * d
    if effective > LARGE_KS and 2.2 <= scaled < 370.0:
        # scipy sums Smirnov's exact series here, O(n) terms: 0.6 s at n = 500,000. The
        # asymptotic form exp(-(6nd+1)^2 / 18n) differs from it, relatively, by under 1e-3
        # for p-values above 1e-4 and under 2e-2 above 1e-18 (measured from n = 10,000 up;
        # the error shrinks about as 1/n, so halves by n = 20,000).
        return min(2.0 * math.exp(-((6.0 * effective * d + 1.0) ** 2) / (18.0 * effective)), 1.0)
    return min(max(float(kstwo.sf(d, effective)), 0.0), 1.0)


def wasserstein(ref: Any, cur: Any) -> TestResult:
    """Return the 1-Wasserstein distance; effect = distance / the reference's standard deviation.

    The standard deviation is the population one (ddof=0). A constant reference has no spread
    (its IQR is 0 too), so then the effect is 0 when the distance is 0 and infinity otherwise.
    """
    a, b = _sorted_pair(ref, cur)
    gaps, deltas = _cdf_gaps(a, b)
    distance = float((abs(gaps) * deltas).sum())
    return TestResult(distance, None, _per_spread(distance, a), "wasserstein")


def energy(ref: Any, cur: Any) -> TestResult:
    """Return the energy distance; effect = distance / sqrt(the reference's standard deviation).

    The energy distance is sqrt(2 * integral (F - G)^2 dx), so it scales as the square root of
    the data; dividing by the square root of the spread makes the effect unit-free. A constant
    reference gives 0 or infinity as in `wasserstein`.
    """
    import math

    a, b = _sorted_pair(ref, cur)
    gaps, deltas = _cdf_gaps(a, b)
    distance = math.sqrt(2.0) * math.sqrt(float((gaps * gaps * deltas).sum()))
    spread = _spread(a)
    effect = distance / math.sqrt(spread) if spread > 0 else _no_spread(distance)
    return TestResult(distance, None, effect, "energy")


def cramer_von_mises(ref: Any, cur: Any) -> TestResult:
    """Return the two-sample Cramér-von Mises test (asymptotic p-value, midranks for ties).

    Effect = mean over the pooled sample of (F_ref - F_cur)^2, the squared CDF gap, which does
    not grow with the sample sizes as the statistic T does. Each sample needs two values.
    """
    import math

    import numpy as np

    a, b = _sorted_pair(ref, cur, min_size=2)
    nx, ny = a.size, b.size
    # Midranks in the pooled sample without sorting it: a value's rank range is
    # (number below it, number at or below it] over both samples.
    rx = _midranks(a, a, b)
    ry = _midranks(b, a, b)
    u = nx * float(((rx - np.arange(1, nx + 1)) ** 2).sum())
    u += ny * float(((ry - np.arange(1, ny + 1)) ** 2).sum())
    k, total = nx * ny, nx + ny
    t = u / (k * total) - (4 * k - 1) / (6 * total)
    # Normalise T to the limiting one-sample distribution (Anderson 1962, eq. 11-15).
    et = (1 + 1 / total) / 6
    vt = (total + 1) * (4 * k * total - 3 * (nx**2 + ny**2) - 2 * k) / (45 * total**2 * 4 * k)
    tn = 1 / 6 + (t - et) / math.sqrt(45 * vt)
    p_value = 1.0 if tn < 0.003 else max(0.0, 1.0 - _cdf_cvm_inf(tn))
    cdf_a, cdf_b = ecdfs_at_pooled(a, b)
    effect = float(((cdf_a - cdf_b) ** 2).mean())
    return TestResult(statistic=float(t), p_value=p_value, effect=effect, method="cramer_von_mises")


def _cdf_cvm_inf(x: float) -> float:
    """Return the limiting CDF of the Cramér-von Mises statistic (Csörgő and Faraway 1996, 1.2)."""
    import math

    from scipy.special import gammaln, kv

    total, k = 0.0, 0
    while True:
        # Terms shrink fast; stop at the same 1e-7 term size as scipy so values agree.
        y = 4 * k + 1
        q = y**2 / (16 * x)
        u = math.exp(gammaln(k + 0.5) - gammaln(k + 1)) / (math.pi**1.5 * math.sqrt(x))
        term = u * math.sqrt(y) * math.exp(-q) * float(kv(0.25, q))
        total += term
        if abs(term) < 1e-7:
            return total
        k += 1


def _sorted_pair(ref: Any, cur: Any, *, min_size: int = 1) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np

    a = np.sort(numeric_sample(ref, "ref", min_size=min_size))
    b = np.sort(numeric_sample(cur, "cur", min_size=min_size))
    return a, b


def _cdf_gaps(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return F_a - F_b on each gap between consecutive pooled values, and the gap widths."""
    import numpy as np

    # Both inputs are sorted, so this sort merges two runs in linear time.
    pooled = np.sort(np.concatenate([a, b]), kind="stable")
    left = pooled[:-1]
    gaps = np.searchsorted(a, left, "right") / a.size - np.searchsorted(b, left, "right") / b.size
    return gaps, np.diff(pooled)


def _midranks(values: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    import numpy as np

    below = np.searchsorted(a, values, "left") + np.searchsorted(b, values, "left")
    at_or_below = np.searchsorted(a, values, "right") + np.searchsorted(b, values, "right")
    return (below + at_or_below + 1) / 2.0


def _spread(sorted_ref: np.ndarray) -> float:
    return float(sorted_ref.std())


def _per_spread(distance: float, sorted_ref: np.ndarray) -> float:
    spread = _spread(sorted_ref)
    return distance / spread if spread > 0 else _no_spread(distance)


def _no_spread(distance: float) -> float:
    return 0.0 if distance == 0 else float("inf")
