"""The shape every wire protocol parses a request into, its error, and the JSON codec they share.

A request is either a table (`columns`: one 1-D numpy array per column, all the same length)
or one unnamed tensor (`tensor`), never both. Protocol modules build it straight from the
decoded JSON, without pandas, so the server's hot path costs a few numpy conversions.

JSON goes through orjson when it is installed (several times faster on both sides) and
through the standard library otherwise. orjson refuses what `json` accepts in a few corners
MLflow's server takes (NaN and Infinity literals, integers beyond 64 bits, UTF-16 bodies), so a
body orjson refuses is read again by `json`: only malformed bodies pay twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from perennia.errors import InvalidInput

try:  # an optional speed-up; the standard library gives the same values
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised where orjson is absent
    _orjson = None

# Numpy arrays are written natively; non-text keys as json writes them (1 -> "1").
_OPTIONS = 0 if _orjson is None else _orjson.OPT_SERIALIZE_NUMPY | _orjson.OPT_NON_STR_KEYS
_ERROR_CODES = {400: "BAD_REQUEST", 413: "REQUEST_LIMIT_EXCEEDED", 415: "BAD_REQUEST"}


class ProtocolError(InvalidInput):
    """A request the wire protocol cannot read; `status` is its HTTP status (400, 413 or 415)."""

    def __init__(self, message: str, status: int = 400) -> None:
        if status not in _ERROR_CODES:
            raise ValueError(f"a protocol error's status is 400, 413 or 415, not {status!r}")
        super().__init__(message)
        self.status = status
        self.http_status = status
        self.error_code = _ERROR_CODES[status]


@dataclass
class ParsedRequest:
    """One request's input (a table or a tensor) and the options its protocol carried."""

    columns: dict[str, Any] | None
    tensor: Any
    params: dict[str, Any] = field(default_factory=dict)
    n_rows: int = 0
    request_id: str | None = None
    outputs: list[str] | None = None
    binary_outputs: bool = False


def table(columns: dict[str, Any], **options: Any) -> ParsedRequest:
    """Return a ParsedRequest holding `columns` (equal-length 1-D arrays; checked here)."""
    lengths = {len(values) for values in columns.values()}
    if len(lengths) > 1:
        sizes = {name: len(values) for name, values in columns.items()}
        raise ProtocolError(f"every column needs the same number of rows, got {sizes}")
    n_rows = lengths.pop() if lengths else options.pop("n_rows", 0)
    options.pop("n_rows", None)
    return ParsedRequest(columns, None, n_rows=n_rows, **options)


def tensor(array: Any, **options: Any) -> ParsedRequest:
    """Return a ParsedRequest holding one tensor (its first dimension counts the rows)."""
    if array.ndim == 0:
        raise ProtocolError(
            f"the input is a single value ({array.item()!r}); send a list of rows instead"
        )
    return ParsedRequest(None, array, n_rows=int(array.shape[0]), **options)


def loads(body: bytes | str) -> Any:
    """Return the decoded JSON `body`; raise ValueError (with the decoder's reason) if invalid."""
    if _orjson is not None:
        try:
            return _orjson.loads(body)
        except _orjson.JSONDecodeError:
            pass  # read again below: json accepts NaN, huge integers and UTF-16/32 bodies
    return json.loads(body)


def dumps(value: Any) -> bytes:
    """Return `value` as compact JSON bytes (NaN and Infinity written as `json` writes them)."""
    if _orjson is not None:
        try:
            # orjson would write NaN as null; the callers send non-finite floats through json.
            return _orjson.dumps(value, option=_OPTIONS)
        except TypeError:
            pass  # integers beyond 64 bits and other types only json writes
    return json.dumps(value, separators=(",", ":"), default=_plain).encode()


def describe(value: Any) -> str:
    """Return what kind of JSON value `value` is, as an error message names it."""
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    return names.get(type(value), "a number" if isinstance(value, (int, float)) else "null")


def _plain(value: Any) -> Any:
    """Return a numpy scalar or array as the Python value json can write."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot write a {type(value).__name__} as JSON")


# -- numpy columns -------------------------------------------------------------------------


def as_object(values: list[Any]) -> Any:
    """Return `values` as a 1-D object array, each element kept as it is (lists included)."""
    import numpy as np

    return np.fromiter(values, dtype=object, count=len(values))


def infer_column(values: list[Any]) -> Any:
    """Return a list of JSON values as the numpy column pandas would build from them.

    ints -> int64 (uint64 past int64, objects past that); ints and floats, with or without
    nulls -> float64 with NaN; bools -> bool; anything else (text, bools with nulls, mixtures,
    nested lists) -> objects, with None for nulls.
    """
    import numpy as np

    kinds = set(map(type, values))
    if kinds <= _NUMBERS and kinds & _REALS:
        if kinds == _INT:
            return _ints(values)
        if type(None) not in kinds or len(kinds) > 1:
            return np.array(values, dtype=np.float64)  # None becomes NaN
    if kinds == _BOOL:
        return np.array(values, dtype=bool)
    return as_object(values)


_INT = {int}
_BOOL = {bool}
_REALS = {int, float}
_NUMBERS = {int, float, type(None)}


def _ints(values: list[int]) -> Any:
    import numpy as np

    for dtype in (np.int64, np.uint64):
        try:
            return np.array(values, dtype=dtype)
        except OverflowError:
            continue
    return as_object(values)


def row_columns(rows: list[Any], width: int) -> list[Any]:
    """Return equal-length rows as one column array per position (pandas' types per column)."""
    import itertools

    import numpy as np

    kinds = set(map(type, itertools.chain.from_iterable(rows)))
    if rows and (kinds == {float} or kinds == {int}):
        # One type throughout (the usual request): one conversion for the whole table.
        try:
            block = np.array(rows, dtype=np.float64 if kinds == {float} else np.int64)
            return [block[:, i] for i in range(width)]
        except OverflowError:
            pass  # ints past int64: column by column, as pandas does
    if not rows:
        return [infer_column([]) for _ in range(width)]
    return [infer_column(list(col)) for col in zip(*rows, strict=True)]


def stack(columns: list[Any], n_rows: int) -> Any:
    """Return 1-D columns side by side as one 2-D array: of their dtype when they share one,
    else of objects, so an int column next to a float one keeps its exact ints."""
    import numpy as np

    if not columns:
        return np.empty((n_rows, 0))
    dtypes = {array.dtype for array in columns}
    dtype = dtypes.pop() if len(dtypes) == 1 else np.dtype(object)
    out = np.empty((n_rows, len(columns)), dtype=dtype)
    for i, array in enumerate(columns):
        out[:, i] = array
    return out
