"""A/B statistics, sticky assignment and shadow agreement, from the prediction log.

- `ab_outcomes` summarises each variant's labelled outcomes; `ab_test` compares two variants
  and names a winner or says "not yet". Outcomes (from rows whose `ground_truth` arrived):
  `accuracy` (prediction equals ground truth, 0/1) and `success` (the ground truth is itself a
  0/1 outcome) are binary and use a two-sided two-proportion z-test with the pooled variance
  (the same p-value as a chi-squared test of the 2x2 table without continuity correction);
  `squared_error` ((prediction - truth)^2, lower wins) and `reward` (a numeric ground truth,
  higher wins) use Welch's t-test. Prediction-based outcomes use successful predictions only.
- `StickyRouter` / `sticky_variant` assign a request key to a variant by consistent hashing.
- `shadow_agreement` pairs a shadow's answers with the primary's and reports how often they agree.

The Student t distribution is computed here (regularized incomplete beta by continued
fraction) so that serving needs no SciPy; the tests check it against SciPy.
"""

from __future__ import annotations

import hashlib
import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any

from perennia.errors import InvalidInput
from perennia.serving.analysis import (
    NO_DATA,
    is_categorical,
    labels_equal,
    prediction_frame,
    primary_column,
    wilson_interval,
)

__all__ = [
    "AbResult",
    "Agreement",
    "Outcome",
    "StickyRouter",
    "ab_outcomes",
    "ab_test",
    "shadow_agreement",
    "sticky_variant",
]

# name -> (kind, higher is better)
METRICS = {
    "accuracy": ("binary", True),
    "success": ("binary", True),
    "squared_error": ("numeric", False),
    "reward": ("numeric", True),
}


@dataclass(frozen=True)
class Outcome:
    """One variant's outcomes: its requests, its labelled ones, the metric and its interval."""

    variant: str
    n: int  # non-shadow predictions
    n_labelled: int  # those with an outcome (a label, and for prediction metrics a success)
    metric: str
    value: float | None  # the mean outcome; None without labels
    ci_low: float | None  # Wilson interval (binary) or t interval (numeric)
    ci_high: float | None

    def to_dict(self) -> dict[str, Any]:
        """Return the outcome as plain JSON-ready values."""
        return asdict(self)


@dataclass(frozen=True)
class AbResult:
    """An A/B comparison: the winner (a variant name) or None, and the evidence for it."""

    winner: str | None
    p_value: float | None
    effect: float | None  # b's mean outcome minus a's
    ci_low: float | None  # interval of the effect at 1 - the significance threshold
    ci_high: float | None
    verdict: str  # "a" | "b" | "not yet" | "no difference"
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """Return the result as plain JSON-ready values."""
        return asdict(self)


@dataclass(frozen=True)
class Agreement:
    """How often a shadow's answers agree with the primary's on the same request rows."""

    n_pairs: int  # rows answered successfully by both
    agreement: float | None  # share equal (labels) or within tolerance (numbers); None: no pairs
    mean_abs_diff: float | None  # numbers only
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """Return the agreement as plain JSON-ready values."""
        return asdict(self)


# -- outcomes ---------------------------------------------------------------------------------


def _check_metric(metric: str) -> tuple[str, bool]:
    if metric not in METRICS:
        raise InvalidInput(f"metric must be one of {', '.join(METRICS)}; got {metric!r}")
    return METRICS[metric]


def _numbers(values: Any, what: str) -> Any:
    import pandas as pd

    converted = pd.to_numeric(values, errors="coerce")
    bad = converted.isna() & values.notna()
    if bad.any():
        raise InvalidInput(f"{what} must be numbers; got {values[bad].iloc[0]!r}")
    return converted.to_numpy(dtype=float)


def _outcomes(rows: Any, metric: str, frame: Any) -> Any:
    """Return one float per labelled row of `rows`: its outcome under `metric`, in log order."""
    import numpy as np

    if "ground_truth" not in rows.columns:
        return np.empty(0)
    if "time_ms" in rows.columns:
        rows = rows.sort_values("time_ms", kind="stable")
    labelled = rows[rows["ground_truth"].notna()]
    truth = labelled["ground_truth"]
    if metric == "reward":
        return _numbers(truth, "ground_truth (reward)")
    if metric == "success":
        values = _numbers(truth, "ground_truth (success)")
        if not np.isin(values, (0.0, 1.0)).all():
            raise InvalidInput("ground_truth (success) must be 0/1 or booleans")
        return values
    column = primary_column(frame)
    labelled = labelled[labelled["ok"] & labelled[column].notna()]
    truth = labelled["ground_truth"]
    if metric == "accuracy":
        return labels_equal(labelled[column], truth).astype(float)
    predicted = _numbers(labelled[column], column)
    return (predicted - _numbers(truth, "ground_truth")) ** 2


def _live_rows(log: Any) -> tuple[Any, Any]:
    frame = prediction_frame(log, required=("variant",))
    return frame, frame[~frame["shadow"]]


def ab_outcomes(
    log: Any,
    *,
    variants: Sequence[str] | None = None,
    metric: str = "accuracy",
    confidence: float = 0.95,
) -> dict[str, Outcome]:
    """Return each variant's outcome summary (all non-shadow variants when `variants` is None)."""
    kind, _ = _check_metric(metric)
    frame, live = _live_rows(log)
    names = list(variants) if variants is not None else sorted(map(str, live["variant"].unique()))
    result = {}
    for name in names:
        rows = live[live["variant"] == name]
        values = _outcomes(rows, metric, frame)
        low, high = _mean_interval(values, kind, confidence)
        value = float(values.mean()) if values.size else None
        result[name] = Outcome(name, len(rows), int(values.size), metric, value, low, high)
    return result


def _mean_interval(values: Any, kind: str, confidence: float) -> tuple[float | None, ...]:
    n = values.size
    if n == 0:
        return None, None
    if kind == "binary":
        return wilson_interval(int(values.sum()), n, confidence)
    if n < 2:
        return None, None
    half = _t_isf((1 - confidence) / 2, n - 1) * float(values.std(ddof=1)) / math.sqrt(n)
    mean = float(values.mean())
    return mean - half, mean + half


# -- the A/B test -----------------------------------------------------------------------------


def ab_test(
    log: Any,
    a: str = "a",
    b: str = "b",
    *,
    alpha: float = 0.05,
    min_labels: int = 100,
    metric: str = "accuracy",
    sequential: bool = False,
    looks: int = 5,
) -> AbResult:
    """Return whether variant `a` or `b` has the better outcome, or "not yet" / "no difference".

    Each arm needs `min_labels` labelled outcomes before any verdict. Looking at a fixed-horizon
    test again and again and stopping at the first p < alpha inflates false positives well
    beyond alpha (with many looks it approaches certainty). So the default treats the call as
    the one planned analysis: not significant means "no difference". With `sequential=True` the
    test plans `looks` peeks, the k-th when the smaller arm has k * min_labels outcomes; each
    peek uses only each arm's first k * min_labels outcomes (so calls between peeks repeat the
    last answer) and the threshold alpha / looks (Bonferroni: the chance of any false positive
    over all peeks stays at most alpha, whenever they happen). Not significant before the last
    peek is "not yet"; at the last, "no difference". The verdict "a" or "b" names the arm;
    `winner` is that arm's variant name; `effect` is b's mean minus a's.
    """
    kind, higher = _check_ab_arguments(a, b, alpha, min_labels, looks, metric)
    frame, live = _live_rows(log)
    arms = [_outcomes(live[live["variant"] == name], metric, frame) for name in (a, b)]
    sizes = f"{a}: {arms[0].size}, {b}: {arms[1].size} labelled outcomes"
    smaller = min(arm.size for arm in arms)
    threshold, final, look = alpha, True, ""
    if sequential:
        k = min(smaller // min_labels, looks)
        threshold, final = alpha / looks, k == looks
        look = f"; look {k} of {looks} at alpha/{looks} = {threshold:.4g}"
        if k:
            arms = [arm[: k * min_labels] for arm in arms]
    if smaller < min_labels:
        why = f"{NO_DATA}: " if smaller == 0 else ""
        detail = f"{why}{sizes}, {min_labels} needed in each before a verdict{look}"
        return AbResult(None, *_compare_or_none(arms, kind, threshold), "not yet", detail)
    p_value, effect, low, high = _compare(arms[0], arms[1], kind, threshold)
    detail = f"{sizes}; {metric} effect (b - a) {effect:.4g}, p = {p_value:.4g}{look}"
    if p_value < threshold:
        b_wins = effect > 0 if higher else effect < 0
        verdict = "b" if b_wins else "a"
        return AbResult(b if b_wins else a, p_value, effect, low, high, verdict, detail)
    verdict = "no difference" if final else "not yet"
    return AbResult(None, p_value, effect, low, high, verdict, detail)


def _check_ab_arguments(
    a: str, b: str, alpha: float, min_labels: int, looks: int, metric: str
) -> tuple[str, bool]:
    if a == b:
        raise InvalidInput(f"a and b must be different variants; both are {a!r}")
    if not 0 < alpha < 1:
        raise InvalidInput(f"alpha must be between 0 and 1; got {alpha!r}")
    if int(min_labels) != min_labels or min_labels < 2:
        raise InvalidInput(f"min_labels must be an integer of at least 2; got {min_labels!r}")
    if int(looks) != looks or looks < 1:
        raise InvalidInput(f"looks must be a positive integer; got {looks!r}")
    return _check_metric(metric)


def _compare_or_none(arms: list[Any], kind: str, threshold: float) -> tuple[float | None, ...]:
    if min(arm.size for arm in arms) < 2:
        return None, None, None, None
    return _compare(arms[0], arms[1], kind, threshold)


def _compare(a: Any, b: Any, kind: str, threshold: float) -> tuple[float, float, float, float]:
    """Return (p-value, effect b - a, and its interval at 1 - threshold)."""
    if kind == "binary":
        return _two_proportion_z(a, b, threshold)
    return _welch(a, b, threshold)


def _two_proportion_z(a: Any, b: Any, threshold: float) -> tuple[float, float, float, float]:
    na, nb = a.size, b.size
    pa, pb = float(a.mean()), float(b.mean())
    effect = pb - pa
    pooled = (float(a.sum()) + float(b.sum())) / (na + nb)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / na + 1 / nb))
    # All outcomes equal on both sides: no evidence of any difference.
    p_value = math.erfc(abs(effect / se_pooled) / math.sqrt(2)) if se_pooled > 0 else 1.0
    # The interval uses the unpooled (Wald) variance: it describes the effect, not H0.
    se = math.sqrt(pa * (1 - pa) / na + pb * (1 - pb) / nb)
    z = NormalDist().inv_cdf(1 - threshold / 2)
    return p_value, effect, effect - z * se, effect + z * se


def _welch(a: Any, b: Any, threshold: float) -> tuple[float, float, float, float]:
    na, nb = a.size, b.size
    effect = float(b.mean()) - float(a.mean())
    va, vb = float(a.var(ddof=1)) / na, float(b.var(ddof=1)) / nb
    if va + vb == 0:
        return (1.0 if effect == 0 else 0.0), effect, effect, effect
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va * va / (na - 1) + vb * vb / (nb - 1))
    p_value = min(1.0, 2 * _t_sf(abs(effect) / se, df))
    q = _t_isf(threshold / 2, df)
    return p_value, effect, effect - q * se, effect + q * se


# -- the Student t distribution ---------------------------------------------------------------


def _beta_fraction(a: float, b: float, x: float) -> float:
    # The continued fraction of the incomplete beta (Lentz's method, Numerical Recipes 6.4);
    # it converges in O(sqrt(max(a, b))) terms when x < (a + 1) / (a + b + 2).
    tiny, qab, qap, qam = 1e-300, a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 100_000):
        m2 = 2 * m
        for numerator in (
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-16:
            break
    return h


def _beta_regularized(a: float, b: float, x: float, y: float) -> float:
    # `y` is 1 - x, given by the caller exactly: near x = 1, 1.0 - x would keep only the
    # digits x has left, and the p-value of a tiny t would be off by some 1e-9.
    if x <= 0.0:
        return 0.0
    if y <= 0.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(y)
    )
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(b, a, y) / b


def _t_sf(t: float, df: float) -> float:
    """Return P(T > t) for Student's t with `df` degrees of freedom (t >= 0)."""
    if math.isinf(df):
        return 0.5 * math.erfc(t / math.sqrt(2))
    return 0.5 * _beta_regularized(df / 2.0, 0.5, df / (df + t * t), t * t / (df + t * t))


def _t_isf(p: float, df: float) -> float:
    """Return t with P(T > t) = p (0 < p <= 0.5), by bisection on `_t_sf`."""
    low, high = 0.0, 1.0
    while _t_sf(high, df) > p:
        low, high = high, high * 2.0
    for _ in range(200):
        middle = (low + high) / 2.0
        if middle in (low, high):
            break
        low, high = (middle, high) if _t_sf(middle, df) > p else (low, middle)
    return (low + high) / 2.0


# -- sticky assignment ------------------------------------------------------------------------

_blake2b = hashlib.blake2b
_INV_2_53 = 1.0 / 9007199254740992.0  # 53 bits: every point is exact as a float, and below 1


class StickyRouter:
    """Assigns request keys to variants by consistent hashing, precomputed for the hot path.

    A key's blake2b hash (keyed by `salt`; never Python's `hash`, which differs per process)
    gives a point in [0, 1); the variants with weight above zero, in name order, split [0, 1)
    into consecutive intervals proportional to their weights, and the point's interval names the
    variant. Name order makes every replica agree whatever order the weights come in. The same
    key with the same weights always gets the same variant, and shares follow the weights.

    Changing weights moves a key only when its point changes interval ("ordered cumulative").
    With two variants (stable/canary, a/b) that is minimal: moving w of the traffic moves
    exactly w of the keys, all in one direction. With more, changing one weight also shifts the
    intervals after it in the order, so some keys move between unchanged variants; rendezvous
    hashing would avoid that at the price of one hash per variant per request.
    """

    __slots__ = ("_bounds", "_names", "_salt", "weights")

    def __init__(self, weights: Mapping[str, float], *, salt: str = "") -> None:
        self.weights = _check_weights(weights)
        names = sorted(name for name, weight in self.weights.items() if weight > 0)
        total = sum(self.weights[name] for name in names)
        bounds, running = [], 0.0
        for name in names[:-1]:
            running += self.weights[name]
            bounds.append(running / total)
        self._names = tuple(names)
        self._bounds = tuple(bounds)
        self._salt = salt.encode()
        if len(self._salt) > hashlib.blake2b.MAX_KEY_SIZE:
            raise InvalidInput(f"salt must be at most 64 bytes; got {len(self._salt)}")

    def point(self, key: str) -> float:
        """Return the key's hash as a number in [0, 1) (53 bits, exact as a float)."""
        digest = _blake2b(key.encode(), digest_size=8, key=self._salt).digest()
        return (int.from_bytes(digest, "big") >> 11) * _INV_2_53

    def pick(self, key: str) -> str:
        """Return the variant for `key`: always the same one for the same key and weights."""
        names = self._names
        if len(names) == 1:
            return names[0]
        # point() inlined: this runs once per request.
        digest = _blake2b(key.encode(), digest_size=8, key=self._salt).digest()
        return names[bisect_right(self._bounds, (int.from_bytes(digest, "big") >> 11) * _INV_2_53)]


def _check_weights(weights: Mapping[str, float]) -> dict[str, float]:
    if not isinstance(weights, Mapping) or not weights:
        raise InvalidInput("weights must map variant names to weights, with at least one variant")
    checked = {}
    for name, weight in weights.items():
        try:
            value = float(weight)
        except (TypeError, ValueError):
            value = math.nan
        if not isinstance(name, str) or not math.isfinite(value) or value < 0:
            raise InvalidInput(
                f"weights[{name!r}] must be a finite number >= 0 for a variant name; got {weight!r}"
            )
        checked[name] = value
    if not any(checked.values()):
        raise InvalidInput("weights must give at least one variant a weight above zero")
    return checked


def sticky_variant(key: str, weights: Mapping[str, float], *, salt: str = "") -> str:
    """Return the variant `key` is assigned to under `weights` (see `StickyRouter`)."""
    return StickyRouter(weights, salt=salt).pick(key)


# -- shadow agreement -------------------------------------------------------------------------


def shadow_agreement(
    log: Any, primary: str = "stable", shadow: str = "shadow", *, tolerance: float = 1e-6
) -> Agreement:
    """Return how often `shadow`'s answers agree with `primary`'s on the same request rows.

    A shadow row pairs with the primary's row of the same `request_id` and row position (the
    number after the last "-" of a `<request_id>-<row>` prediction id, else the order of the
    request's rows in the log). Only rows both answered successfully count. Labels agree when
    equal; numbers when |shadow - primary| <= tolerance * max(1, |primary|).
    """
    import numpy as np

    frame = prediction_frame(log, required=("variant", "request_id", "shadow"))
    column = primary_column(frame)
    sides = [
        _by_position(frame[(frame["variant"] == primary) & ~frame["shadow"]], column),
        _by_position(frame[(frame["variant"] == shadow) & frame["shadow"]], column),
    ]
    pairs = sides[0].add_suffix("_p").join(sides[1].add_suffix("_s"), how="inner")
    failed = int((~pairs["ok_s"]).sum())
    both = pairs[pairs["ok_p"] & pairs["ok_s"]]
    both = both[both["value_p"].notna() & both["value_s"].notna()]
    counts = f"{len(pairs)} paired rows, {failed} failed in the shadow"
    if both.empty:
        detail = f"{NO_DATA}: no row answered by both {primary!r} and shadow {shadow!r} ({counts})"
        return Agreement(0, None, None, detail)
    if is_categorical(both["value_p"], both["value_s"]):
        agree = labels_equal(both["value_p"], both["value_s"])
        detail = f"{counts}; {int(agree.sum())} of {len(both)} labels equal"
        return Agreement(len(both), float(agree.mean()), None, detail)
    p = _numbers(both["value_p"], column)
    s = _numbers(both["value_s"], column)
    diff = np.abs(s - p)
    agree = diff <= tolerance * np.maximum(1.0, np.abs(p))
    detail = f"{counts}; {int(agree.sum())} of {len(both)} within {tolerance:g} (relative)"
    return Agreement(len(both), float(agree.mean()), float(diff.mean()), detail)


def _by_position(rows: Any, column: str) -> Any:
    """Return the rows' answers indexed by (request_id, row position), one row per key."""
    request = rows["request_id"].astype(str)
    position = None
    if "prediction_id" in rows.columns:
        ids = rows["prediction_id"].astype(str)
        suffix = ids.str.rsplit("-", n=1).str[-1]
        if bool((suffix.str.isdigit() & (ids == request + "-" + suffix)).all()):
            position = suffix.astype(int)
    if position is None:
        position = rows.groupby("request_id", sort=False).cumcount()
    keyed = rows.assign(request_id=request, _row=position, value=rows[column])
    keyed = keyed.drop_duplicates(["request_id", "_row"])
    return keyed.set_index(["request_id", "_row"])[["value", "ok"]]
