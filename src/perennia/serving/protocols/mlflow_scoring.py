"""MLflow's scoring protocol (`POST /invocations`), read and written as `mlflow models serve` does.

Requests: JSON with exactly one of `dataframe_split`, `dataframe_records`, `instances` or
`inputs` (plus optional `params`), CSV with a header row, or Parquet; answers are
`{"predictions": ...}`. Status codes, error shapes and the wording of the common errors are
MLflow 3's (`mlflow/pyfunc/scoring_server/__init__.py`, `mlflow/utils/proto_json_utils.py`).

Values come out as MLflow's parser makes them, built with numpy, never through pandas (CSV
excepted): the `dataframe_*` formats follow pandas' column inference (ints stay int64, ints
with floats or nulls become float64, bools stay bool, the rest are objects); `instances` and
`inputs` follow numpy's, as MLflow calls `numpy.array` on them (its fixed-width text becomes
objects holding the same strings). Where MLflow hands pandas a shape pandas guesses at
(ragged rows, an index of another length, `data` as a dict, scalars where columns belong) we
answer 400 naming the problem: every request MLflow refuses is refused here with its status.
"""

from __future__ import annotations

import operator
from typing import Any

from perennia.serving.protocols.request import (
    ParsedRequest,
    ProtocolError,
    describe,
    infer_column,
    loads,
    row_columns,
    table,
    tensor,
)

CONTENT_TYPE_CSV = "text/csv"
CONTENT_TYPE_JSON = "application/json"
CONTENT_TYPE_PARQUET = "application/vnd.apache.parquet"
CONTENT_TYPES = [CONTENT_TYPE_CSV, CONTENT_TYPE_JSON, CONTENT_TYPE_PARQUET]
FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
LLM_KEYS = ("messages", "prompt", "input")

# MLflow prints a set here, in an order that changes between processes; ours is fixed.
REQUIRED_INPUT_FORMAT = (
    "The input must be a JSON dictionary with exactly one of the input fields "
    "{'dataframe_split', 'dataframe_records', 'instances', 'inputs'}"
)
SCORING_PROTOCOL_CHANGE_INFO = (
    "IMPORTANT: The MLflow Model scoring protocol has changed in MLflow version 2.0. If you are"
    " seeing this error, you are likely using an outdated scoring request format. To resolve the"
    " error, either update your request format or adjust your MLflow Model's requirements file to"
    " specify an older version of MLflow (for example, change the 'mlflow' requirement specifier"
    " to 'mlflow==1.30.0'). If you are making a request using the MLflow client"
    " (e.g. via `mlflow.pyfunc.spark_udf()`), upgrade your MLflow client to a version >= 2.0 in"
    " order to use the new request format. For more information about the updated MLflow"
    " Model scoring protocol in MLflow 2.0, see"
    " https://mlflow.org/docs/latest/models.html#deploy-mlflow-models."
)
_SHOWN = 200  # characters of a bad body quoted back in the error


def _invalid(message: str) -> ProtocolError:
    """Return MLflow's MlflowInvalidInputException as ours (its messages start "Invalid input.")."""
    return ProtocolError(f"Invalid input. {message}")


def parse(body: bytes, content_type: str | None, *, signature: Any = None) -> ParsedRequest:
    """Return the request `body` of `content_type` parsed; raise ProtocolError (400/415) if not.

    With the model's `signature`, CSV columns it types as text are read as text ("007" stays
    "007"), as MLflow reads CSV with the signature's types.
    """
    mime = media_type(content_type)
    if mime == CONTENT_TYPE_JSON:
        return _parse_json(body)
    if mime == CONTENT_TYPE_CSV:
        return _parse_csv(body, signature)
    return _parse_parquet(body)


def media_type(content_type: str | None) -> str:
    """Return the media type of a Content-Type MLflow accepts; raise ProtocolError 415 if not."""
    parts = [part.strip() for part in (content_type or "").split(";")]
    values = {key: value for pair in parts[1:] for key, _, value in [pair.partition("=")]}
    if values.get("charset", "utf-8").lower() != "utf-8":
        raise ProtocolError("The scoring server only supports UTF-8", 415)
    unexpected = set(values).difference({"charset"})
    if unexpected:
        raise ProtocolError(
            f"Unrecognized content type parameters: {', '.join(sorted(unexpected))}. "
            f"{SCORING_PROTOCOL_CHANGE_INFO}",
            415,
        )
    if parts[0] not in CONTENT_TYPES:
        raise ProtocolError(
            "This predictor only supports the following content types:"
            f" Types: {CONTENT_TYPES}. Got '{content_type}'.",
            415,
        )
    return parts[0]


def _parse_json(body: bytes) -> ParsedRequest:
    try:
        doc = loads(body)
    except (ValueError, RecursionError) as ex:
        shown = body[:_SHOWN].decode("utf-8", "replace")
        raise _invalid(
            f"Ensure that input is a valid JSON formatted string. Error: '{ex!r}'\n"
            f"Input: \n{shown}\n"
        ) from None
    if isinstance(doc, list):
        raise _invalid(f"{REQUIRED_INPUT_FORMAT}. Received a list.")
    if not isinstance(doc, dict):
        raise _invalid(f"{REQUIRED_INPUT_FORMAT}. Received unexpected input type '{type(doc)}.")
    llm = [key for key in LLM_KEYS if key in doc]
    if llm:
        raise ProtocolError(
            f"unwrapped LLM inputs ({', '.join(llm)}) are not served here; send the model's "
            "input under 'inputs' or a 'dataframe_*' field"
        )
    keys = [key for key in FORMATS if key in doc]
    if len(keys) != 1:
        raise ProtocolError(
            f"{REQUIRED_INPUT_FORMAT}. Received dictionary with input fields: {keys}. "
            f"{SCORING_PROTOCOL_CHANGE_INFO}"
        )
    params = doc.get("params")
    if params is None:
        params = {}
    elif not isinstance(params, dict):
        raise ProtocolError(
            f"'params' must be a JSON object of parameter names to values, got {describe(params)}"
        )
    parsed = _READERS[keys[0]](doc[keys[0]])
    parsed.params = params
    return parsed


def _split(value: Any) -> ParsedRequest:
    """Return a `dataframe_split` object ({columns, data, index}) as a table."""
    if not isinstance(value, dict):
        kind = "list" if isinstance(value, list) else f"type {type(value)}"
        raise _invalid(f"Dataframe split format must be a dictionary. Got {kind}.")
    keys = set(value)
    if "data" not in keys or keys - {"columns", "data", "index"}:
        raise _invalid(
            "Dataframe split format must have 'data' field and optionally 'columns' "
            f"and 'index' fields. Got {keys}.'"
        )
    names, rows = value.get("columns"), value["data"]
    if names is not None and not isinstance(names, list):
        raise _bad_frame("split", f"'columns' must be a list of names, got {describe(names)}")
    rows = [] if rows is None else rows
    if not isinstance(rows, list):
        raise _bad_frame("split", f"'data' must be a list of rows, got {describe(rows)}")
    if names is not None and rows and len(names) == 1 and not _all_lists(rows):
        rows = [[row] for row in rows]  # one column given as a flat list, as pandas reads it
    parsed = _rows(rows, names, "split")
    index = value.get("index")
    if index is not None and (not isinstance(index, list) or len(index) != parsed.n_rows):
        raise _bad_frame(
            "split", f"'index' must be a list of {parsed.n_rows} labels, one per row, got {index!r}"
        )
    return parsed


def _records(value: Any) -> ParsedRequest:
    """Return a `dataframe_records` list (of row objects, rows or values) as a table."""
    if not isinstance(value, list):
        kind = "dictionary" if isinstance(value, dict) else f"type {type(value)}"
        raise _invalid(f"Dataframe records format must be a list of records. Got {kind}.")
    if value and all(type(row) is dict for row in value):
        return _dict_rows(value)
    if not _all_lists(value):
        if any(isinstance(row, (dict, list)) for row in value):
            raise _bad_frame("records", "records must all be objects, or all be lists")
        value = [[item] for item in value]  # scalars: one unnamed column
    return _rows(value, None, "records")


def _dict_rows(rows: list[dict[str, Any]]) -> ParsedRequest:
    """Return row objects as a table; a key a row lacks is a null there (pandas' NaN)."""
    first = rows[0].keys()
    if all(row.keys() == first for row in rows):
        names = list(first)
        if not names:
            return table({}, n_rows=len(rows))
        # Same keys, maybe in another order: itemgetter reads each row in the first's order.
        pick = operator.itemgetter(*names)
        cells = list(map(pick, rows)) if len(names) > 1 else [(pick(row),) for row in rows]
        values = row_columns(cells, len(names))
        columns = {str(n): col for n, col in zip(names, values, strict=True)}
    else:
        names = list(dict.fromkeys(key for row in rows for key in row))
        columns = {str(n): infer_column([row.get(n) for row in rows]) for n in names}
    return table(columns)  # JSON object keys are text, so these names cannot repeat


def _rows(rows: list[Any], names: list[Any] | None, orient: str) -> ParsedRequest:
    """Return a list of rows as a table (named columns) or a 2-D tensor (no names given)."""
    from perennia.serving.protocols.request import stack

    if rows and type(rows[0]) is dict and names is not None and orient == "split":
        if not all(type(row) is dict for row in rows):
            raise _bad_frame(orient, "rows must all be objects, or all be lists")
        if not all(isinstance(name, str) for name in names):
            raise _bad_frame(orient, "column names of object rows must be text")
        picked = [{name: row.get(name) for name in names} for row in rows]
        return _dict_rows(picked) if names else table({}, n_rows=len(rows))
    if not _all_lists(rows):
        raise _bad_frame(orient, "rows must all be lists of values, one per column")
    width = len(names) if names is not None else (len(rows[0]) if rows else 0)
    lengths = set(map(len, rows))
    if lengths and lengths != {width}:
        raise _bad_frame(
            orient,
            f"{width} columns passed, but rows have {sorted(lengths)} values; "
            "every row needs one value per column",
        )
    columns = row_columns(rows, width)
    if names is None:
        return tensor(stack(columns, len(rows)))
    labels = [str(name) for name in names]
    if len(set(labels)) != len(labels):
        raise _bad_frame(orient, f"column names repeat: {sorted(_repeats(labels))}")
    return table(dict(zip(labels, columns, strict=True)), n_rows=len(rows))


def _instances(value: Any) -> ParsedRequest:
    """Return TF-serving's row format: row objects become columns, anything else a tensor."""
    if isinstance(value, list) and value and isinstance(value[0], dict):
        gathered: dict[str, list[Any]] = {}
        for item in value:
            if not isinstance(item, dict):
                raise _invalid(
                    "Ensure that the input is a valid JSON-formatted string.\nError: "
                    f"every instance must be an object once the first one is, got {describe(item)}"
                )
            for name, cell in item.items():
                gathered.setdefault(name, []).append(cell)
        return _numpy_columns(gathered)
    return _tf_value(value)


def _inputs(value: Any) -> ParsedRequest:
    """Return TF-serving's columnar format: a dict of columns, row objects or a tensor."""
    if isinstance(value, list) and value and all(type(row) is dict for row in value):
        return _dict_rows(value)
    return _tf_value(value)


def _tf_value(value: Any) -> ParsedRequest:
    if isinstance(value, dict):
        return _numpy_columns(value)
    return tensor(_numpy(value, "inputs"))


def _numpy_columns(data: dict[str, Any]) -> ParsedRequest:
    """Return named values as columns the way MLflow makes them: `numpy.array` of each."""
    columns = {}
    for name, values in data.items():
        array = _numpy(values, f"column {name!r}")
        if array.ndim != 1:
            what = "a single value" if array.ndim == 0 else f"an array of shape {array.shape}"
            raise ProtocolError(
                f"column {name!r} must be a list of values, one per row; got {what}"
            )
        columns[str(name)] = array
    lengths = {len(values) for values in columns.values()}
    if len(lengths) > 1:
        raise _invalid("The length of values for each input/column name are not the same")
    return table(columns)


def _numpy(values: Any, label: str) -> Any:
    """Return `numpy.array(values)` as MLflow builds it, text kept as Python strings."""
    import numpy as np

    try:
        array = np.array(values)
    except (ValueError, TypeError, OverflowError) as ex:
        raise _invalid(
            f"Ensure that the input is a valid JSON-formatted string.\nError: {ex!r} ({label})"
        ) from None
    if array.dtype.kind == "U":
        array = array.astype(object)
    return array


def _parse_csv(body: bytes, signature: Any) -> ParsedRequest:
    import io

    import pandas as pd

    text_columns = {}
    if signature is not None and signature.input_kind == "dataframe":
        text_columns = {s.name: str for s in signature.inputs if s.dtype in ("string", "binary")}

    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as ex:
        raise _invalid(
            f"Ensure that input is a valid UTF-8 encoded string. Error: '{ex!r}'"
        ) from None
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=text_columns or None)
    except Exception as ex:  # noqa: BLE001 - pandas raises many types; each is the client's input
        raise ProtocolError(
            "Failed to parse input as a Pandas DataFrame. Ensure that the input is a valid "
            "CSV-formatted Pandas DataFrame produced using the `pandas.DataFrame.to_csv()` "
            f"method. Error: '{ex}'"
        ) from None
    names = [str(c) for c in frame.columns]
    return _frame_columns(names, [frame.iloc[:, i] for i in range(len(names))], len(frame))


def _parse_parquet(body: bytes) -> ParsedRequest:
    import io

    try:
        import pyarrow.parquet as pq

        data = pq.read_table(io.BytesIO(body))
    except Exception as ex:  # noqa: BLE001 - a body pyarrow cannot read is the client's input
        raise ProtocolError(
            "Failed to parse input as a Pandas DataFrame. Ensure that the input is a valid "
            "Parquet Pandas DataFrame produced using the `pandas.DataFrame.to_parquet()` "
            f"method. Error: '{ex}'"
        ) from None
    return _frame_columns(list(data.column_names), data.columns, data.num_rows)


def _frame_columns(names: list[str], source: list[Any], n_rows: int) -> ParsedRequest:
    """Return pandas Series or Arrow columns as a table of numpy arrays."""
    from perennia._util import tables

    if len(set(names)) != len(names):
        raise ProtocolError(f"column names repeat: {sorted(_repeats(names))}")
    columns = {}
    for name, column in zip(names, source, strict=True):
        array = tables.to_numpy(column, f"column {name!r}")
        columns[name] = array.astype(object) if array.dtype.kind == "U" else array
    return table(columns, n_rows=n_rows)


_READERS = {
    "dataframe_split": _split,
    "dataframe_records": _records,
    "instances": _instances,
    "inputs": _inputs,
}


def _all_lists(rows: list[Any]) -> bool:
    return all(type(row) is list for row in rows)


def _bad_frame(orient: str, why: str) -> ProtocolError:
    return _invalid(
        f"Provided dataframe_{orient} field is not a valid dataframe representation in "
        f"'{orient}' format. Error: '{why}'"
    )


def _repeats(names: list[str]) -> set[str]:
    seen: set[str] = set()
    return {n for n in names if n in seen or seen.add(n)}


# -- answers -------------------------------------------------------------------------------


def encode_predictions(outputs: Any) -> bytes:
    """Return `{"predictions": ...}` as MLflow writes it for arrays, frames, series, lists, dicts."""
    from perennia._util import tables
    from perennia.serving.protocols.request import dumps

    fast: Any = None
    if tables.library(outputs) == "numpy":
        fast = _fast_array(outputs)
    elif tables.library(outputs) == "pandas":
        fast = _fast_frame(outputs)
    elif isinstance(outputs, dict) and outputs:
        ready = {key: _fast_array(value) for key, value in outputs.items()}
        fast = None if any(value is None for value in ready.values()) else ready
    if fast is not None:
        return dumps({"predictions": fast})
    return _mlflow_json(outputs)


def _fast_array(values: Any) -> Any:
    """Return an array JSON writes exactly as MLflow would, or None when only json can."""
    import numpy as np

    if not isinstance(values, np.ndarray) or values.ndim == 0:
        return None
    kind = values.dtype.kind
    if kind == "f":
        if not np.isfinite(values).all():
            return None  # MLflow writes NaN and Infinity, which orjson would turn into null
        # tolist() widens float32 to the Python float MLflow prints; so do we.
        return np.ascontiguousarray(values, dtype=np.float64)
    if kind in "biu":
        return np.ascontiguousarray(values)
    if kind == "O" and values.ndim == 1:
        items = values.tolist()
        return items if set(map(type, items)) <= _TEXT else None
    return None


_TEXT = {str, type(None)}


def _fast_frame(frame: Any) -> Any:
    """Return a DataFrame (or Series) as records when every column is plain, else None."""
    import numpy as np
    import pandas as pd

    if isinstance(frame, pd.Series):
        frame = frame.to_frame()  # as MLflow's pd.DataFrame(series): an unnamed one is column 0
    if not isinstance(frame, pd.DataFrame) or frame.shape[1] == 0 or not frame.columns.is_unique:
        return None
    columns = []
    for i in range(frame.shape[1]):
        dtype = frame.dtypes.iloc[i]
        if not isinstance(dtype, np.dtype):
            return None
        ready = _fast_array(frame.iloc[:, i].to_numpy())
        if ready is None:
            return None
        columns.append(ready if isinstance(ready, list) else ready.tolist())
    keys = list(frame.columns)
    return [dict(zip(keys, row, strict=True)) for row in zip(*columns, strict=True)]


def _mlflow_json(outputs: Any) -> bytes:
    """Return MLflow's own rendering: `_get_jsonable_obj` then json with its NumpyEncoder."""
    import json

    from perennia._util import tables

    data = outputs
    if tables.library(outputs) == "numpy" and hasattr(outputs, "tolist"):
        data = outputs.tolist()
    elif tables.library(outputs) == "pandas":
        import pandas as pd

        if isinstance(outputs, pd.Series):
            data = pd.DataFrame(outputs).to_dict(orient="records")
        elif isinstance(outputs, pd.DataFrame):
            data = outputs.to_dict(orient="records")
    return json.dumps({"predictions": data}, default=_numpy_default).encode()


def _numpy_default(value: Any) -> Any:
    """Return what MLflow's NumpyEncoder makes of a value json cannot write itself."""
    converted, done = _convert(value)
    if done:
        return converted
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _convert(value: Any) -> tuple[Any, bool]:
    import base64
    import datetime

    import numpy as np

    if isinstance(value, np.ndarray):
        if value.dtype == object:
            return [_convert(item)[0] for item in value.tolist()], True
        if value.dtype.kind == "S":
            return [base64.encodebytes(item).decode("ascii") for item in value.tolist()], True
        return value.tolist(), True
    if isinstance(value, np.generic):
        return value.item(), True
    if isinstance(value, (bytes, bytearray)):
        return base64.encodebytes(value).decode("ascii"), True
    if isinstance(value, (datetime.date, datetime.time)):  # pandas' Timestamp is a datetime
        return value.isoformat(), True
    if hasattr(value, "model_dump"):  # a pydantic model
        return value.model_dump(), True
    return value, False


def error_body(error: BaseException) -> bytes:
    """Return MLflow's error JSON, `{"error_code": ..., "message": ...}`, for `error`."""
    from perennia.serving.protocols.request import dumps

    code = getattr(error, "error_code", None) or "INTERNAL_ERROR"
    message = getattr(error, "message", None) or str(error)
    return dumps({"error_code": code, "message": message})


def error_response(error: BaseException) -> tuple[int, bytes, str]:
    """Return (status, body, media type) as MLflow answers `error` (415s are plain text)."""
    status = getattr(error, "http_status", 500)
    if status == 415:
        return status, str(error).encode(), "text/plain"
    return status, error_body(error), "application/json"
