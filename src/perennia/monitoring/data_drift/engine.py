"""`drift(reference, current)`: every column compared once, then one verdict across them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from perennia.errors import InvalidInput
from perennia.monitoring.data_drift.categorical_column import categorical_drift, category_counts
from perennia.monitoring.data_drift.frames import Frame, numeric_values, open_frame
from perennia.monitoring.data_drift.kinds import (
    compatible,
    is_flag,
    kind_from_type,
    mismatch_reason,
)
from perennia.monitoring.data_drift.numeric_column import numeric_drift
from perennia.monitoring.data_drift.report import ColumnDrift, DriftReport
from perennia.monitoring.data_drift.settings import DriftSettings, MethodChoice, parse_methods
from perennia.monitoring.stats.fdr import benjamini_hochberg

WORKERS = 2


def drift(
    reference: Any,
    current: Any,
    columns: Iterable[str] | None = None,
    methods: Any = "auto",
    *,
    categorical: Iterable[str] = (),
    numeric: Iterable[str] = (),
    settings: DriftSettings | None = None,
    multivariate: bool = False,
) -> DriftReport:
    """Return the drift of `current` against `reference` (pandas, polars, Arrow or Parquet paths).

    `columns` defaults to every column of the reference. `methods` adds statistics to the ones
    that decide (see `perennia.monitoring.data_drift.settings`): "auto", a list of names, or a dict by
    "numeric", "categorical" or column name. `multivariate=True` adds a domain classifier's
    held-out AUC and the PCA reconstruction error (`multivariate_drift`).
    """
    settings = settings or DriftSettings()
    if not isinstance(settings, DriftSettings):
        raise InvalidInput(f"settings must be a DriftSettings, got {type(settings).__name__}")
    choice = parse_methods(methods)
    from perennia.monitoring.profiles.dataset import DatasetProfile

    if isinstance(reference, DatasetProfile):
        if multivariate:
            raise InvalidInput("multivariate drift needs the reference data, not its profile")
        return _against_profile(
            reference, open_frame(current, "current"), columns, choice, settings
        )
    ref, cur = open_frame(reference, "reference"), open_frame(current, "current")
    names = _columns(ref, columns)
    forced_categorical, forced_numeric = (
        _names(categorical, "categorical"),
        _names(numeric, "numeric"),
    )
    both = forced_categorical & forced_numeric
    if both:
        raise InvalidInput(f"column {sorted(both)[0]!r} is listed as both categorical and numeric")

    def one(name: str) -> ColumnDrift:
        return _column(name, ref, cur, choice, settings, forced_categorical, forced_numeric)

    report = _report(_map(one, names), settings, ref.rows, cur.rows)
    if multivariate:
        from perennia.monitoring.data_drift.multivariate import multivariate_drift

        report = replace(report, multivariate=multivariate_drift(reference, current, names))
    return report


def _report(
    entries: list[ColumnDrift], settings: DriftSettings, rows_ref: int, rows_cur: int
) -> DriftReport:
    entries = _decide(entries, settings)
    # A column that went entirely missing is not comparable, but its missing share is: it
    # counts, so a broken upstream feature is drift, not "no drift".
    judged = [e for e in entries if e.computable or e.null_test is not None]
    verdict = any(e.drifted or e.null_shift for e in judged) if judged else None
    return DriftReport(tuple(entries), settings, rows_ref, rows_cur, verdict)


def _against_profile(
    reference: Any,
    cur: Frame,
    columns: Iterable[str] | None,
    choice: MethodChoice,
    settings: DriftSettings,
) -> DriftReport:
    """Return the report of `cur` against a DatasetProfile."""
    from perennia.monitoring.data_drift.against_profile import PROFILE_METHODS, numeric_vs_profile
    from perennia.monitoring.profiles.numeric import NumericProfile

    names = list(reference.columns) if columns is None else None
    if names is None:
        wanted = _names(columns, "columns")
        missing = sorted(wanted - set(reference.columns))
        if missing:
            raise InvalidInput(f"column {missing[0]!r} is not in the reference profile")
        names = [name for name in reference.columns if name in wanted]

    def one(name: str) -> ColumnDrift:
        column = reference.columns[name]
        if name not in cur.columns:
            return ColumnDrift(name, column.kind, False, "missing from the current data")
        cur_type = cur.kind_of(name)
        ref_type = _profile_type(column)
        if not compatible(ref_type, cur_type):
            return ColumnDrift(name, column.kind, False, mismatch_reason(ref_type, cur_type))
        if isinstance(column, NumericProfile):
            wanted = tuple(m for m in choice.for_column(name, "numeric") if m in PROFILE_METHODS)
            return numeric_vs_profile(
                name, column, numeric_values(cur.series(name)), wanted, settings
            )
        counts = category_counts(cur.series(name))
        return categorical_drift(
            name, column.kind, column.as_counts(), counts, choice.for_column(name, column.kind)
        )

    return _report(_map(one, names), settings, reference.rows, cur.rows)


def _profile_type(column: Any) -> str:
    """Return the type (as `Frame.kind_of` names it) of the column a profile was built from."""
    from perennia.monitoring.profiles.numeric import NumericProfile

    if isinstance(column, NumericProfile):
        return "numeric"
    # A profile keeps no type; its labels tell booleans, 0/1 flags and numbers forced
    # categorical (all of which current integers or floats may be compared with) from text.
    labels = list(column.counts)
    if labels and all(isinstance(label, bool) for label in labels):
        return "boolean"
    if labels and all(
        isinstance(label, (int, float)) and not isinstance(label, bool) for label in labels
    ):
        return "integer"
    return "boolean" if column.kind == "binary" else "other"


def _map(function: Any, names: list[str]) -> list[ColumnDrift]:
    """Return `function` over `names`, in order, on two threads (numpy releases the GIL)."""
    if len(names) < 2 or WORKERS < 2:
        return [function(name) for name in names]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(WORKERS, thread_name_prefix="perennia-drift") as pool:
        return list(pool.map(function, names))


def _columns(ref: Frame, columns: Iterable[str] | None) -> list[str]:
    if columns is None:
        return list(ref.columns)
    names = _names(columns, "columns")
    missing = sorted(names - set(ref.columns))
    if missing:
        raise InvalidInput(
            f"column {missing[0]!r} is not in the reference; it has: {', '.join(ref.columns[:20])}"
        )
    return [name for name in ref.columns if name in names]


def _names(values: Iterable[str], label: str) -> set[str]:
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise InvalidInput(f"{label} must be a list of column names, got {values!r:.60}")
    names = set()
    for value in values:
        if not isinstance(value, str):
            raise InvalidInput(f"{label} must hold column names (text), got {value!r:.60}")
        names.add(value)
    return names


def _column(
    name: str,
    ref: Frame,
    cur: Frame,
    choice: MethodChoice,
    settings: DriftSettings,
    forced_categorical: set[str],
    forced_numeric: set[str],
) -> ColumnDrift:
    """Return one column's entry; a column absent from `cur` or of another type is not computable."""
    if name not in cur.columns:
        return ColumnDrift(name, "unknown", False, "missing from the current data")
    ref_type, cur_type = ref.kind_of(name), cur.kind_of(name)
    forced = "categorical" if name in forced_categorical else None
    forced = "numeric" if name in forced_numeric else forced
    kind = kind_from_type(ref_type, forced)
    if forced is None and not compatible(ref_type, cur_type):
        return ColumnDrift(name, kind, False, mismatch_reason(ref_type, cur_type))
    if kind == "numeric":
        try:
            a, b = numeric_values(ref.series(name)), numeric_values(cur.series(name))
        except (TypeError, ValueError):
            return ColumnDrift(name, kind, False, "values are not numbers; pass categorical=[...]")
        if forced is None and ref_type == "integer" and is_flag(a):
            return _categorical(name, "binary", ref, cur, choice)
        return numeric_drift(name, a, b, choice.for_column(name, "numeric"), settings)
    return _categorical(name, kind, ref, cur, choice)


def _categorical(name: str, kind: str, ref: Frame, cur: Frame, choice: MethodChoice) -> ColumnDrift:
    try:
        ref_counts, cur_counts = (
            category_counts(ref.series(name)),
            category_counts(cur.series(name)),
        )
    except TypeError as exc:
        return ColumnDrift(name, kind, False, f"values cannot be compared as categories ({exc})")
    return categorical_drift(name, kind, ref_counts, cur_counts, choice.for_column(name, kind))


def _decide(entries: list[ColumnDrift], settings: DriftSettings) -> list[ColumnDrift]:
    """Return the entries with Benjamini-Hochberg across every test, then the effect gates."""
    slots: list[tuple[int, str, float]] = []
    for i, entry in enumerate(entries):
        if entry.computable and entry.test is not None and entry.test.p_value is not None:
            slots.append((i, "test", entry.test.p_value))
        if entry.null_test is not None and entry.null_test.p_value is not None:
            slots.append((i, "null", entry.null_test.p_value))
    if not slots:
        return entries
    rejected, adjusted = benjamini_hochberg([p for _, _, p in slots], settings.alpha)
    decided = list(entries)
    for (i, which, _), hit, p_adjusted in zip(slots, rejected, adjusted, strict=True):
        entry = decided[i]
        if which == "test":
            big = _effect_passes(entry, settings)
            decided[i] = replace(entry, p_adjusted=float(p_adjusted), drifted=bool(hit and big))
        else:
            change = abs(entry.null_test.effect) >= settings.min_null_share_change
            decided[i] = replace(
                entry, null_p_adjusted=float(p_adjusted), null_shift=bool(hit and change)
            )
    return [replace(e, drifted=False) if e.computable and e.drifted is None else e for e in decided]


def _effect_passes(entry: ColumnDrift, settings: DriftSettings) -> bool:
    effect = entry.effect if entry.effect is not None else 0.0
    if entry.kind == "numeric":
        return effect >= settings.min_wasserstein
    new_share = sum(entry.new_categories.values())
    return effect >= settings.min_cramers_v or new_share >= settings.new_category_share
