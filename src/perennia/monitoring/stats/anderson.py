"""The two-sample Anderson-Darling test of Scholz and Stephens (1987), midrank form for ties.

Matches scipy.stats.anderson_ksamp(variant="midrank"), including its p-value: interpolated
from the paper's table and therefore capped to [0.001, 0.25]. The cap makes it a poor input
for false-discovery control, so the drift engine reports it but decides with KS by default.
"""

from __future__ import annotations

import math
from typing import Any

from perennia.errors import InvalidInput
from perennia.monitoring.stats.result import TestResult, numeric_sample

# Table 2 of Scholz and Stephens: critical values at these significance levels.
_B0 = (0.675, 1.281, 1.645, 1.96, 2.326, 2.573, 3.085)
_B1 = (-0.245, 0.25, 0.678, 1.149, 1.822, 2.364, 3.615)
_B2 = (-0.105, -0.305, -0.362, -0.391, -0.396, -0.345, -0.154)
_LEVELS = (0.25, 0.1, 0.05, 0.025, 0.01, 0.005, 0.001)


def anderson_darling(ref: Any, cur: Any) -> TestResult:
    """Return the standardised two-sample Anderson-Darling statistic and its table p-value.

    Effect = the statistic before standardisation divided by the pooled size, which does not
    grow with the samples. Needs two distinct values and four values across both samples.
    """
    import numpy as np

    a = np.sort(numeric_sample(ref, "ref"))
    b = np.sort(numeric_sample(cur, "cur"))
    pooled = np.sort(np.concatenate([a, b]), kind="stable")
    distinct = np.unique(pooled)
    if distinct.size < 2:
        raise InvalidInput("anderson_darling needs at least two distinct values across ref and cur")
    total = pooled.size
    if total < 4:
        # The null variance (eq. 4) divides by (N - 2)(N - 3); scipy returns NaN there.
        raise InvalidInput(
            f"anderson_darling needs at least 4 values across ref and cur, got {total}"
        )
    left = pooled.searchsorted(distinct, "left")
    ties = pooled.searchsorted(distinct, "right") - left
    midrank = left + ties / 2.0
    a2 = 0.0
    for sample in (a, b):
        right = sample.searchsorted(distinct, "right")
        below = right - (right - sample.searchsorted(distinct, "left")) / 2.0
        inner = ties / float(total) * (total * below - midrank * sample.size) ** 2
        inner /= midrank * (total - midrank) - total * ties / 4.0
        a2 += float(inner.sum()) / sample.size
    a2 *= (total - 1.0) / total
    standardised = (a2 - 1.0) / math.sqrt(_variance(a.size, b.size))
    return TestResult(standardised, _p_value(standardised), a2 / total, "anderson_darling")


def _variance(m: int, n: int) -> float:
    """Return the variance of the statistic under the null (Scholz and Stephens, eq. 4)."""
    import numpy as np

    total, k = m + n, 2
    h_sum = 1.0 / m + 1.0 / n
    partial = (1.0 / np.arange(total - 1, 1, -1)).cumsum()
    h = float(partial[-1]) + 1 if partial.size else 1.0
    g = float((partial / np.arange(2, total)).sum())
    a = (4 * g - 6) * (k - 1) + (10 - 6 * g) * h_sum
    b = (2 * g - 4) * k**2 + 8 * h * k + (2 * g - 14 * h - 4) * h_sum - 8 * h + 4 * g - 6
    c = (6 * h + 2 * g - 2) * k**2 + (4 * h - 4 * g + 6) * k + (2 * h - 6) * h_sum + 4 * h
    d = (2 * h + 6) * k**2 - 4 * h * k
    return (a * total**3 + b * total**2 + c * total + d) / (
        (total - 1.0) * (total - 2.0) * (total - 3.0)
    )


def _p_value(standardised: float) -> float:
    import numpy as np

    critical = np.array(_B0) + np.array(_B1) + np.array(_B2)  # m = k - 1 = 1
    if standardised < critical.min():
        return max(_LEVELS)
    if standardised > critical.max():
        return min(_LEVELS)
    fit = np.polyfit(critical, np.log(_LEVELS), 2)
    return float(math.exp(np.polyval(fit, standardised)))
