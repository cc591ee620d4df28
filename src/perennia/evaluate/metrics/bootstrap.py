"""Bootstrap confidence intervals over row indices, single and paired.

Every function here resamples *row indices*, never the data: a metric is a callable that
takes an index array and returns its value on those rows, so the caller closes over its own
arrays (labels, scores, sensitive features) and nothing is copied into this module.

- `bootstrap_indices` yields the resamples: `n` indices drawn with replacement, or, with
  `strata`, drawn within each stratum so every resample keeps each stratum's row count exactly
  (pass the labels as strata and binary metrics such as ROC AUC stay defined on every resample).
- `bootstrap_interval` gives the percentile interval of one metric.
- `paired_bootstrap` evaluates a candidate and a baseline on the *same* indices in each
  resample and gives, per metric, intervals of the difference (candidate - baseline) and of each
  side. Pairing removes the row-to-row noise the two models share, so the difference interval is
  much narrower than two independent intervals would suggest. The metric callables return a
  mapping name -> value, so one resample loop serves every gate of a comparison.
  `paired_differences` is the same for a single metric.

Intervals are percentile intervals: the `(1 - confidence) / 2` and `(1 + confidence) / 2`
quantiles of the resampled values, computed by `numpy.percentile` with its default linear
interpolation. A resample on which a metric raises `InvalidInput` or returns NaN is skipped for
that metric; if more than half of the resamples are skipped the metric is too fragile for a
bootstrap on this data, and `InvalidInput` says so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np

from perennia._util import tables
from perennia.errors import InvalidInput

__all__ = [
    "PairedInterval",
    "bootstrap_indices",
    "bootstrap_interval",
    "paired_bootstrap",
    "paired_differences",
]

Seed = int | np.random.Generator | None


@dataclass(frozen=True)
class PairedInterval:
    """Paired-bootstrap intervals of one metric: the difference, the candidate, the baseline."""

    difference_low: float
    difference_high: float
    candidate_low: float
    candidate_high: float
    baseline_low: float
    baseline_high: float
    n_resamples_used: int
    confidence: float = 0.95

    @property
    def difference(self) -> tuple[float, float]:
        """Return the (low, high) interval of candidate - baseline."""
        return (self.difference_low, self.difference_high)

    @property
    def candidate(self) -> tuple[float, float]:
        """Return the (low, high) interval of the candidate's value."""
        return (self.candidate_low, self.candidate_high)

    @property
    def baseline(self) -> tuple[float, float]:
        """Return the (low, high) interval of the baseline's value."""
        return (self.baseline_low, self.baseline_high)

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a plain dict."""
        return asdict(self)


def bootstrap_indices(
    n: int,
    n_resamples: int,
    *,
    seed: Seed = 0,
    strata: Any = None,
) -> Iterator[np.ndarray]:
    """Return an iterator over `n_resamples` arrays of `n` row indices drawn with replacement.

    With `strata` (one label per row), row `i` of every resample is drawn from the rows that
    share row `i`'s stratum, so each stratum keeps its count exactly.
    """
    # Validate now, not at the first next(): a generator function would defer the errors.
    _check_count(n, "n")
    _check_count(n_resamples, "n_resamples")
    rng = np.random.default_rng(seed)
    if strata is None:
        return _plain_indices(rng, n, n_resamples)
    return _stratified_indices(rng, _strata_codes(strata, n), n_resamples)


def bootstrap_interval(
    metric: Callable[[np.ndarray], float],
    n: int,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: Seed = 0,
    strata: Any = None,
) -> tuple[float, float]:
    """Return the (low, high) percentile interval of `metric(indices)` over bootstrap resamples."""
    _check_confidence(confidence)
    values = np.full(_check_count(n_resamples, "n_resamples"), np.nan)
    for r, indices in enumerate(bootstrap_indices(n, n_resamples, seed=seed, strata=strata)):
        try:
            values[r] = float(metric(indices))
        except InvalidInput:
            continue
    kept = values[~np.isnan(values)]
    _check_enough(kept.size, n_resamples, _name_of(metric))
    return _percentiles(kept, confidence)


def paired_bootstrap(
    candidate: Callable[[np.ndarray], Mapping[str, float]],
    baseline: Callable[[np.ndarray], Mapping[str, float]],
    n: int,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: Seed = 0,
    strata: Any = None,
) -> dict[str, PairedInterval]:
    """Return metric name -> `PairedInterval`, both sides evaluated on the same resamples.

    `candidate(indices)` and `baseline(indices)` each return a mapping metric name -> value.
    A metric counts in a resample only when both sides are defined there (not NaN, present);
    if either callable raises `InvalidInput` the whole resample is skipped, so a metric that can
    be undefined should return NaN rather than raise. Both sides must report the same names.
    """
    _check_confidence(confidence)
    _check_count(n_resamples, "n_resamples")
    cand_values: dict[str, np.ndarray] = {}
    base_values: dict[str, np.ndarray] = {}
    for r, indices in enumerate(bootstrap_indices(n, n_resamples, seed=seed, strata=strata)):
        try:
            cand, base = candidate(indices), baseline(indices)
        except InvalidInput:
            continue
        _record(cand_values, cand, r, n_resamples)
        _record(base_values, base, r, n_resamples)

    if cand_values.keys() != base_values.keys():
        raise InvalidInput(
            f"paired bootstrap: the candidate reports metrics {sorted(cand_values)} and the "
            f"baseline {sorted(base_values)}; both must report the same names"
        )
    if not cand_values:
        raise InvalidInput(
            f"paired bootstrap: no metric was defined on any of the {n_resamples} resamples "
            "(every call raised InvalidInput or returned no values)"
        )
    intervals = {}
    for name, cand_all in cand_values.items():
        base_all = base_values[name]
        with np.errstate(invalid="ignore"):
            difference = cand_all - base_all
        # inf - inf is NaN too: such a resample says nothing about the difference.
        defined = ~(np.isnan(cand_all) | np.isnan(base_all) | np.isnan(difference))
        used = int(defined.sum())
        _check_enough(used, n_resamples, name)
        intervals[name] = PairedInterval(
            *_percentiles(difference[defined], confidence),
            *_percentiles(cand_all[defined], confidence),
            *_percentiles(base_all[defined], confidence),
            n_resamples_used=used,
            confidence=float(confidence),
        )
    return intervals


def paired_differences(
    candidate_metric: Callable[[np.ndarray], float],
    baseline_metric: Callable[[np.ndarray], float],
    n: int,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: Seed = 0,
    strata: Any = None,
) -> PairedInterval:
    """Return the `PairedInterval` of one metric, both models evaluated on the same resamples."""
    name = _name_of(candidate_metric)
    return paired_bootstrap(
        lambda indices: {name: candidate_metric(indices)},
        lambda indices: {name: baseline_metric(indices)},
        n,
        n_resamples=n_resamples,
        confidence=confidence,
        seed=seed,
        strata=strata,
    )[name]


def _plain_indices(rng: np.random.Generator, n: int, n_resamples: int) -> Iterator[np.ndarray]:
    for _ in range(n_resamples):
        yield rng.integers(0, n, size=n)


def _stratified_indices(
    rng: np.random.Generator, codes: np.ndarray, n_resamples: int
) -> Iterator[np.ndarray]:
    # Rows sorted by stratum make each stratum a contiguous block [start, start + size) of
    # `order`; one vectorised draw per resample picks, for every row, an offset in its block.
    order = np.argsort(codes, kind="stable")
    sizes = np.bincount(codes)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    row_start = starts[codes[order]]
    row_size = sizes[codes[order]]
    for _ in range(n_resamples):
        indices = np.empty_like(order)
        # Writing through `order` puts a same-stratum draw at each row's own position.
        indices[order] = order[row_start + rng.integers(0, row_size)]
        yield indices


def _strata_codes(strata: Any, n: int) -> np.ndarray:
    array = tables.to_numpy(strata, "strata")
    if array.ndim != 1 or array.shape[0] != n:
        raise InvalidInput(
            f"strata must hold one label per row ({n} rows), got shape {array.shape}"
        )
    try:
        _, codes = np.unique(array, return_inverse=True)
    except TypeError:
        raise InvalidInput(
            "strata labels must be comparable with each other (all numbers or all strings)"
        ) from None
    return codes.reshape(-1)


def _record(store: dict[str, np.ndarray], values: Mapping[str, float], r: int, size: int) -> None:
    if not isinstance(values, Mapping):
        raise InvalidInput(
            "paired_bootstrap metrics must return a mapping metric name -> value, "
            f"got {type(values).__name__}; use paired_differences for a single value"
        )
    for name, value in values.items():
        if name not in store:
            store[name] = np.full(size, np.nan)
        store[name][r] = np.nan if value is None else float(value)


def _percentiles(values: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(values, [tail, 100.0 - tail])
    return float(low), float(high)


def _check_enough(used: int, n_resamples: int, name: str) -> None:
    if 2 * used < n_resamples:
        raise InvalidInput(
            f"bootstrap of {name}: the metric is undefined (raised or returned NaN) on "
            f"{n_resamples - used} of {n_resamples} resamples, more than half; the data is too "
            "small or too unbalanced for it (pass the labels as strata to keep class counts fixed)"
        )


def _check_count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise InvalidInput(f"{name} must be a whole number of at least 1, got {value!r}")
    return int(value)


def _check_confidence(confidence: Any) -> None:
    if (
        isinstance(confidence, bool)
        or not isinstance(confidence, Real)
        or not 0.0 < float(confidence) < 1.0
    ):
        raise InvalidInput(
            f"confidence must be a number strictly between 0 and 1 (e.g. 0.95), got {confidence!r}"
        )


def _name_of(metric: Callable[..., Any]) -> str:
    name = getattr(metric, "__name__", "")
    return "metric" if not name or name == "<lambda>" else name
