"""A dataset's profile: one profile per column, merged per column, stored as compact JSON."""

from __future__ import annotations

import base64
import json
import zlib
from dataclasses import dataclass, field
from typing import Any

from perennia.errors import InvalidInput
from perennia.monitoring.profiles.categorical import CategoricalProfile, merge_categorical
from perennia.monitoring.profiles.numeric import NumericProfile, merge_numeric

FORMAT = "perennia.profile"
VERSION = 1
MAX_ARRAY_BYTES = 64 * 2**20
ColumnProfile = NumericProfile | CategoricalProfile


@dataclass(frozen=True)
class DatasetProfile:
    """Per-column profiles of a dataset, the row count, and whether every merge was exact."""

    columns: dict[str, ColumnProfile]
    rows: int
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def exact(self) -> bool:
        """Return whether every column's profile is exact (no regrid, no category cap)."""
        return all(p.exact for p in self.columns.values())

    def merge(self, other: DatasetProfile) -> DatasetProfile:
        """Return the profile of both datasets' rows; both must profile the same columns."""
        if set(self.columns) != set(other.columns):
            only = sorted(set(self.columns) ^ set(other.columns))
            raise InvalidInput(
                f"profiles differ in columns ({only[0]!r}); profile the same columns"
            )
        merged: dict[str, ColumnProfile] = {}
        for name, mine in self.columns.items():
            theirs = other.columns[name]
            if isinstance(mine, NumericProfile) and isinstance(theirs, NumericProfile):
                merged[name] = merge_numeric(mine, theirs)
            elif isinstance(mine, CategoricalProfile) and isinstance(theirs, CategoricalProfile):
                merged[name] = merge_categorical(mine, theirs)
            else:
                raise InvalidInput(f"column {name!r} is numeric in one profile and not the other")
        return DatasetProfile(merged, self.rows + other.rows, dict(self.meta))

    def to_bytes(self) -> bytes:
        """Return the profile as canonical JSON (arrays zlib-compressed, base64) in UTF-8."""
        body = {
            "format": FORMAT,
            "version": VERSION,
            "rows": self.rows,
            "meta": self.meta,
            "order": list(self.columns),
            "columns": {name: _pack(p.to_dict()) for name, p in self.columns.items()},
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> DatasetProfile:
        """Return the profile `to_bytes` wrote; InvalidInput for anything else."""
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise InvalidInput("not a Perennia profile: the bytes are not JSON") from None
        if not isinstance(body, dict) or body.get("format") != FORMAT:
            raise InvalidInput("not a Perennia profile: the 'format' field is missing or wrong")
        if body.get("version") != VERSION:
            raise InvalidInput(f"profile version {body.get('version')!r} is not supported (want 1)")
        try:
            packed = body["columns"]
            order = body.get("order") or sorted(packed)
            if sorted(order) != sorted(packed):
                raise ValueError("'order' does not name the profiled columns")
            columns = {name: _unpack(packed[name]) for name in order}
            return cls(columns, int(body["rows"]), dict(body.get("meta") or {}))
        except (KeyError, TypeError, ValueError, zlib.error) as exc:
            raise InvalidInput(f"the profile is damaged ({type(exc).__name__}: {exc})") from None


def _pack(fields: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    packed = {}
    for key, value in fields.items():
        if isinstance(value, np.ndarray):
            data = base64.b64encode(zlib.compress(np.ascontiguousarray(value).tobytes(), 6))
            packed[key] = {"dtype": value.dtype.str, "data": data.decode("ascii")}
        elif isinstance(value, float) and value != value:
            packed[key] = None
        else:
            packed[key] = value
    return packed


def _array(value: dict[str, str]) -> Any:
    import numpy as np

    dtype = np.dtype(value["dtype"])
    if dtype.kind not in "iuf":
        raise ValueError(f"array type {value['dtype']} is not allowed")
    inflater = zlib.decompressobj()
    raw = inflater.decompress(base64.b64decode(value["data"]), MAX_ARRAY_BYTES)
    if inflater.unconsumed_tail:
        # A profile array is a few hundred KiB; refuse a "zip bomb" before it fills memory.
        raise ValueError(f"an array inflates past {MAX_ARRAY_BYTES} bytes")
    return np.frombuffer(raw, dtype=dtype).copy()


def _unpack(fields: dict[str, Any]) -> ColumnProfile:
    kind = fields["kind"]
    if kind == "numeric":
        counts, tails = _array(fields["counts"]), _array(fields["tails"])
        if counts.size != tails.size or counts.size == 0:
            raise ValueError("counts and tails must be non-empty and of one length")
        return NumericProfile(
            count=int(fields["count"]),
            missing=int(fields["missing"]),
            minimum=float(fields["minimum"]),
            maximum=float(fields["maximum"]),
            mean=float(fields["mean"]),
            m2=float(fields["m2"]),
            lo=float(fields["lo"]),
            hi=float(fields["hi"]),
            counts=counts.astype("int64"),
            tails=tails.astype("float64"),
            registers=_array(fields["registers"]).astype("uint8"),
            exact=bool(fields["exact"]),
        )
    if kind in ("categorical", "binary"):
        labels, counts = fields["categories"], fields["category_counts"]
        if len(labels) != len(counts):
            raise ValueError("categories and category_counts differ in length")
        return CategoricalProfile(
            {label: int(n) for label, n in zip(labels, counts, strict=True)},
            int(fields["missing"]),
            kind,
            bool(fields["exact"]),
        )
    raise ValueError(f"unknown column kind {kind!r}")
