"""The perturbation generators of `robustness()`, one per check: each copies the model's
input columns, perturbs them and measures the result through the check's `_Context`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from perennia.evaluate.robustness_context import _Context, _describe, _is_numeric

UNSEEN = "__unseen__"
ALL_NUMERIC = "all numeric"


def _is_text(column: Any) -> bool:
    import pandas as pd

    dtype = column.dtype
    return isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(dtype)


def _floats(column: Any) -> np.ndarray:
    return column.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)


def _with_values(column: Any, rows: Any, value: Any) -> Any:
    """Return a copy of `column` with `value` at positions `rows`, keeping its kind of dtype."""
    import pandas as pd

    missing = value is None or (isinstance(value, float) and math.isnan(value))
    if isinstance(column.dtype, pd.CategoricalDtype):
        out = column.copy()
        if not missing and value not in out.cat.categories:
            out = out.cat.add_categories([value])
        out.iloc[rows] = np.nan if missing else value
        return out
    if _is_numeric(column) and (missing or isinstance(value, int | float | np.number)):
        array = _floats(column)
        array[rows] = np.nan if missing else value
        return pd.Series(array, index=column.index, name=column.name)
    if isinstance(column.dtype, pd.StringDtype):
        out = column.copy()
        out.iloc[rows] = column.dtype.na_value if missing else value
        return out
    array = column.to_numpy(dtype=object, copy=True)
    array[rows] = None if missing else value
    return pd.Series(array, index=column.index, name=column.name)


def _replaced(frame: Any, name: str, column: Any) -> Any:
    """Return a copy of `frame` with one column replaced (the other columns are shared)."""
    out = frame.copy(deep=False)
    out[name] = column
    return out


def _gaussian_noise(ctx: _Context, rng: np.random.Generator) -> list[dict]:
    numeric = ctx.numeric()
    if not numeric:
        return [ctx.row("gaussian_noise", ALL_NUMERIC, "skipped", "no numeric feature")]
    rows, noisy = [], {}
    for name in numeric:
        values = _floats(ctx.frame[name])
        sd = ctx.noise_scale * float(np.nanstd(values)) if not np.isnan(values).all() else 0.0
        noisy[name] = values + rng.normal(0.0, 1.0, values.size) * sd
        detail = f"noise sd {sd:.4g} ({ctx.noise_scale:g} × column sd)"
        frame = _replaced(ctx.frame, name, noisy[name])
        rows.append(ctx.measure("gaussian_noise", name, [frame], detail))
    everything = ctx.frame.copy(deep=False)
    for name, values in noisy.items():
        everything[name] = values
    detail = f"noise on {len(noisy)} columns at {ctx.noise_scale:g} × column sd"
    rows.append(ctx.measure("gaussian_noise", ALL_NUMERIC, [everything], detail))
    return rows


def _missing_values(ctx: _Context, rng: np.random.Generator) -> list[dict]:
    rows = []
    for name in ctx.columns:
        where = ctx.share(rng)
        frame = _replaced(ctx.frame, name, _with_values(ctx.frame[name], where, None))
        detail = f"{where.size} of {len(ctx.frame)} rows set to missing"
        rows.append(ctx.measure("missing_values", name, [frame], detail))
    return rows


def _unseen_categories(ctx: _Context, rng: np.random.Generator) -> list[dict]:
    text = [c for c in ctx.columns if _is_text(ctx.frame[c])]
    if not text:
        reason = "no object, category or string feature to put an unseen category in"
        return [ctx.row("unseen_categories", "", "skipped", reason)]
    rows = []
    for name in text:
        where = ctx.share(rng)
        frame = _replaced(ctx.frame, name, _with_values(ctx.frame[name], where, UNSEEN))
        detail = f"{where.size} of {len(ctx.frame)} rows set to {UNSEEN!r}"
        rows.append(ctx.measure("unseen_categories", name, [frame], detail))
    return rows


def _permutation(ctx: _Context, rng: np.random.Generator) -> list[dict]:
    rows, n = [], len(ctx.frame)
    for name in ctx.columns:
        column = ctx.frame[name]
        # Drawn lazily so only one shuffled copy is alive at a time.
        frames = (
            _replaced(ctx.frame, name, column.iloc[rng.permutation(n)].set_axis(column.index))
            for _ in range(ctx.n_repeats)
        )
        rows.append(ctx.measure("permutation", name, frames, "permutation importance"))
    return rows


def _extreme_values(ctx: _Context, rng: np.random.Generator) -> list[dict]:
    numeric = ctx.numeric()
    if not numeric:
        return [ctx.row("extreme_values", "", "skipped", "no numeric feature")]
    rows = []
    for name in numeric:
        values = _floats(ctx.frame[name])
        if not np.isfinite(values).any():
            rows.append(ctx.row("extreme_values", name, "skipped", "no finite value"))
            continue
        low, high = float(np.nanmin(values)), float(np.nanmax(values))
        # max × 10 is only beyond the range when max > 0; otherwise step ten spans past it.
        top = high * 10 if high > 0 else high + 10 * max(high - low, 1.0)
        where = ctx.share(rng)
        values[where] = top
        detail = f"{where.size} rows set to {top:.4g} (max {high:.4g})"
        if low < 0:
            below = where[1::2]
            values[below] = low * 10
            detail = f"{where.size - below.size} rows set to {top:.4g} (max {high:.4g}), "
            detail += f"{below.size} to {low * 10:.4g} (min {low:.4g})"
        frame = _replaced(ctx.frame, name, values)
        rows.append(ctx.measure("extreme_values", name, [frame], detail))
    return rows


EDGE_CASES = ("all zeros", "column maxima", "column minima", "empty strings", "all missing")


def _edge_cases(ctx: _Context, rng: np.random.Generator) -> list[dict]:
    numeric = set(ctx.numeric())
    text = {c for c in ctx.columns if c not in numeric and _is_text(ctx.frame[c])}
    rows = []
    for case in EDGE_CASES:
        if case == "empty strings" and not text:
            rows.append(_edge_row(ctx, case, "skipped", "no text feature"))
            continue
        single = ctx.frame.iloc[[0]]
        for name in ctx.columns:
            value = _edge_value(case, ctx.frame[name], name in numeric, name in text)
            single = _replaced(single, name, _with_values(single[name], [0], value))
        rows.append(_predict_one(ctx, case, single))
    return rows


def _edge_value(case: str, column: Any, numeric: bool, text: bool) -> Any:
    """Return the value `column` takes in the edge-case row `case`."""
    if case == "all missing":
        return None
    if case == "empty strings":
        # Only text goes empty; the rest stays typical so the row isolates that one change.
        return "" if text else _typical(column, numeric)
    if not numeric:
        return _mode(column)
    values = _floats(column)
    finite = values[np.isfinite(values)]
    if case == "all zeros" or not finite.size:
        return 0.0
    return float(finite.max() if case == "column maxima" else finite.min())


def _predict_one(ctx: _Context, target: str, single: Any) -> dict[str, Any]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            output = np.asarray(ctx.predict(single).values)
    except Exception as exc:  # any model failure is a finding, not a crash
        return _edge_row(ctx, target, "error", _describe(exc))
    shown = np.array2string(output.ravel()[:10], precision=4, separator=", ")
    if output.dtype.kind in "fc" and not np.isfinite(output).all():
        return _edge_row(ctx, target, "degraded", f"non-finite prediction {shown}")
    return _edge_row(ctx, target, "ok", f"prediction {shown}")


def _edge_row(ctx: _Context, target: str, status: str, detail: str) -> dict[str, Any]:
    row = ctx.row("edge_cases", target, status, detail)
    row.update(metric=None, baseline=None)
    return row


def _mode(column: Any) -> Any:
    found = column.mode(dropna=True)
    return found.iloc[0] if len(found) else None


def _typical(column: Any, numeric: bool) -> Any:
    if not numeric:
        return _mode(column)
    values = _floats(column)
    return float(np.nanmedian(values)) if np.isfinite(values).any() else None


_RUNNERS: dict[str, Callable[[_Context, np.random.Generator], list[dict]]] = {
    "gaussian_noise": _gaussian_noise,
    "missing_values": _missing_values,
    "unseen_categories": _unseen_categories,
    "permutation": _permutation,
    "extreme_values": _extreme_values,
    "edge_cases": _edge_cases,
}
