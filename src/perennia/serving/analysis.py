"""Canary analysis: is the canary as healthy as the stable variant, judged from the prediction log?

`analyse_canary` reads the prediction log (a pandas DataFrame or pyarrow Table with the columns
`variant, ok, shadow, latency_ms, output.*` and, once feedback is joined, `ground_truth`) and runs
one `Check` per question. Each check says pass, fail or inconclusive; the analysis fails if any
check fails, is inconclusive if any is inconclusive, and passes only when every check passes.
Inconclusive means "keep the current step and analyse again with more data".

- **Sample size.** Each variant needs `policy.min_requests` non-shadow predictions in the
  window. With fewer the analysis stops there ("no data" is never a pass): inconclusive, or a
  fail when `policy.on_no_data == "fail"`; the detail starts with "no data", `no_data` is true.
- **Error rate.** The canary's share of failed predictions against `max_error_rate`, by a
  one-sided score test at 95%: fail only when the rate's Wilson lower bound (where that test
  starts rejecting "rate <= max") is above the maximum; pass when the observed rate is at or
  below it; inconclusive in between (above the limit by too few requests to be sure).
- **Latency.** p99 of successful predictions (numpy's linear interpolation): the canary's over
  the stable's against `max_p99_latency_ratio`, and the canary's own against
  `max_p99_latency_ms` when set. Each variant needs min_requests / 2 successful predictions.
- **Prediction drift.** `psi(stable, canary)` of the primary prediction column
  (`output.prediction`, else the first `output.*` column) against `max_prediction_psi`.
- **Live metric**, when the policy asks for one (`min_metric` or `max_metric_drop`) and labels
  have arrived: accuracy for class predictions, RMSE for numbers (see `is_categorical`).
  `min_metric["accuracy"]` is a floor; `min_metric["rmse"]` is a ceiling, since lower RMSE is
  better. `max_metric_drop` bounds how much worse than the stable's the canary's value may be,
  in the metric's own units. Fewer than `min_requests` labelled predictions on a side make the
  check inconclusive. The values are point estimates; the sample floor is the guard.

`psi(expected, actual)`: `expected` (the stable) gives the bins; only they make it asymmetric.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any

from perennia._util import tables
from perennia.entities.deployment import CanaryPolicy
from perennia.errors import InvalidInput

__all__ = [
    "Analysis",
    "Check",
    "analyse_canary",
    "is_categorical",
    "labels_equal",
    "prediction_frame",
    "primary_column",
    "psi",
    "wilson_interval",
]

PASS, FAIL, INCONCLUSIVE = "pass", "fail", "inconclusive"
NO_DATA = "no data"
PSI_BINS = 10
PSI_EPSILON = 1e-4  # the share an empty bin counts as, so ln(a / e) stays finite
ERROR_RATE_CONFIDENCE = 0.95  # one-sided
MAX_CLASSES = 20  # integer predictions with at most this many distinct values are classes
LIVE_METRICS = {"accuracy": True, "rmse": False}  # name -> higher is better


def _number(value: float | None) -> float | None:
    # JSON has no NaN or infinity; None says "no finite value".
    return value if value is None or math.isfinite(value) else None


@dataclass(frozen=True)
class Check:
    """One question of an analysis: its verdict, the measured value and the threshold."""

    name: str
    verdict: str  # "pass" | "fail" | "inconclusive"
    value: float | None
    threshold: float | None
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """Return the check as plain JSON-ready values (non-finite numbers become None)."""
        return {**asdict(self), "value": _number(self.value), "threshold": _number(self.threshold)}


@dataclass(frozen=True)
class Analysis:
    """The outcome of one canary analysis: the overall verdict, every check and the row counts."""

    verdict: str  # "pass" | "fail" | "inconclusive"
    checks: tuple[Check, ...]
    counts: dict[str, int]
    notes: tuple[str, ...] = ()  # e.g. which success criteria became bounds, which could not

    @property
    def no_data(self) -> bool:
        """Return whether the analysis stopped for lack of requests (the sample-size check)."""
        return any(c.name == "sample_size" and c.verdict != PASS for c in self.checks)

    def check(self, name: str) -> Check | None:
        """Return the check called `name`, or None."""
        return next((c for c in self.checks if c.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        """Return the analysis as plain JSON-ready values."""
        return {
            "verdict": self.verdict,
            "no_data": self.no_data,
            "checks": [c.to_dict() for c in self.checks],
            "counts": dict(self.counts),
            "notes": list(self.notes),
        }


# -- reading the prediction log --------------------------------------------------------------


def prediction_frame(log: Any, *, required: tuple[str, ...] = ()) -> Any:
    """Return the log as a pandas DataFrame with boolean `ok` and `shadow` columns."""
    try:
        frame = tables.to_pandas(log, "log")
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"log must be a prediction log table: {exc}") from None
    missing = [name for name in required if name not in frame.columns]
    if missing:
        raise InvalidInput(
            f"log is missing column(s) {', '.join(missing)}; a prediction log has "
            "prediction_id, request_id, time_ms, variant, latency_ms, ok, shadow and output.*"
        )
    flags = {
        name: frame[name].fillna(False).astype(bool) if name in frame.columns else False
        for name in ("ok", "shadow")
    }
    return frame.assign(**flags)


def primary_column(frame: Any) -> str:
    """Return the primary prediction column: `output.prediction`, else the first `output.*`."""
    names = [str(name) for name in frame.columns]
    if "output.prediction" in names:
        return "output.prediction"
    outputs = [name for name in names if name.startswith("output.")]
    if not outputs:
        raise InvalidInput("log has no output.* column; expected output.prediction or similar")
    return outputs[0]


def _as_series(values: Any, name: str) -> Any:
    import pandas as pd

    if isinstance(values, pd.Series):
        return values
    try:
        return pd.Series(tables.to_1d(values, name))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(str(exc)) from None


def _series(values: Any, name: str) -> Any:
    return _as_series(values, name).dropna().reset_index(drop=True)


def _as_numbers(values: Any) -> Any:
    """Return `values` as a float array, or None when some value is not a number."""
    import pandas as pd

    # Booleans are the classes 0 and 1, so True and 1 agree (as pandas' to_numeric has it).
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return values.to_numpy(dtype=float, na_value=float("nan"))
    converted = pd.to_numeric(values, errors="coerce")
    if converted.isna().sum() != values.isna().sum():
        return None
    return converted.to_numpy(dtype=float, na_value=float("nan"))


def is_categorical(*samples: Any) -> bool:
    """Return whether the samples together hold class labels rather than quantities.

    Text and anything else not convertible to a number are labels; so are numbers (booleans
    count as 0/1) that are all integers with at most MAX_CLASSES distinct values (class ids).
    """
    import numpy as np

    numbers = []
    for index, sample in enumerate(samples):
        converted = _as_numbers(_series(sample, f"sample {index}"))
        if converted is None:
            return True
        numbers.append(converted)
    values = np.concatenate(numbers) if numbers else np.empty(0)
    values = values[~np.isnan(values)]
    if values.size == 0 or not np.all(np.isfinite(values)):
        return False
    return bool(np.all(values == np.round(values)) and np.unique(values).size <= MAX_CLASSES)


def labels_equal(left: Any, right: Any) -> Any:
    """Return a boolean array: whether each pair of labels is equal (as numbers, else as text)."""
    left, right = _as_series(left, "left"), _as_series(right, "right")
    a, b = _as_numbers(left), _as_numbers(right)
    if a is not None and b is not None:
        return a == b  # 1 and 1.0 and "1" are one class
    return left.astype(str).to_numpy() == right.astype(str).to_numpy()


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Return the two-sided Wilson score interval of a proportion (the score test inverted)."""
    if n <= 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    share = successes / n
    denominator = 1 + z * z / n
    centre = (share + z * z / (2 * n)) / denominator
    half = z * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


# -- PSI --------------------------------------------------------------------------------------


def psi(
    expected: Any, actual: Any, bins: int = PSI_BINS, *, categorical: bool | None = None
) -> float:
    """Return the population stability index of `actual` against the baseline `expected`.

    Numbers are cut at the `bins`-quantiles of `expected` (duplicate edges merged, outer bins
    open, so values beyond the baseline's range still count); labels are compared category by
    category (`bins` unused); `categorical=None` decides by `is_categorical`. PSI is
    sum((a - e) * ln(a / e)) over the bins' shares, an empty bin's share counting as PSI_EPSILON
    (1e-4). Missing values are dropped; either sample empty is an error.
    """
    import numpy as np

    base, new = _series(expected, "expected"), _series(actual, "actual")
    if base.empty or new.empty:
        raise InvalidInput(
            f"psi needs values on both sides; got {len(base)} expected and {len(new)} actual"
        )
    if int(bins) != bins or bins < 1:
        raise InvalidInput(f"bins must be a positive integer; got {bins!r}")
    if categorical is None:
        categorical = is_categorical(base, new)
    if categorical:
        e_counts, a_counts = _category_counts(base, new)
    else:
        e_counts, a_counts = _bin_counts(_as_numbers(base), _as_numbers(new), int(bins))
    e_share = np.maximum(e_counts / e_counts.sum(), PSI_EPSILON)
    a_share = np.maximum(a_counts / a_counts.sum(), PSI_EPSILON)
    return float(np.sum((a_share - e_share) * np.log(a_share / e_share)))


def _bin_counts(base: Any, new: Any, bins: int) -> tuple[Any, Any]:
    import numpy as np

    if base is None or new is None:
        raise InvalidInput("psi with categorical=False needs numbers on both sides")
    finite = base[np.isfinite(base)]
    inner = np.linspace(0, 1, bins + 1)[1:-1]
    edges = np.unique(np.quantile(finite, inner)) if finite.size else np.empty(0)
    # side="right": a value equal to an edge belongs to the bin that starts there.
    e = np.bincount(np.searchsorted(edges, base, side="right"), minlength=edges.size + 1)
    a = np.bincount(np.searchsorted(edges, new, side="right"), minlength=edges.size + 1)
    return e.astype(float), a.astype(float)


def _category_counts(base: Any, new: Any) -> tuple[Any, Any]:
    import pandas as pd

    numbers = (_as_numbers(base), _as_numbers(new))
    if numbers[0] is not None and numbers[1] is not None:
        keys = [pd.Series(n) for n in numbers]  # 1, 1.0 and "1" are one class
    else:
        keys = [base.astype(str), new.astype(str)]
    e, a = keys[0].value_counts(), keys[1].value_counts()
    categories = e.index.union(a.index)
    return tuple(c.reindex(categories, fill_value=0).to_numpy(dtype=float) for c in (e, a))


# -- the analysis -----------------------------------------------------------------------------


def analyse_canary(
    log: Any,
    policy: CanaryPolicy,
    *,
    stable: str = "stable",
    canary: str = "canary",
    since_ms: int | None = None,
) -> Analysis:
    """Return the analysis of `canary` against `stable` over the log (rows from `since_ms` on)."""
    _check_policy(policy, stable, canary)
    frame = prediction_frame(log, required=("variant", "ok", "latency_ms"))
    if since_ms is not None:
        if "time_ms" not in frame.columns:
            raise InvalidInput("since_ms needs a time_ms column in the log")
        frame = frame[frame["time_ms"] >= since_ms]
    live = frame[~frame["shadow"]]
    sides = {"stable": live[live["variant"] == stable], "canary": live[live["variant"] == canary]}
    counts = _counts(sides, frame)
    sample = _sample_size_check(counts, policy)
    if sample.verdict != PASS:
        return Analysis(sample.verdict, (sample,), counts)
    column = primary_column(frame)
    checks = [
        sample,
        _error_rate_check(counts, policy),
        *_latency_checks(sides, policy),
        _psi_check(sides, column, policy),
        *_metric_checks(sides, column, policy),
    ]
    return Analysis(_overall(checks), tuple(checks), counts)


def _check_policy(policy: CanaryPolicy, stable: str, canary: str) -> None:
    if policy.on_no_data not in ("pause", "fail"):
        raise InvalidInput(
            f"policy.on_no_data must be 'pause' or 'fail'; got {policy.on_no_data!r}"
        )
    unknown = sorted(set(policy.min_metric) - set(LIVE_METRICS))
    if unknown:
        raise InvalidInput(
            f"policy.min_metric names unknown metric(s) {unknown}; accepted: accuracy, rmse"
        )
    if stable == canary:
        raise InvalidInput(f"stable and canary must be different variants; both are {stable!r}")


def _sizes(sizes: dict[str, int]) -> str:
    return ", ".join(f"{role} {size}" for role, size in sizes.items())


def _overall(checks: list[Check]) -> str:
    verdicts = {c.verdict for c in checks}
    if FAIL in verdicts:
        return FAIL
    return INCONCLUSIVE if INCONCLUSIVE in verdicts else PASS


def _counts(sides: dict[str, Any], frame: Any) -> dict[str, int]:
    counts = {"rows": len(frame), "shadow": int(frame["shadow"].sum())}
    for role, rows in sides.items():
        counts[role] = len(rows)
        counts[f"{role}_errors"] = int((~rows["ok"]).sum())
        labelled = rows["ground_truth"].notna() if "ground_truth" in rows.columns else False
        counts[f"{role}_labels"] = int((rows["ok"] & labelled).sum())
    return counts


def _sample_size_check(counts: dict[str, int], policy: CanaryPolicy) -> Check:
    needed = max(1, policy.min_requests)  # zero rows never pass, whatever the policy says
    n_stable, n_canary = counts["stable"], counts["canary"]
    value = float(min(n_stable, n_canary))
    if value >= needed:
        detail = f"stable {n_stable} and canary {n_canary} requests (at least {needed} each)"
        return Check("sample_size", PASS, value, float(needed), detail)
    verdict = FAIL if policy.on_no_data == "fail" else INCONCLUSIVE
    detail = (
        f"{NO_DATA}: stable has {n_stable} and canary {n_canary} requests, {needed} needed "
        f"from each (on_no_data={policy.on_no_data})"
    )
    return Check("sample_size", verdict, value, float(needed), detail)


def _error_rate_check(counts: dict[str, int], policy: CanaryPolicy) -> Check:
    n, failed = counts["canary"], counts["canary_errors"]
    rate, limit = failed / n, policy.max_error_rate
    low, _ = wilson_interval(failed, n, 2 * ERROR_RATE_CONFIDENCE - 1)
    stable = f"stable {counts['stable_errors']}/{counts['stable']}"
    observed = f"canary failed {failed} of {n} ({rate:.2%}; {stable})"
    if rate <= limit:
        return Check("error_rate", PASS, rate, limit, f"{observed}, max {limit:.2%}")
    if low > limit:
        detail = f"{observed}; its 95% lower bound {low:.2%} is above the max {limit:.2%}"
        return Check("error_rate", FAIL, rate, limit, detail)
    detail = (
        f"{observed} is above the max {limit:.2%} but not significantly yet "
        f"(95% lower bound {low:.2%}); more requests will decide"
    )
    return Check("error_rate", INCONCLUSIVE, rate, limit, detail)


def _latency_checks(sides: dict[str, Any], policy: CanaryPolicy) -> list[Check]:
    import numpy as np

    needed = max(1, math.ceil(policy.min_requests / 2))
    latencies = {
        role: rows.loc[rows["ok"], "latency_ms"].dropna().to_numpy(dtype=float)
        for role, rows in sides.items()
    }
    ceiling = policy.max_p99_latency_ms
    names = ["latency_p99_ratio"] + ([] if ceiling is None else ["latency_p99"])
    thresholds = [policy.max_p99_latency_ratio] + ([] if ceiling is None else [ceiling])
    if min(v.size for v in latencies.values()) < needed:
        sizes = _sizes({role: v.size for role, v in latencies.items()})
        detail = f"too few successful predictions for a p99 ({sizes}; {needed} needed from each)"
        return [
            Check(n, INCONCLUSIVE, None, t, detail) for n, t in zip(names, thresholds, strict=True)
        ]
    p99 = {role: float(np.percentile(v, 99)) for role, v in latencies.items()}
    if p99["stable"] > 0:
        ratio = p99["canary"] / p99["stable"]
    else:
        ratio = 1.0 if p99["canary"] == 0 else math.inf
    both = f"canary p99 {p99['canary']:.1f} ms, stable p99 {p99['stable']:.1f} ms"
    limit = policy.max_p99_latency_ratio
    verdict = PASS if ratio <= limit else FAIL
    checks = [Check(names[0], verdict, ratio, limit, f"{both}: ratio {ratio:.2f}, max {limit}")]
    if ceiling is not None:
        verdict = PASS if p99["canary"] <= ceiling else FAIL
        detail = f"{both}; max {ceiling} ms"
        checks.append(Check(names[1], verdict, p99["canary"], float(ceiling), detail))
    return checks


def _psi_check(sides: dict[str, Any], column: str, policy: CanaryPolicy) -> Check:
    values = {role: rows.loc[rows["ok"], column].dropna() for role, rows in sides.items()}
    limit = policy.max_prediction_psi
    if values["stable"].empty or values["canary"].empty:
        detail = f"no successful {column} values on one side; PSI needs both"
        return Check("prediction_psi", INCONCLUSIVE, None, limit, detail)
    categorical = is_categorical(values["stable"], values["canary"])
    value = psi(values["stable"], values["canary"], categorical=categorical)
    how = "categories" if categorical else f"{PSI_BINS} quantile bins of stable"
    verdict = PASS if value <= limit else FAIL
    detail = f"PSI of canary's {column} against stable's over {how}: {value:.4f}, max {limit}"
    return Check("prediction_psi", verdict, value, limit, detail)


def _metric_checks(sides: dict[str, Any], column: str, policy: CanaryPolicy) -> list[Check]:
    if not policy.min_metric and policy.max_metric_drop is None:
        return []
    labelled = {role: _labelled(rows, column) for role, rows in sides.items()}
    names = list(policy.min_metric)
    if not names:
        both = [labelled[r][k] for r in ("stable", "canary") for k in (column, "ground_truth")]
        has_labels = any(len(s) for s in both)
        names = ["accuracy" if not has_labels or is_categorical(*both) else "rmse"]
    needed = max(1, policy.min_requests)
    checks = []
    for name in names:
        if name in policy.min_metric:
            checks.append(_metric_bound(name, labelled["canary"], column, needed, policy))
        if policy.max_metric_drop is not None:
            checks.append(_metric_drop(name, labelled, column, needed, policy.max_metric_drop))
    return checks


def _labelled(rows: Any, column: str) -> Any:
    if "ground_truth" not in rows.columns:
        return rows.iloc[0:0].assign(ground_truth=None)
    return rows[rows["ok"] & rows["ground_truth"].notna() & rows[column].notna()]


def _live_metric(name: str, rows: Any, column: str) -> float | None:
    import numpy as np

    if len(rows) == 0:
        return None
    if name == "accuracy":
        return float(np.mean(labels_equal(rows[column], rows["ground_truth"])))
    predicted, truth = _as_numbers(rows[column]), _as_numbers(rows["ground_truth"])
    if predicted is None or truth is None:
        return None
    return float(np.sqrt(np.mean((predicted - truth) ** 2)))


def _metric_bound(name: str, rows: Any, column: str, needed: int, policy: CanaryPolicy) -> Check:
    bound = policy.min_metric[name]
    word = "min" if LIVE_METRICS[name] else "max"
    value = _live_metric(name, rows, column)
    if len(rows) < needed or value is None:
        detail = (
            f"too few labels: canary has {len(rows)} labelled predictions, {needed} needed"
            if len(rows) < needed
            else f"{name} needs numeric predictions and ground truth"
        )
        return Check(name, INCONCLUSIVE, None, bound, detail)
    good = value >= bound if LIVE_METRICS[name] else value <= bound
    detail = f"canary {name} {value:.4f} over {len(rows)} labels, {word} {bound}"
    return Check(name, PASS if good else FAIL, value, bound, detail)


def _metric_drop(
    name: str, labelled: dict[str, Any], column: str, needed: int, limit: float
) -> Check:
    check = f"{name}_vs_stable"
    sizes = {role: len(rows) for role, rows in labelled.items()}
    values = {role: _live_metric(name, rows, column) for role, rows in labelled.items()}
    if min(sizes.values()) < needed or None in values.values():
        detail = (
            f"too few labels: {_sizes(sizes)} labelled predictions, {needed} needed from each"
            if min(sizes.values()) < needed
            else f"{name} needs numeric predictions and ground truth"
        )
        return Check(check, INCONCLUSIVE, None, limit, detail)
    worse = values["stable"] - values["canary"]
    if not LIVE_METRICS[name]:
        worse = -worse
    detail = (
        f"canary {name} {values['canary']:.4f}, stable {values['stable']:.4f}: canary worse by "
        f"{worse:.4f}, max {limit}"
    )
    return Check(check, PASS if worse <= limit else FAIL, worse, limit, detail)
