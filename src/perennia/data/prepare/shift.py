"""Per-column distribution shift between a reference frame and a new one: three stated measures.

Simple stated measures, computed by `perennia._util.distances` (the code a contract's drift
expectation and monitoring's statistics use too; monitoring's PSI bins differently, see there):

- numeric columns: the Population Stability Index over the reference's deciles, bins
  (-inf, q10], (q10, q20], ..., (q90, inf) (repeated quantiles merged), with each bin's share
  floored at 1e-4 so an empty bin does not make it infinite: PSI = sum((new - ref) * ln(new / ref)).
  A common reading: below 0.1 little shift, 0.1 to 0.25 some, above 0.25 a large shift;
- numeric columns also: the two-sample Kolmogorov-Smirnov statistic, the largest gap between
  the two empirical distribution functions (the statistic of scipy.stats.ks_2samp, no p-value);
- other columns (strings, categories, booleans): the L-infinity distance between the two
  normalised value counts, the largest change in any one value's share, with that value named
  (on a tie, the smallest such value when the values can be sorted).

Nulls are left out of every measure and reported as each side's null fraction; datetimes are
compared as numbers (their instants). A side with no non-null values gives no measure (None).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from perennia._util import distances
from perennia._util.distances import PSI_FLOOR  # noqa: F401 - the floor this module's PSI uses
from perennia.data.prepare.frames import json_value

BINS = 10  # deciles


@dataclass(frozen=True)
class ColumnShift:
    """How one column's distribution moved from the reference (a) to the new frame (b)."""

    column: str
    kind: str  # "numeric" or "categorical"
    psi: float | None = None
    ks: float | None = None
    linf: float | None = None
    most_moved: Any = None  # the categorical value whose share changed most
    null_fraction_a: float = 0.0
    null_fraction_b: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Return the shift as a JSON-able dict."""
        return asdict(self)


def psi(reference: Any, current: Any) -> float:
    """Return the Population Stability Index of `current` against `reference`'s deciles."""
    import numpy as np

    reference = np.asarray(reference, float)
    edges = distances.quantile_edges(reference, BINS)
    p = distances.bucket_shares(edges, reference)
    return distances.psi(p, distances.bucket_shares(edges, current))


def ks_statistic(reference: Any, current: Any) -> float:
    """Return the two-sample Kolmogorov-Smirnov statistic: max |F_reference(x) - F_current(x)|."""
    import numpy as np

    a, b = np.sort(np.asarray(reference, float)), np.sort(np.asarray(current, float))
    return distances.ks_statistic(a, b)


def linf_distance(reference: Any, current: Any) -> tuple[float, Any]:
    """Return (max change in any value's share, that value) between two value collections."""
    import pandas as pd

    shares_a = pd.Series(reference).value_counts(normalize=True, dropna=True)
    shares_b = pd.Series(current).value_counts(normalize=True, dropna=True)
    gaps = shares_a.sub(shares_b, fill_value=0.0).abs()
    if gaps.empty:
        return 0.0, None
    gaps = gaps.sort_index(kind="stable") if _sortable(gaps.index) else gaps
    top = gaps.idxmax()
    return float(gaps[top]), json_value(top)


def column_shift(name: str, a: Any, b: Any) -> ColumnShift:
    """Return the shift of column `name` from Series `a` (reference) to Series `b`."""
    nulls_a = float(a.isna().mean()) if len(a) else 0.0
    nulls_b = float(b.isna().mean()) if len(b) else 0.0
    a_values, b_values = a.dropna(), b.dropna()
    numeric = _is_numeric(a) and _is_numeric(b)
    kind = "numeric" if numeric else "categorical"
    if a_values.empty or b_values.empty:
        return ColumnShift(name, kind, null_fraction_a=nulls_a, null_fraction_b=nulls_b)
    if numeric:
        x, y = _as_numbers(a_values), _as_numbers(b_values)
        return ColumnShift(
            name,
            kind,
            psi=psi(x, y),
            ks=ks_statistic(x, y),
            null_fraction_a=nulls_a,
            null_fraction_b=nulls_b,
        )
    if a.dtype != b.dtype:
        a_values, b_values = a_values.astype(str), b_values.astype(str)
    distance, top = linf_distance(a_values, b_values)
    return ColumnShift(
        name, kind, linf=distance, most_moved=top, null_fraction_a=nulls_a, null_fraction_b=nulls_b
    )


def _is_numeric(series: Any) -> bool:
    import pandas as pd

    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return False
    return pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_datetime64_any_dtype(dtype)


def _as_numbers(series: Any) -> Any:
    import numpy as np
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            series = series.dt.tz_convert(None)
        return series.astype("datetime64[ns]").to_numpy().view(np.int64).astype(float)
    return series.to_numpy(dtype=float)


def _sortable(index: Any) -> bool:
    try:
        index.sort_values()
    except TypeError:
        return False
    return True
