"""Alert thresholds for any per-window value, from the reference's own window-to-window spread.

The reference is cut into chunks the size of a monitoring window and the value (a metric, an
estimate, a drift score) is computed on each chunk. A new window of unchanged data should then
fall outside the thresholds at the stated `target_rate`, and no more often. Three methods:

"prediction" (the default)
    mean ± t(1 - a/2; k - 1) · s · sqrt(1 + 1/k), the prediction interval for one new value
    drawn like the k reference values. Under normal chunk values the false-alarm rate is
    exactly `a`, whatever k is: the t quantile pays for estimating s from few chunks, and the
    1/k term for estimating the mean. Given the reference's `chunk_size` and a window's
    `window_size`, the spread is rescaled by sqrt(chunk_size / window_size) (a metric's standard
    error shrinks as one over the square root of its rows), so a quiet night window of a
    hundred rows is judged against its own, wider, interval.
"quantile"
    Order statistics of the reference values, distribution-free: a new exchangeable value
    falls below the j-th smallest of k with probability j / (k + 1), so the j giving at most
    `a` is used. That needs k >= 2/a - 1 chunks (199 for a = 1%, two-sided); fewer raise.
    No rescaling by window size: the chunk values' distribution is taken as it is.
"sigma"
    mean ± 3 · std (NannyML's default, population std). Kept for comparison: with ten chunks
    its nominal 0.27% false-alarm rate is really about 2.5% (5.8% with five chunks, 0.8% with
    twenty), because the std of few chunks is biased low and the mean's own error is ignored
    (NannyML/nannyml#426); `tests/monitoring/model_performance/test_thresholds.py` measures it.

`n_values` applies Bonferroni: when several values are monitored per window, each uses
`target_rate / n_values`, so the chance that any of them alarms on unchanged data stays at
or below `target_rate`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from perennia.errors import InvalidInput

METHODS = ("prediction", "quantile", "sigma")
SIDES = ("both", "lower", "upper")


@dataclass(frozen=True)
class Threshold:
    """Lower and upper alert bounds (None: no bound on that side) and how they were set."""

    lower: float | None
    upper: float | None
    method: str
    target_rate: float  # the stated false-alarm rate per window (sigma: its nominal rate)

    def breached(self, value: float | None) -> bool | None:
        """Return True when `value` lies outside the bounds, None when there is no value."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        if self.lower is not None and value < self.lower:
            return True
        return self.upper is not None and value > self.upper

    def to_dict(self) -> dict[str, Any]:
        """Return the threshold as JSON-ready values."""
        return {
            "lower": self.lower,
            "upper": self.upper,
            "method": self.method,
            "target_rate": self.target_rate,
        }


def reference_thresholds(
    values: Sequence[float | None],
    *,
    target_rate: float = 0.01,
    method: str = "prediction",
    n_values: int = 1,
    side: str = "both",
    limits: tuple[float | None, float | None] | None = None,
    chunk_size: int | None = None,
    window_size: int | None = None,
    multiplier: float = 3.0,
) -> Threshold:
    """Return thresholds for a new window's value, from the value on each reference chunk.

    None and NaN chunk values (a metric not computable on that chunk) are left out. `limits`
    clips the bounds to the value's possible range, e.g. (0, 1) for a rate.
    """
    rate = _check_rate(target_rate, n_values)
    if method not in METHODS:
        raise InvalidInput(f"method={method!r} is not one of {', '.join(METHODS)}")
    if side not in SIDES:
        raise InvalidInput(f"side={side!r} is not one of {', '.join(SIDES)}")
    finite = _finite(values)
    tail = rate / 2 if side == "both" else rate
    if method == "prediction":
        scale = _size_ratio(chunk_size, window_size)
        low, high = _prediction(finite, tail, scale)
        stated = target_rate
    elif method == "quantile":
        low, high = _quantile(finite, tail, target_rate, side)
        stated = target_rate
    else:
        low, high, stated = _sigma(finite, multiplier, side)
    if side == "upper":
        low = None
    if side == "lower":
        high = None
    return Threshold(_clip(low, limits), _clip(high, limits), method, stated)


def _prediction(values: list[float], tail: float, scale: float) -> tuple[float, float]:
    from scipy.stats import t

    k = len(values)
    if k < 2:
        raise InvalidInput(
            f"prediction thresholds need the value on at least 2 reference chunks, got {k};"
            " give a longer reference or smaller chunks"
        )
    mean = math.fsum(values) / k
    s = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (k - 1))
    half = float(t.ppf(1.0 - tail, k - 1)) * s * math.sqrt(scale * scale + 1.0 / k)
    return mean - half, mean + half


def _quantile(
    values: list[float], tail: float, target_rate: float, side: str
) -> tuple[float, float]:
    k = len(values)
    # P(new < v_(j)) = j / (k + 1) for exchangeable values, so j = floor(tail * (k + 1)) keeps
    # the lower tail at or below `tail`; the upper bound mirrors it.
    j = math.floor(tail * (k + 1) + 1e-12)
    if j < 1:
        needed = math.ceil(1.0 / tail) - 1
        raise InvalidInput(
            f"quantile thresholds at target_rate={target_rate:g} ({side}) need at least"
            f" {needed} reference chunks, got {k}; use method='prediction' or a larger target_rate"
        )
    ordered = sorted(values)
    return ordered[j - 1], ordered[k - j]


def _sigma(values: list[float], multiplier: float, side: str) -> tuple[float, float, float]:
    from scipy.stats import norm

    if not isinstance(multiplier, int | float) or not multiplier > 0 or math.isinf(multiplier):
        raise InvalidInput(f"multiplier={multiplier!r} must be a positive number")
    k = len(values)
    if k < 1:
        raise InvalidInput("sigma thresholds need the value on at least 1 reference chunk, got 0")
    mean = math.fsum(values) / k
    # The population std (ddof=0), as NannyML computes it.
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / k)
    one_side = float(norm.sf(multiplier))
    nominal = 2 * one_side if side == "both" else one_side
    return mean - multiplier * std, mean + multiplier * std, nominal


def _size_ratio(chunk_size: int | None, window_size: int | None) -> float:
    if chunk_size is None and window_size is None:
        return 1.0
    for label, size in (("chunk_size", chunk_size), ("window_size", window_size)):
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise InvalidInput(
                f"{label}={size!r} must be a positive number of rows (give both sizes or neither)"
            )
    return math.sqrt(chunk_size / window_size)


def _check_rate(target_rate: Any, n_values: Any) -> float:
    if isinstance(n_values, bool) or not isinstance(n_values, int) or n_values < 1:
        raise InvalidInput(f"n_values={n_values!r} must be a positive number of monitored values")
    if (
        isinstance(target_rate, bool)
        or not isinstance(target_rate, int | float)
        or not 0 < target_rate < 1
    ):
        raise InvalidInput(
            f"target_rate={target_rate!r} must be a false-alarm rate between 0 and 1, e.g. 0.01"
        )
    return float(target_rate) / n_values


def _finite(values: Sequence[float | None]) -> list[float]:
    if isinstance(values, str | bytes):
        raise InvalidInput("values must be a sequence of numbers, one per reference chunk")
    try:
        numbers = [float(v) for v in values if v is not None]
    except (TypeError, ValueError):
        raise InvalidInput("values must be numbers (or None), one per reference chunk") from None
    if any(math.isinf(v) for v in numbers):
        raise InvalidInput("values must be finite; an infinite chunk value has no spread")
    return [v for v in numbers if not math.isnan(v)]


def _clip(bound: float | None, limits: tuple[float | None, float | None] | None) -> float | None:
    if bound is None or limits is None:
        return bound
    low, high = limits
    if low is not None:
        bound = max(bound, low)
    if high is not None:
        bound = min(bound, high)
    return float(bound)
