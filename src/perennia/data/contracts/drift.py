"""Distribution expectations: a reference profile kept in the contract, and distances to it.

As TFDV's comparators: a numeric column is binned on the reference's quantiles (equal-mass
bins, so each bin carries evidence) and compared by Jensen-Shannon distance (base 2, in [0, 1])
or PSI; a categorical column is compared by the L-infinity distance between normalised value
counts (the largest change in one value's share). Nulls are left out of both sides; the null
expectations watch them. A categorical profile keeps the `TOP` most frequent values and pools
the rest as "other", so a value never seen in the reference moves mass into "other".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from perennia._util import distances
from perennia.data.contracts.columns import NUMERIC, Columns
from perennia.data.contracts.outcome import Outcome, failed, plain
from perennia.data.contracts.spec import is_number
from perennia.errors import InvalidInput

BINS = 10
TOP = 50
DEFAULT_THRESHOLDS = {"jensen_shannon": 0.1, "psi": 0.2, "linf": 0.1}
DEFAULT_METRIC = {"numeric": "jensen_shannon", "categorical": "linf"}
CATEGORICAL_TYPES = ("string", "category", "boolean")


def numeric_profile(values: Any, bins: int = BINS) -> dict[str, Any]:
    """Return the profile of non-null numbers: inner quantile edges and each bin's share."""
    import numpy as np

    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return {"kind": "numeric", "edges": [], "proportions": [1.0], "count": 0}
    edges = distances.quantile_edges(values, bins)
    return {
        "kind": "numeric",
        "edges": [float(e) for e in edges],
        "proportions": [float(s) for s in distances.bucket_shares(edges, values)],
        "count": int(values.size),
    }


def value_counts(cols: Columns, column: str) -> dict[Any, int]:
    """Return the non-null values of a categorical column with their counts."""
    import numpy as np

    if cols.logical_type(column) == "boolean":
        values = cols.values(column)
        present = values[~cols.nulls(column)].astype(bool)
        trues = int(np.count_nonzero(present))
        return {True: trues, False: int(present.size) - trues}
    import pyarrow.compute as pc

    counted = pc.value_counts(cols.arrow(column))
    keys = counted.field("values").to_pylist()
    counts = counted.field("counts").to_pylist()
    return {k: int(c) for k, c in zip(keys, counts, strict=True) if k is not None}


def categorical_profile(counts: Mapping[Any, int], top: int = TOP) -> dict[str, Any]:
    """Return the profile of value counts: the `top` most frequent values' shares and the rest's."""
    total = sum(counts.values())
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], repr(kv[0])))[:top]
    shares = [c / total for _, c in ranked] if total else []
    return {
        "kind": "categorical",
        "values": [plain(v) for v, _ in ranked],
        "proportions": shares,
        "other": max(0.0, 1.0 - sum(shares)) if total else 0.0,
        "count": int(total),
    }


def profile_of(cols: Columns, column: str) -> dict[str, Any] | None:
    """Return the reference profile of a column, or None for a type drift is not measured on."""
    kind = cols.logical_type(column)
    if kind in NUMERIC:
        values = cols.values(column)
        return numeric_profile(values[~cols.nulls(column)])
    if kind in CATEGORICAL_TYPES:
        return categorical_profile(value_counts(cols, column))
    return None


def fits(profile: Mapping[str, Any], logical_type: str) -> bool:
    """Return whether a column of `logical_type` can be measured against `profile`."""
    return logical_type in (NUMERIC if profile["kind"] == "numeric" else CATEGORICAL_TYPES)


def current(profile: Mapping[str, Any], cols: Columns, column: str) -> tuple[list[float], int]:
    """Return the column's shares in the profile's buckets, and how many values were counted."""
    if profile["kind"] == "numeric":
        values = cols.values(column)
        values = values[~cols.nulls(column)]
        if values.size == 0:
            return [0.0] * (len(profile["edges"]) + 1), 0
        shares = distances.bucket_shares(profile["edges"], values)
        return [float(s) for s in shares], int(values.size)
    counts = value_counts(cols, column)
    total = sum(counts.values())
    if not total:
        return [0.0] * (len(profile["values"]) + 1), 0
    known = [counts.get(v, 0) / total for v in profile["values"]]
    return [*known, max(0.0, 1.0 - sum(known))], total


def reference_shares(profile: Mapping[str, Any]) -> list[float]:
    """Return the reference's shares bucket by bucket (categorical: values then other)."""
    if profile["kind"] == "numeric":
        return list(profile["proportions"])
    return [*profile["proportions"], profile["other"]]


METRICS = {
    "jensen_shannon": distances.jensen_shannon,
    "psi": distances.psi,
    "linf": distances.linf,
}


def distance(metric: str, p: Sequence[float], q: Sequence[float]) -> float:
    """Return the drift distance `metric` (a key of METRICS) between shares over the same buckets."""
    return METRICS[metric](p, q)


def bucket_labels(profile: Mapping[str, Any]) -> list[str]:
    """Return a short label per bucket, for charts."""
    if profile["kind"] == "categorical":
        return [str(v) for v in profile["values"]] + ["(other)"]
    edges = [f"{e:.4g}" for e in profile["edges"]]
    if not edges:
        return ["all"]
    return (
        [f"≤ {edges[0]}"]
        + [f"{a}–{b}" for a, b in zip(edges, edges[1:], strict=False)]
        + [f"> {edges[-1]}"]
    )


def drift(kw: Mapping[str, Any], cols: Columns, absent: Sequence[str]) -> Outcome:
    """Return the outcome of expect_column_drift_to_be_below."""
    profile, metric, column = kw["reference"], kw["metric"], kw["column"]
    kind = cols.logical_type(column)
    if not fits(profile, kind):
        return failed(f"column type {kind} does not fit a {profile['kind']} profile", cols.rows)
    shares, counted = current(profile, cols, column)
    if not counted or not profile["count"]:
        return failed(None, cols.rows, reason="no non-null values to compare")
    value = distance(metric, reference_shares(profile), shares)
    return Outcome(
        value < kw["threshold"],
        observed=value,
        element_count=cols.rows,
        missing_count=cols.rows - counted,
        details={
            "metric": metric,
            "threshold": kw["threshold"],
            "buckets": bucket_labels(profile),
            "reference": reference_shares(profile),
            "current": shares,
        },
    )


def check_profile(value: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Return a copy of a reference profile if it is well formed; raise InvalidInput otherwise."""
    kind = value.get("kind")
    keys = {
        "numeric": ("edges", "proportions", "count"),
        "categorical": ("values", "proportions", "other", "count"),
    }
    if kind not in keys:
        raise InvalidInput(
            f"{where}: kind={kind!r} is not accepted; expected numeric or categorical"
        )
    for key in keys[kind]:
        if key not in value:
            raise InvalidInput(f"{where}: missing {key!r} in the {kind} profile")
    extra = sorted(set(value) - set(keys[kind]) - {"kind"})
    if extra:
        raise InvalidInput(f"{where}: unknown key {extra[0]!r}; accepted: {', '.join(keys[kind])}")
    out = {"kind": kind, **{k: value[k] for k in keys[kind]}}
    if not isinstance(out["count"], int) or isinstance(out["count"], bool) or out["count"] < 0:
        raise InvalidInput(f"{where}: count={out['count']!r} must be a non-negative integer")
    numbers = ["proportions"] + (["edges"] if kind == "numeric" else [])
    for key in numbers:
        items = out[key]
        if not isinstance(items, list | tuple) or not all(is_number(x) for x in items):
            raise InvalidInput(f"{where}: {key} must be a list of finite numbers, got {items!r}")
        out[key] = list(items)
    if kind == "numeric":
        if len(out["proportions"]) != len(out["edges"]) + 1 or out["edges"] != sorted(out["edges"]):
            raise InvalidInput(
                f"{where}: a numeric profile needs sorted edges and one more proportion than edges"
            )
    else:
        if not isinstance(out["values"], list | tuple) or len(out["values"]) != len(
            out["proportions"]
        ):
            raise InvalidInput(f"{where}: a categorical profile needs one proportion per value")
        if not is_number(out["other"]):
            raise InvalidInput(f"{where}: other={out['other']!r} must be a finite number")
        out["values"] = list(out["values"])
    return out
