"""A parsed request checked against the model's signature, on numpy arrays, before it is batched.

The rules and messages are `perennia.models.signature.enforce`'s (see its docstring): only
lossless casts (int -> float while exact, narrower ints that fit, float -> int when integral),
no strings for numbers, a missing required column is an error, extra columns are dropped, and
columns come back in the signature's order. The difference is the cost: numeric columns are
checked with a few numpy reductions and text columns with one pass over their values, so a
request that fits is never turned into a DataFrame here. The request is also put in the form
the signature takes: a table for a column signature (an unnamed tensor's columns are taken in
order) and a tensor for an array signature (one column, or several stacked).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from perennia.errors import InvalidInput
from perennia.serving.protocols.request import ParsedRequest, ProtocolError, stack

logger = logging.getLogger(__name__)

_PREFIX = "input does not match the model's signature: "


def check_columns(signature: Any, parsed: ParsedRequest) -> ParsedRequest:
    """Return `parsed` checked and cast to `signature` (None: unchanged); raise InvalidInput."""
    if signature is None:
        return parsed
    params = check_params(getattr(signature, "params", None), parsed.params)
    if signature.input_kind == "array":
        from perennia.models.signature import enforce

        array = enforce(signature, _as_tensor(signature.inputs[0], parsed))
        return replace(parsed, columns=None, tensor=array, params=params)
    columns = _check_table(signature.inputs, _as_columns(signature.inputs, parsed), parsed.n_rows)
    return replace(parsed, columns=columns, tensor=None, params=params)


def _as_columns(specs: list[Any], parsed: ParsedRequest) -> dict[str, Any]:
    """Return the request's columns; a tensor's columns are named by the signature, in order."""
    if parsed.columns is not None:
        return parsed.columns
    array = parsed.tensor
    if array.ndim == 1 and len(specs) == 1:
        return {specs[0].name: array}
    if array.ndim == 2 and array.shape[1] == len(specs):
        return {spec.name: array[:, i] for i, spec in enumerate(specs)}
    names = ", ".join(repr(spec.name) for spec in specs)
    raise InvalidInput(
        f"{_PREFIX}an array input needs one column per input ({len(specs)}: {names}) but has "
        f"shape {array.shape}"
    )


def _as_tensor(spec: Any, parsed: ParsedRequest) -> Any:
    """Return the request as one array: its tensor, its only column, or its columns stacked."""
    if parsed.tensor is not None:
        return parsed.tensor
    columns = list(parsed.columns.values())
    if len(columns) == 1 and len(spec.shape) == 1:
        return columns[0]
    if not columns:
        raise InvalidInput(f"{_PREFIX}expects an array of shape {spec.shape} but got no columns")
    return stack(columns, parsed.n_rows)


def _check_table(specs: list[Any], columns: dict[str, Any], n_rows: int) -> dict[str, Any]:
    """Return the signature's columns, cast, in its order; raise InvalidInput naming misfits."""
    out: dict[str, Any] = {}
    problems: list[str] = []
    missing = False
    for spec in specs:
        values = columns.get(spec.name)
        if values is None:
            if spec.required:
                problems.append(f"column {spec.name!r} is missing (required {spec.dtype})")
                missing = True
            else:
                out[spec.name] = _nulls(spec.dtype, n_rows)
            continue
        result, misfit = cast_column(values, spec)
        if misfit is None:
            out[spec.name] = result
        else:
            problems.append(describe(f"column {spec.name!r}", spec.dtype, misfit))
    extra = sorted(set(columns) - {spec.name for spec in specs})
    if problems:
        if missing:
            expected = ", ".join(f"{spec.name!r} ({spec.dtype})" for spec in specs)
            problems.append(f"the model expects columns {expected}")
        if extra:
            problems.append(f"extra columns are ignored: {extra}")
        if missing:
            raise InvalidInput(_PREFIX + "; ".join(problems))
        raise ProtocolError(_PREFIX + "; ".join(problems))  # MLflow's BAD_REQUEST for types
    if extra:
        logger.debug("dropping columns the signature does not name: %s", extra)
    return out


def _nulls(dtype: str, n_rows: int) -> Any:
    """Return a numpy column of nulls: NaN or NaT where the type has one, else None objects
    (the model's enforce turns those into its nullable column once per batch)."""
    import numpy as np

    from perennia.models.columns import FLOATS, null_column

    if dtype in FLOATS or dtype == "datetime":
        return null_column(dtype, n_rows)
    return np.full(n_rows, None, dtype=object)


def cast_column(values: Any, spec: Any) -> tuple[Any, Any]:
    """Return (column cast to `spec.dtype`, None) or (None, (found, first bad row, its value))."""
    target = spec.dtype
    kind = values.dtype.kind
    if kind in "biuf" and values.dtype.name == target:
        return values, None  # already the declared type: nothing to cast, no value can misfit
    from perennia.models.columns import (
        FLOATS,
        INTEGERS,
        cast,
        cast_number,
        compatible,
        from_numpy,
        mismatch,
    )

    if kind in "biuf" and (target == "bool" or target in INTEGERS or target in FLOATS):
        col = from_numpy(values)
        if not compatible(col.kind, target):
            return None, mismatch(col, target, values)
        return _numpy_result(*cast_number(col, target, spec.required), values)
    if target == "string" and kind in "OU":
        return _text(values, spec)
    if target == "datetime" and kind in "OU":
        return _datetimes(values)
    return _numpy_result(*cast(from_numpy(values), spec, values), values)


def _datetimes(values: Any) -> tuple[Any, Any]:
    """Return ISO 8601 text as datetimes: JSON has no other way to carry them. No format is
    guessed: a value that is not ISO 8601 is a misfit, reported with its row."""
    import pandas as pd

    items = values.tolist()
    try:
        return pd.to_datetime(items, format="ISO8601").to_numpy(), None
    except (ValueError, TypeError):
        for i, item in enumerate(items):
            try:
                pd.to_datetime([item], format="ISO8601")
            except (ValueError, TypeError):
                return None, ("text that is not an ISO 8601 date", i, item)
        raise


def _numpy_result(result: Any, misfit: Any, values: Any) -> tuple[Any, Any]:
    """Return a cast's result as numpy: batches join numpy arrays, not pandas ones."""
    import numpy as np

    if misfit is not None or type(result).__module__.partition(".")[0] != "pandas":
        return result, misfit
    if getattr(result, "dtype", None) is not None and result.dtype.kind in "biu":
        # A nullable int or bool column (an optional one with nulls): the values as sent go
        # on, and the model's own enforce makes the same nullable column once per batch.
        return values, None
    return np.asarray(result), None


def _text(values: Any, spec: Any) -> tuple[Any, Any]:
    """Return a text column as objects holding str (or None); bytes that are UTF-8 are decoded."""
    if values.dtype.kind == "U":
        return values.astype(object), None
    items = values.tolist()
    if set(map(type, items)) <= {str, type(None)}:
        return values, None  # text holds nulls, required or not (enforce's rule)
    decoded = []
    for i, item in enumerate(items):
        if isinstance(item, bytes):
            try:
                item = item.decode("utf-8")
            except UnicodeDecodeError:
                return None, ("binary values that are not UTF-8 text", i, item)
        elif item is not None and not isinstance(item, str):
            from perennia.models.columns import type_name

            return None, (type_name(item), i, item)
        decoded.append(item)
    from perennia.serving.protocols.request import as_object

    return as_object(decoded), None


def describe(label: str, dtype: str, misfit: tuple[str, int | None, Any]) -> str:
    """Return enforce's wording for a misfit: what was found, and the first bad row and value."""
    what, position, value = misfit
    text = f"{label} expects {dtype} but got {what}"
    if position is None:
        return text
    if value is None:
        return f"{text} at row {position}"
    shown = repr(value.item() if hasattr(value, "item") else value)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    return f"{text} ({shown} at row {position})"


def check_params(specs: Any, params: dict[str, Any]) -> dict[str, Any]:
    """Return `params` checked against parameter specs (name, dtype, default, shape), if any.

    Without specs the params go on as sent. With them, unknown names are dropped (MLflow
    ignores them too), missing ones take their default, and a value of the wrong type is an
    InvalidInput naming the parameter; ints are accepted (as floats) for a float parameter.
    """
    if not specs:
        return params
    known = {spec.name: spec for spec in specs}
    unknown = sorted(set(params) - set(known))
    if unknown:
        logger.debug("ignoring params the signature does not name: %s", unknown)
    out = {}
    for name, spec in known.items():
        if name in params:
            out[name] = _param(spec, params[name])
        elif getattr(spec, "default", None) is not None:
            out[name] = spec.default
    return out


def _param(spec: Any, value: Any) -> Any:
    from perennia.models.columns import FLOATS, fits

    accepts = fits(spec.dtype)
    is_list = getattr(spec, "shape", None) is not None
    items = value if is_list and isinstance(value, list) else [value]
    if (is_list and not isinstance(value, list)) or not all(accepts(item) for item in items):
        shape = "a list of " if is_list else ""
        raise InvalidInput(f"param {spec.name!r} expects {shape}{spec.dtype} but got {value!r}")
    if spec.dtype in FLOATS:
        items = [float(item) for item in items]
        return items if is_list else items[0]
    return value
