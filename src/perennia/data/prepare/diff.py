"""What changed between two frames: schema, row counts, rows added / removed / changed, and shift.

`diff_frames(a, b, key=...)` compares a reference `a` with a newer `b`:

- schema: columns added (only in b), removed (only in a), and type changes (pandas dtype names);
- rows: counts of each; with a `key` (a column or list, unique in each frame) the keys only in b
  are added, only in a removed, and keys in both whose other shared columns differ are changed
  (nulls equal nulls); without a key, rows are compared whole (on the shared columns) as a
  multiset of 64-bit row hashes, so a row present twice in a and once in b counts one removed.
  A column whose type changed is compared by value: numbers as float64, anything else as text;
- distribution shift per shared column (keys left out): a simple stated measure until the
  monitoring drift engine exists, namely the PSI on a's deciles and the two-sample KS statistic
  for numeric columns, and the L-infinity distance between normalised value counts for the
  others; see `perennia.data.prepare.shift` for the exact definitions.

pandas, polars and Arrow frames are accepted (compared as pandas). The result is a frozen
`FrameDiff` with `to_dict()` (JSON-able) and `rows()` (what / detail lines for a CLI table).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from perennia.data.prepare.frames import json_value, require_columns, to_pandas
from perennia.data.prepare.shift import ColumnShift, column_shift
from perennia.errors import InvalidInput

EXAMPLES = 5  # keys shown per kind of row change


@dataclass(frozen=True)
class FrameDiff:
    """The differences between a reference frame (a) and a new frame (b)."""

    rows_a: int
    rows_b: int
    columns_added: tuple[tuple[str, str], ...] = ()  # (name, type)
    columns_removed: tuple[tuple[str, str], ...] = ()
    type_changes: tuple[tuple[str, str, str], ...] = ()  # (name, type in a, type in b)
    key: tuple[str, ...] | None = None
    rows_added: int = 0
    rows_removed: int = 0
    rows_changed: int | None = None  # only with a key
    examples: dict[str, tuple[Any, ...]] = field(default_factory=dict)  # added/removed/changed keys
    shifts: tuple[ColumnShift, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return the whole diff as a JSON-able dict."""
        return {
            "rows_a": self.rows_a,
            "rows_b": self.rows_b,
            "columns_added": [list(item) for item in self.columns_added],
            "columns_removed": [list(item) for item in self.columns_removed],
            "type_changes": [list(item) for item in self.type_changes],
            "key": None if self.key is None else list(self.key),
            "rows_added": self.rows_added,
            "rows_removed": self.rows_removed,
            "rows_changed": self.rows_changed,
            "examples": {
                kind: [_json_key(k) for k in keys] for kind, keys in self.examples.items()
            },
            "shifts": [shift.to_dict() for shift in self.shifts],
        }

    def rows(self) -> list[tuple[str, str]]:
        """Return (what, detail) lines describing the diff, for a two-column CLI table."""
        change = self.rows_b - self.rows_a
        lines = [("rows", f"{self.rows_a:,} -> {self.rows_b:,} ({change:+,})")]
        lines += [("column added", f"{name} ({kind})") for name, kind in self.columns_added]
        lines += [("column removed", f"{name} ({kind})") for name, kind in self.columns_removed]
        lines += [
            ("type changed", f"{name}: {old} -> {new}") for name, old, new in self.type_changes
        ]
        counts = [("added", self.rows_added), ("removed", self.rows_removed)]
        if self.rows_changed is not None:
            counts.append(("changed", self.rows_changed))
        for kind, count in counts:
            shown = self.examples.get(kind, ())
            sample = f" (e.g. {', '.join(map(repr, shown))})" if shown else ""
            lines.append((f"rows {kind}", f"{count:,}{sample}"))
        lines += [(f"shift: {shift.column}", _describe_shift(shift)) for shift in self.shifts]
        return lines


def diff_frames(
    a: Any, b: Any, *, key: str | list[str] | tuple[str, ...] | None = None
) -> FrameDiff:
    """Return a FrameDiff describing how frame `b` differs from the reference frame `a`."""
    a, b = to_pandas(a, "frame a"), to_pandas(b, "frame b")
    keys = _key_columns(key)
    if keys:
        require_columns(a, keys, "frame a")
        require_columns(b, keys, "frame b")
    types_a = {str(name): str(dtype) for name, dtype in a.dtypes.items()}
    types_b = {str(name): str(dtype) for name, dtype in b.dtypes.items()}
    shared = [name for name in types_a if name in types_b]
    compared_a, compared_b = _comparable(a, b, shared, types_a, types_b)
    if keys:
        counts, examples = _rows_by_key(compared_a, compared_b, keys, shared)
    else:
        counts, examples = _rows_as_multisets(compared_a, compared_b, shared), {}
    return FrameDiff(
        rows_a=len(a),
        rows_b=len(b),
        columns_added=tuple((n, t) for n, t in types_b.items() if n not in types_a),
        columns_removed=tuple((n, t) for n, t in types_a.items() if n not in types_b),
        type_changes=tuple((n, types_a[n], types_b[n]) for n in shared if types_a[n] != types_b[n]),
        key=tuple(keys) if keys else None,
        rows_added=counts[0],
        rows_removed=counts[1],
        rows_changed=counts[2],
        examples=examples,
        shifts=tuple(column_shift(n, a[n], b[n]) for n in shared if n not in keys),
    )


def _key_columns(key: Any) -> list[str]:
    if key is None:
        return []
    keys = [key] if isinstance(key, str) else list(key) if isinstance(key, list | tuple) else None
    if not keys or any(not isinstance(k, str) or not k for k in keys):
        raise InvalidInput(f"key={key!r} must be a column name, a list of them, or None")
    return keys


def _comparable(a: Any, b: Any, shared: list[str], types_a: dict, types_b: dict) -> tuple[Any, Any]:
    """Return the shared columns of a and b, with type-changed ones cast to one comparable type."""
    import pandas as pd

    left, right = a[shared].copy(), b[shared].copy()
    left.columns, right.columns = shared, shared
    for name in shared:
        if types_a[name] == types_b[name]:
            continue
        numbers = all(
            pd.api.types.is_numeric_dtype(frame[name])
            and not pd.api.types.is_bool_dtype(frame[name])
            for frame in (left, right)
        )
        cast = "float64" if numbers else str
        left[name] = left[name].astype(cast).where(left[name].notna())
        right[name] = right[name].astype(cast).where(right[name].notna())
    return left, right


def _row_hashes(frame: Any, columns: list[str]) -> Any:
    import numpy as np
    import pandas as pd

    if not columns:
        return pd.Series(np.zeros(len(frame), dtype=np.uint64), index=frame.index)
    return pd.util.hash_pandas_object(frame[columns], index=False)


def _rows_as_multisets(a: Any, b: Any, shared: list[str]) -> tuple[int, int, None]:
    counts_a = _row_hashes(a, shared).value_counts()
    counts_b = _row_hashes(b, shared).value_counts()
    gap = counts_b.sub(counts_a, fill_value=0)
    return int(gap[gap > 0].sum()), int(-gap[gap < 0].sum()), None


def _rows_by_key(a: Any, b: Any, keys: list[str], shared: list[str]) -> tuple[tuple, dict]:
    import pandas as pd

    for label, frame in (("a", a), ("b", b)):
        sizes = frame.groupby(keys, dropna=False, sort=False).size()
        repeated = sizes[sizes > 1]
        if len(repeated):
            example = _json_key(repeated.index[0])
            raise InvalidInput(
                f"key {keys if len(keys) > 1 else keys[0]!r} is not unique in frame {label}: "
                f"{example!r} appears {int(repeated.iloc[0])} times; "
                "diff by a unique key, or without one"
            )
    others = [name for name in shared if name not in keys]
    left = a[keys].assign(_hash_a=_row_hashes(a, others).to_numpy())
    right = b[keys].assign(_hash_b=_row_hashes(b, others).to_numpy())
    merged = pd.merge(left, right, on=keys, how="outer", indicator=True, sort=False)
    kinds = {
        "added": merged["_merge"] == "right_only",
        "removed": merged["_merge"] == "left_only",
        "changed": (merged["_merge"] == "both") & (merged["_hash_a"] != merged["_hash_b"]),
    }
    examples = {}
    for kind, mask in kinds.items():
        picked = merged.loc[mask, keys].head(EXAMPLES)
        examples[kind] = tuple(_json_key(tuple(row)) for row in picked.itertuples(index=False))
    counts = tuple(int(mask.sum()) for mask in kinds.values())
    return counts, examples


def _json_key(key: Any) -> Any:
    """Return a key as a JSON-able value: one column's value alone, several as a list."""
    if isinstance(key, tuple):
        values = [json_value(value) for value in key]
        return values[0] if len(values) == 1 else values
    return json_value(key)


def _describe_shift(shift: ColumnShift) -> str:
    parts = []
    if shift.psi is not None:
        parts.append(f"PSI {shift.psi:.3f}, KS {shift.ks:.3f}")
    if shift.linf is not None:
        parts.append(f"L-inf {shift.linf:.3f} (most moved: {shift.most_moved!r})")
    if not parts:
        parts.append("no values to compare")
    if shift.null_fraction_a or shift.null_fraction_b:
        parts.append(f"nulls {shift.null_fraction_a:.1%} -> {shift.null_fraction_b:.1%}")
    return "; ".join(parts)
