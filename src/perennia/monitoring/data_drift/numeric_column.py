"""One numeric column's drift: missing values, the grid statistics, optional extra tests."""

from __future__ import annotations

from typing import TYPE_CHECKING

from perennia.monitoring.data_drift.report import ColumnDrift
from perennia.monitoring.data_drift.settings import DriftSettings
from perennia.monitoring.stats import binned, numeric
from perennia.monitoring.stats.anderson import anderson_darling
from perennia.monitoring.stats.categorical import two_proportions_counts
from perennia.monitoring.stats.grid import PairGrid, grid_statistics, ks_and_wasserstein
from perennia.monitoring.stats.grid_bins import psi_counts
from perennia.monitoring.stats.result import TestResult

if TYPE_CHECKING:
    import numpy as np

PLOT_BINS = 32

# Extra methods computed by sorting (the grid covers KS, Wasserstein and PSI).
_SORTED = {
    "jensen_shannon": lambda a, b, s: binned.jensen_shannon(a, b, s.shared_bins),
    "hellinger": lambda a, b, s: binned.hellinger(a, b, s.shared_bins),
    "energy": lambda a, b, s: numeric.energy(a, b),
    "cramer_von_mises": lambda a, b, s: numeric.cramer_von_mises(a, b),
    "anderson_darling": lambda a, b, s: anderson_darling(a, b),
}


def numeric_drift(
    name: str, ref: np.ndarray, cur: np.ndarray, methods: tuple[str, ...], settings: DriftSettings
) -> ColumnDrift:
    """Return the drift entry of a numeric column (float64 arrays; NaN and infinities are missing)."""
    import numpy as np

    ref_ok, cur_ok = np.isfinite(ref), np.isfinite(cur)
    a = ref if ref_ok.all() else ref[ref_ok]
    b = cur if cur_ok.all() else cur[cur_ok]
    base = _missing(name, "numeric", ref.size, a.size, cur.size, b.size)
    if not base.computable:
        return base
    grid = PairGrid.build(a, b)
    # No grid: one value in all (both statistics 0) or a range too wide to grid (sorting then).
    exact = grid_statistics(grid) if grid is not None else ks_and_wasserstein(a, b)
    d, w = exact.ks, exact.wasserstein
    ks = TestResult(d, numeric.ks_p_value(d, a.size, b.size), d, "ks")
    spread = _std(a)
    effect = w / spread if spread > 0 else (0.0 if w == 0 else float("inf"))
    scores = {"ks": ks, "wasserstein": TestResult(w, None, effect, "wasserstein")}
    if "psi" in methods:
        scores["psi"] = _psi(grid, a, b, settings)
    for method in methods:
        if method in _SORTED and method not in scores:
            scores[method] = _guarded(method, a, b, settings)
    low, high = float(a.min()), float(a.max())
    outside = float(((b < low) | (b > high)).sum()) / b.size
    return _replace(
        base,
        test=ks,
        effect_name="wasserstein/std",
        effect=effect,
        scores={k: v for k, v in scores.items() if k in methods or k == "ks"},
        out_of_range_share=outside,
        range_violation=outside > settings.max_out_of_range_share,
        plot=_plot(grid, a, b),
    )


def _std(values: np.ndarray) -> float:
    """Return the population standard deviation, also for values near the float limit."""
    import numpy as np

    with np.errstate(over="ignore", invalid="ignore"):
        spread = float(values.std())
    if not np.isfinite(spread):
        # The sum of squares overflowed: scale the values down first.
        peak = float(np.abs(values).max())
        spread = float((values / peak).std()) * peak
    return spread


def _missing(name: str, kind: str, n_ref: int, ok_ref: int, n_cur: int, ok_cur: int) -> ColumnDrift:
    """Return the entry's missing-value part; not computable when a side has no values."""
    share_ref = (n_ref - ok_ref) / n_ref if n_ref else None
    share_cur = (n_cur - ok_cur) / n_cur if n_cur else None
    null_test = None
    if n_ref and n_cur and (ok_ref < n_ref or ok_cur < n_cur):
        null_test = two_proportions_counts(n_ref - ok_ref, n_ref, n_cur - ok_cur, n_cur)
    reason = None
    if n_cur == 0:
        reason = "the current data has no rows"
    elif n_ref == 0:
        reason = "the reference has no rows"
    elif ok_ref == 0:
        reason = "every reference value is missing"
    elif ok_cur == 0:
        reason = "every current value is missing"
    return ColumnDrift(
        column=name,
        kind=kind,
        computable=reason is None,
        reason=reason,
        rows_ref=ok_ref,
        rows_cur=ok_cur,
        null_share_ref=share_ref,
        null_share_cur=share_cur,
        null_test=null_test,
    )


def _psi(
    grid: PairGrid | None, a: np.ndarray, b: np.ndarray, settings: DriftSettings
) -> TestResult:
    from perennia._util.distances import psi

    if grid is None:
        return binned.psi(a, b, settings.psi_bins)
    p, q = psi_counts(grid, settings.psi_bins)
    value = psi(p / a.size, q / b.size)
    return TestResult(value, None, value, "psi")


def _guarded(method: str, a: np.ndarray, b: np.ndarray, settings: DriftSettings) -> TestResult:
    from perennia.errors import InvalidInput

    try:
        return _SORTED[method](a, b, settings)
    except InvalidInput:
        # A test that needs more (two values, two distinct values) than the column has.
        return TestResult(float("nan"), None, float("nan"), method)


def _plot(grid: PairGrid | None, a: np.ndarray, b: np.ndarray) -> dict[str, list[float]]:
    """Return shares of both samples on PLOT_BINS equal-width bins over the pooled range."""
    import numpy as np

    if grid is None:
        value = float(a[0])
        return {"edges": [value, value], "ref": [1.0], "cur": [1.0]}
    group = grid.size // PLOT_BINS
    ref = grid.ba.counts.reshape(PLOT_BINS, group).sum(axis=1) / a.size
    cur = grid.bb.counts.reshape(PLOT_BINS, group).sum(axis=1) / b.size
    edges = grid.lo + np.arange(PLOT_BINS + 1) * (group / grid.scale)
    return {"edges": edges.tolist(), "ref": ref.tolist(), "cur": cur.tolist()}


def _replace(entry: ColumnDrift, **changes: object) -> ColumnDrift:
    from dataclasses import replace

    return replace(entry, **changes)
