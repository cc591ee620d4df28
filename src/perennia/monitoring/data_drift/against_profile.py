"""A numeric column's drift against a stored profile: O(current), the reference never re-read.

The current values are counted into the profile's own grid, so:

- KS is read at every bucket end (and below the grid), which is the KS statistic of the two
  samples with values rounded to their buckets: never larger than the exact one, so its p-value
  is conservative (false alarms stay at or under `alpha`);
- Wasserstein is exact wherever the CDF gap keeps its sign across a bucket; in a bucket where
  the CDFs cross it is under-estimated by at most (bucket width) x (both samples' shares in it);
- PSI uses the reference's quantile bins snapped to bucket ends (each bin's reference share is
  within one bucket's share of 1/bins).

Jensen-Shannon, Hellinger, energy, Cramér-von Mises and Anderson-Darling need the reference's
values and are computed only when comparing with data, not with a profile.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from perennia._util.distances import psi
from perennia.monitoring.data_drift.numeric_column import PLOT_BINS, _missing
from perennia.monitoring.data_drift.report import ColumnDrift
from perennia.monitoring.data_drift.settings import DriftSettings
from perennia.monitoring.profiles.numeric import NumericProfile
from perennia.monitoring.stats.grid import bucket
from perennia.monitoring.stats.numeric import ks_p_value
from perennia.monitoring.stats.result import TestResult

if TYPE_CHECKING:
    import numpy as np

PROFILE_METHODS = ("ks", "wasserstein", "psi")


def numeric_vs_profile(
    name: str,
    reference: NumericProfile,
    cur: np.ndarray,
    methods: tuple[str, ...],
    settings: DriftSettings,
) -> ColumnDrift:
    """Return the drift entry of float64 `cur` against a numeric profile."""
    import numpy as np

    ok = np.isfinite(cur)
    b = cur if ok.all() else cur[ok]
    m_all = reference.count + reference.missing
    base = _missing(name, "numeric", m_all, reference.count, cur.size, b.size)
    if not base.computable:
        return base
    lo, hi, size = reference.lo, reference.hi, reference.counts.size
    below, above = b[b < lo], b[b > hi]
    inside = b[(b >= lo) & (b <= hi)]
    ca = reference.counts.astype(np.float64)
    m, n = float(ca.sum()), float(b.size)
    if reference.scale > 0:
        cb_bucketed = bucket(inside, lo, reference.scale, size)
        cb, tails_b = cb_bucketed.counts.astype(np.float64), cb_bucketed.tails
        width = 1.0 / reference.scale
    else:
        cb, tails_b, width = np.zeros(size), np.zeros(size), 0.0
        cb[0] = inside.size
    start_a = np.cumsum(ca) - ca
    start_b = below.size + np.cumsum(cb) - cb
    gap_start = start_a * n - start_b * m
    gap_end = gap_start + ca * n - cb * m
    d = max(float(np.abs(gap_end).max()), below.size * m) / (m * n)
    integral = gap_start + reference.tails * n - tails_b * m
    w = float(np.abs(integral).sum()) * width / (m * n)
    w += (float((lo - below).sum()) + float((above - hi).sum())) / n
    ks = TestResult(d, ks_p_value(d, int(m), int(n)), d, "ks")
    spread = reference.std
    effect = w / spread if spread > 0 else (0.0 if w == 0 else float("inf"))
    scores = {"ks": ks, "wasserstein": TestResult(w, None, effect, "wasserstein")}
    if "psi" in methods:
        scores["psi"] = _snapped_psi(ca, cb, below.size, above.size, settings.psi_bins)
    outside = float(((b < reference.minimum) | (b > reference.maximum)).sum()) / n
    return replace(
        base,
        test=ks,
        effect_name="wasserstein/std",
        effect=effect,
        scores={k: v for k, v in scores.items() if k in methods or k == "ks"},
        out_of_range_share=outside,
        range_violation=outside > settings.max_out_of_range_share,
        plot=_plot(reference, ca, cb, m, n),
    )


def _snapped_psi(ca: np.ndarray, cb: np.ndarray, below: int, above: int, bins: int) -> TestResult:
    import numpy as np

    cumulative = np.cumsum(ca) / ca.sum()
    ends = np.searchsorted(cumulative, np.arange(1, bins) / bins, side="left") + 1
    starts = np.unique(np.concatenate([[0], ends[ends < ca.size]]))
    p = np.concatenate([[0.0], np.add.reduceat(ca, starts), [0.0]]) / ca.sum()
    q = np.concatenate([[below], np.add.reduceat(cb, starts), [above]]) / (cb.sum() + below + above)
    value = psi(p, q)
    return TestResult(value, None, value, "psi")


def _plot(reference: NumericProfile, ca: np.ndarray, cb: np.ndarray, m: float, n: float) -> dict:
    import numpy as np

    starts = np.unique(np.linspace(0, ca.size, PLOT_BINS + 1).astype(np.int64)[:-1])
    edges = reference.lo + np.concatenate([starts, [ca.size]]) * (
        (reference.hi - reference.lo) / ca.size
    )
    return {
        "edges": edges.tolist(),
        "ref": (np.add.reduceat(ca, starts) / m).tolist(),
        "cur": (np.add.reduceat(cb, starts) / n).tolist(),
    }
