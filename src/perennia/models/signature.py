"""Model signatures: the columns and types a model takes and returns, inferred and enforced.

`infer_signature(model_input, model_output)` reads a ModelSignature off example data;
`enforce(signature, data)` returns `data` in the form the model expects, or raises InvalidInput
naming every column that does not fit, in one line.

Types: "bool", "int8".."int64", "uint8".."uint64", "float32", "float64", "string", "binary"
(bytes), "datetime" (any datetime64 unit or timezone) and "category" (pandas categorical).

Casting rules of `enforce`, all decided on the values, never per row in Python:
- A value is cast only when it survives unchanged: int -> float64 when |v| <= 2**53 (float32:
  2**24); int -> any int type every value fits in; float32 -> float64; float64 -> float32 when
  no value rounds; float -> int when every value is finite, integral and in range; string ->
  category; a category of strings -> string. Object columns holding only Python ints, floats,
  bools, str, bytes or datetimes count as those types.
- Everything else is refused: fractions to int, strings to numbers, numbers to strings, strings
  to datetime (parsing would guess a format) and bool to int (a boolean where a number is
  expected usually means the wrong column was passed, and 1/0 would hide that).
- Nulls: float, string, binary, datetime and category columns hold them as they are. An int or
  bool column cannot: a null there is refused when the column is required; in an optional column
  the result is a pandas nullable column (Int64, boolean).
- A missing required column is an error; a missing optional column is filled with nulls. Extra
  columns are no error and are dropped; an error's message still lists them, because a misspelt
  column shows up as one missing and one extra. Columns come back in the signature's order.

Inference reads each column's dtype (object columns by their values): ints with nulls become
float64, as pandas and the model see them; float16 becomes float32; a bool column with nulls is
optional, since only a nullable column holds them. Every other column is required.

Rows in messages count from 0.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

from perennia._util import tables
from perennia.errors import InvalidInput
from perennia.models.columns import (  # noqa: F401 - INTEGERS and FLOATS are part of this API
    _EXACT,
    FLOATS,
    INTEGERS,
    Column,
    cast,
    from_numpy,
    null_column,
    read_column,
)

logger = logging.getLogger(__name__)

DTYPES = ("bool", *INTEGERS, *FLOATS, "string", "binary", "datetime", "category")
INPUT_KINDS = ("dataframe", "array")

_ACCEPTS = "a pandas or polars DataFrame, a dict of columns, a list of records or a numpy array"


@dataclass(frozen=True)
class ColumnSpec:
    """One input or output: a named column, or an unnamed array with a shape (-1 = any size)."""

    name: str | None
    dtype: str
    shape: tuple[int, ...] | None = None
    required: bool = True

    def __post_init__(self) -> None:
        if self.name is not None and not isinstance(self.name, str):
            raise InvalidInput(f"a column name must be a string or None, got {self.name!r}")
        if self.dtype not in DTYPES:
            raise InvalidInput(f"unknown dtype {self.dtype!r}; expected one of {', '.join(DTYPES)}")
        if self.shape is not None:
            shape = tuple(self.shape)
            if not all(type(d) is int and d >= -1 for d in shape):
                raise InvalidInput(f"a shape holds sizes >= 0 or -1 (any size), got {shape!r}")
            object.__setattr__(self, "shape", shape)
        if not isinstance(self.required, bool):
            raise InvalidInput(f"required must be True or False, got {self.required!r}")

    def to_dict(self) -> dict[str, Any]:
        """Return this spec as a JSON-ready dict."""
        out: dict[str, Any] = {"name": self.name, "dtype": self.dtype, "required": self.required}
        if self.shape is not None:
            out["shape"] = list(self.shape)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColumnSpec:
        """Return the ColumnSpec that `to_dict` wrote."""
        if not isinstance(data, dict) or "dtype" not in data:
            raise InvalidInput(f"a column spec is a dict with a 'dtype', got {data!r}")
        shape = data.get("shape")
        return cls(
            data.get("name"),
            data["dtype"],
            None if shape is None else tuple(shape),
            data.get("required", True),
        )

    def __str__(self) -> str:
        label = "array" if self.name is None else repr(self.name)
        shape = "" if self.shape is None else f" {self.shape}"
        return f"{label}{shape}: {self.dtype}{'' if self.required else ' (optional)'}"


@dataclass(frozen=True)
class ModelSignature:
    """The inputs a model takes (columns of a frame, or one array) and the outputs it returns."""

    inputs: list[ColumnSpec]
    outputs: list[ColumnSpec] | None = None
    input_kind: Literal["dataframe", "array"] = "dataframe"

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", _specs(self.inputs, "inputs"))
        if self.outputs is not None:
            object.__setattr__(self, "outputs", _specs(self.outputs, "outputs"))
        if self.input_kind not in INPUT_KINDS:
            raise InvalidInput(f"input_kind is 'dataframe' or 'array', not {self.input_kind!r}")
        if not self.inputs:
            raise InvalidInput("a signature needs at least one input")
        if self.input_kind == "array":
            if len(self.inputs) != 1 or self.inputs[0].shape is None:
                raise InvalidInput("an array signature has exactly one input, with a shape")
            return
        names = [spec.name for spec in self.inputs]
        if None in names or any(spec.shape is not None for spec in self.inputs):
            raise InvalidInput("a dataframe signature's inputs are named columns without shapes")
        if len(set(names)) != len(names):
            raise InvalidInput(f"input column names repeat: {_repeats(names)}")

    def to_dict(self) -> dict[str, Any]:
        """Return this signature as a JSON-ready dict that `from_dict` reads back exactly."""
        outputs = None if self.outputs is None else [spec.to_dict() for spec in self.outputs]
        inputs = [spec.to_dict() for spec in self.inputs]
        return {"inputs": inputs, "outputs": outputs, "input_kind": self.input_kind}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSignature:
        """Return the ModelSignature that `to_dict` wrote."""
        if not isinstance(data, dict) or not isinstance(data.get("inputs"), list):
            raise InvalidInput(f"a signature is a dict with a list of 'inputs', got {data!r}")
        outputs = data.get("outputs")
        if outputs is not None and not isinstance(outputs, list):
            raise InvalidInput(f"a signature's 'outputs' is a list or null, got {outputs!r}")
        return cls(
            [ColumnSpec.from_dict(spec) for spec in data["inputs"]],
            None if outputs is None else [ColumnSpec.from_dict(spec) for spec in outputs],
            data.get("input_kind", "dataframe"),
        )

    def __str__(self) -> str:
        lines = [f"inputs ({self.input_kind}):", *(f"  {spec}" for spec in self.inputs)]
        if self.outputs is not None:
            lines += ["outputs:", *(f"  {spec}" for spec in self.outputs)]
        return "\n".join(lines)


def _specs(specs: Any, label: str) -> list[ColumnSpec]:
    if not isinstance(specs, (list, tuple)) or not all(isinstance(s, ColumnSpec) for s in specs):
        raise InvalidInput(f"a signature's {label} must be a list of ColumnSpec, got {specs!r}")
    return list(specs)


def _repeats(names: list[Any]) -> list[Any]:
    return sorted({str(n) for n in names if names.count(n) > 1})


def infer_signature(model_input: Any, model_output: Any = None) -> ModelSignature:
    """Return the ModelSignature that `model_input` (and `model_output`, when given) fits."""
    kind, inputs = _infer(model_input, "model_input")
    outputs = None if model_output is None else _infer(model_output, "model_output")[1]
    return ModelSignature(inputs, outputs, kind)


def _infer(data: Any, label: str) -> tuple[str, list[ColumnSpec]]:
    frame = _frame_or_none(data)
    if frame is not None:
        if frame.shape[1] == 0:
            raise InvalidInput(f"{label} has no columns to infer a signature from")
        if frame.columns.duplicated().any():
            raise InvalidInput(f"{label}'s column names repeat: {_repeats(list(frame.columns))}")
        return "dataframe", [
            _infer_spec(read_column(frame.iloc[:, i]), f"column {str(c)!r}", str(c))
            for i, c in enumerate(frame.columns)
        ]
    array = _as_array(data, label)
    spec = _infer_spec(from_numpy(array.ravel()), label, None)
    return "array", [ColumnSpec(None, spec.dtype, (-1, *array.shape[1:]))]


def _infer_spec(col: Column, label: str, name: str | None) -> ColumnSpec:
    kind, nulls = col.kind, col.has_nulls()
    if kind in INTEGERS and nulls:
        kind = "float64"  # what pandas, numpy and the model make of ints with holes
    elif kind == "float16":
        kind = "float32"
    if kind not in DTYPES:
        why = "it holds only nulls" if kind == "null" else f"its type is {kind}"
        raise InvalidInput(
            f"cannot infer a signature type for {label}: {why}; convert it, or pass a "
            "ModelSignature instead of inferring one"
        )
    # A bool column with nulls can only pass enforce() as optional (a nullable boolean).
    return ColumnSpec(name, kind, required=not (kind == "bool" and nulls))


def enforce(signature: ModelSignature, data: Any) -> Any:
    """Return `data` converted to what the model expects; raise InvalidInput naming every misfit."""
    if not isinstance(signature, ModelSignature):
        raise InvalidInput(f"enforce needs a ModelSignature, got {type(signature).__name__}")
    if signature.input_kind == "array":
        return _enforce_array(signature.inputs[0], data)
    return _enforce_frame(signature.inputs, data)


def _enforce_frame(specs: list[ColumnSpec], data: Any) -> Any:
    import pandas as pd

    if _already_fits(specs, data):
        return data  # the common serving case: nothing to cast, nothing to check per value
    frame = _frame_for(data, specs)
    labels = {str(c): c for c in frame.columns}
    if len(labels) != frame.shape[1]:
        raise InvalidInput(f"input column names repeat: {_repeats(list(map(str, frame)))}")
    columns: dict[Any, Any] = {}
    problems = []
    for spec in specs:
        if spec.name not in labels:
            if spec.required:
                problems.append(f"column {spec.name!r} is missing (required {spec.dtype})")
            else:
                columns[spec.name] = null_column(spec.dtype, len(frame))
            continue
        series = frame[labels[spec.name]]
        result, misfit = cast(read_column(series), spec, series)
        if misfit is None:
            columns[labels[spec.name]] = getattr(result, "array", result)
        else:
            problems.append(_say(f"column {spec.name!r}", spec.dtype, misfit, lambda i: f"row {i}"))
    extra = sorted(set(labels) - {spec.name for spec in specs})
    if problems:
        if extra:
            problems.append(f"extra columns are ignored: {extra}")
        raise InvalidInput("input does not match the model's signature: " + "; ".join(problems))
    if extra:
        logger.debug("dropping columns the signature does not name: %s", extra)
    return pd.DataFrame(columns, index=frame.index)


def _already_fits(specs: list[ColumnSpec], data: Any) -> bool:
    """Return whether `data` is a DataFrame with exactly the signature's numeric columns."""
    import numpy as np
    import pandas as pd

    if type(data) is not pd.DataFrame or data.shape[1] != len(specs):
        return False
    if list(data.columns) != [spec.name for spec in specs]:
        return False
    for dtype, spec in zip(data.dtypes, specs, strict=True):
        # Numpy ints and bools hold no nulls; floats may hold NaN, which a float column allows.
        exact = isinstance(dtype, np.dtype) and dtype.name == spec.dtype
        if not exact or not (
            spec.dtype in INTEGERS or spec.dtype in FLOATS or spec.dtype == "bool"
        ):
            return False
    return True


def _enforce_array(spec: ColumnSpec, data: Any) -> Any:
    import numpy as np

    array = _as_array(data, "input")
    expected = spec.shape or ()
    fits = array.ndim == len(expected) and all(
        e in (-1, a) for e, a in zip(expected, array.shape, strict=True)
    )
    if not fits:
        raise InvalidInput(
            f"input does not match the model's signature: expects an array of shape {expected} "
            f"(-1: any size) but got shape {array.shape}"
        )
    flat = array.ravel()
    result, misfit = cast(from_numpy(flat), spec, flat)
    if misfit is not None:

        def where(i: int) -> str:
            return f"index {tuple(int(k) for k in np.unravel_index(i, array.shape))}"

        raise InvalidInput(
            "input does not match the model's signature: "
            + _say("array", spec.dtype, misfit, where)
        )
    return np.asarray(result).reshape(array.shape)


def _say(label: str, dtype: str, misfit: tuple[str, int | None, Any], where: Any) -> str:
    what, position, value = misfit
    text = f"{label} expects {dtype} but got {what}"
    if position is None:
        return text
    if value is None:  # a null: its position is the whole story
        return f"{text} at {where(position)}"
    shown = repr(value.item() if hasattr(value, "item") else value)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    return f"{text} ({shown} at {where(position)})"


# -- reading data --------------------------------------------------------------------------


def _frame_or_none(data: Any) -> Any:
    """Return `data` as a pandas DataFrame when it is tabular, else None."""
    import pandas as pd

    if tables.column_name(data) is not None:
        data = data.to_frame()  # a named pandas or polars Series is one column
    if tables.is_table(data) or isinstance(data, dict):
        try:
            return tables.to_pandas(data, "a dict input")
        except (TypeError, ValueError) as exc:
            raise InvalidInput(str(exc)) from None
    if isinstance(data, (list, tuple)) and data and all(isinstance(r, dict) for r in data):
        return pd.DataFrame.from_records(list(data))
    return None


def _frame_for(data: Any, specs: list[ColumnSpec]) -> Any:
    import numpy as np
    import pandas as pd

    names = [spec.name for spec in specs]
    if isinstance(data, pd.Series) and data.name is None and len(specs) == 1:
        data = data.rename(names[0])
    if isinstance(data, (list, tuple)) and not data:
        return pd.DataFrame({name: np.empty(0, dtype=object) for name in names})
    frame = _frame_or_none(data)
    if frame is not None:
        return frame
    array = _as_array(data, "input")
    if array.ndim == 1 and len(specs) == 1:
        return pd.DataFrame({names[0]: array})
    if array.ndim == 2 and array.shape[1] == len(specs):
        return pd.DataFrame(array, columns=names)
    raise InvalidInput(
        f"input does not match the model's signature: an array input needs one column per "
        f"input ({len(specs)}: {', '.join(map(repr, names))}) but has shape {array.shape}"
    )


def _as_array(data: Any, label: str) -> Any:
    import numpy as np

    if tables.library(data) in ("pandas", "polars", "pyarrow") or isinstance(data, (list, tuple)):
        try:
            data = tables.to_numpy(data, label)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(str(exc)) from None
    if not isinstance(data, np.ndarray) or data.ndim == 0:
        raise InvalidInput(f"{label} must be {_ACCEPTS}; got {type(data).__name__}")
    return data


# -- columns and casts ---------------------------------------------------------------------
