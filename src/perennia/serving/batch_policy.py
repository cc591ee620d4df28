"""When to dispatch a batch: the fitted batch cost, the arrival pattern and the hold rule.

Pure arithmetic, no asyncio: `perennia.serving.batching` explains the rule and why (its module
docstring) and applies it; these pieces are kept apart so they can be tested on numbers alone.
"""

from __future__ import annotations

from collections import deque

HISTORY = 50  # batches the cost model is fitted on
WARMUP = 2  # first batches pay for lazy initialisation; their cost says nothing about later ones
PRIOR_PER_ROW_S = 0.00001  # 10 µs a row: a vectorised model
PRIOR_FIXED_S = 0.001  # 1 ms a call: Python, pandas and thread hand-off overhead
GAP_SMOOTHING = 0.1  # weight of the newest inter-arrival gap in its moving averages
MAX_GAP_S = 1.0  # one idle pause must not dominate the averages for long
BURSTY_CV2 = 2.0  # squared coefficient of variation of the gaps above which arrivals are bursts
BURSTY_SHORT_RATIO = 0.2  # short gaps this much below the mean: bursts (Poisson gives 0.42)
MIN_GAPS = 8  # gaps seen before the arrival pattern is trusted


class CostModel:
    """Batch duration as `a·rows + b`, fitted by least squares over the recent batches."""

    def __init__(self, per_row_s: float = PRIOR_PER_ROW_S, fixed_s: float = PRIOR_FIXED_S) -> None:
        self._prior_per_row = per_row_s
        self.per_row_s = per_row_s
        self.fixed_s = fixed_s
        self._seen = 0
        self._history: deque[tuple[int, float]] = deque(maxlen=HISTORY)

    def observe(self, rows: int, seconds: float) -> None:
        """Record one batch and refit; returns nothing."""
        self._seen += 1
        if self._seen <= WARMUP:
            return
        self._history.append((rows, seconds))
        self._refit()

    def _refit(self) -> None:
        import numpy as np

        data = np.asarray(self._history, dtype=float)
        rows, seconds = data[:, 0], data[:, 1]
        if np.unique(rows).size < 2:
            # One batch size cannot separate a from b: keep the prior slope, fit the intercept.
            a = self._prior_per_row
            b = float(np.mean(seconds - a * rows))
        else:
            design = np.column_stack([rows, np.ones_like(rows)])
            (a, b), *_ = np.linalg.lstsq(design, seconds, rcond=None)
            a, b = float(a), float(b)
        # Noise can push either coefficient below zero; refit the other alone, as the
        # physical model (no negative costs) says.
        if a < 0:
            a, b = 0.0, float(np.mean(seconds))
        if b < 0:
            a, b = float(np.dot(rows, seconds) / np.dot(rows, rows)), 0.0
        self.per_row_s, self.fixed_s = max(a, 0.0), max(b, 0.0)


class ArrivalStats:
    """Moving averages of inter-arrival gaps: their mean, spread, and the mean short gap."""

    def __init__(self) -> None:
        self.last: float | None = None
        self.count = 0
        self.mean = self.mean_sq = self.short_mean = 0.0

    def observe(self, now: float) -> None:
        """Record an arrival at monotonic time `now`; returns nothing."""
        if self.last is not None:
            gap = min(max(now - self.last, 0.0), MAX_GAP_S)
            if self.count == 0:
                self.mean, self.mean_sq, self.short_mean = gap, gap * gap, gap
            else:
                self.mean += GAP_SMOOTHING * (gap - self.mean)
                self.mean_sq += GAP_SMOOTHING * (gap * gap - self.mean_sq)
                if gap <= self.mean:
                    self.short_mean += GAP_SMOOTHING * (gap - self.short_mean)
            self.count += 1
        self.last = now

    def burst_gap(self) -> float | None:
        """Return the expected gap inside a burst, or None when arrivals are not bursty."""
        if self.count < MIN_GAPS or self.mean <= 0.0:
            return None
        cv2 = (self.mean_sq - self.mean * self.mean) / (self.mean * self.mean)
        bursty = cv2 > BURSTY_CV2 or self.short_mean < BURSTY_SHORT_RATIO * self.mean
        return self.short_mean if bursty else None


def wait_seconds(
    *,
    queued: int,
    next_gap_s: float | None,
    since_last_s: float,
    oldest_wait_s: float,
    max_wait_s: float,
    per_row_s: float,
    fixed_s: float,
    rows_per_request: float = 1.0,
) -> float:
    """Return how long to hold `queued` requests for one more arrival; 0.0 means dispatch now."""
    if queued < 1 or next_gap_s is None:
        return 0.0
    # The current gap already lasting longer than expected means the burst is over.
    expected_gap = max(next_gap_s, since_last_s)
    budget = max_wait_s - oldest_wait_s
    # Waiting pays while the fixed cost saved exceeds the latency added to everyone queued.
    threshold = (fixed_s - queued * per_row_s * rows_per_request) / (queued + 1)
    if expected_gap >= threshold or expected_gap >= budget:
        return 0.0
    return min(threshold - since_last_s, budget)
