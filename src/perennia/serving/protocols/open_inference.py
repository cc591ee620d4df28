"""The Open Inference Protocol (KServe v2) over REST: infer requests and answers, and metadata.

An infer request names its input tensors (`name`, `shape`, `datatype`, `data` flat or nested,
row-major). They become a `ParsedRequest`: several inputs, or any input when the request's
`parameters.content_type` is "pd" (Seldon MLServer's convention for a table), are columns of a
table, each of shape [n] or [n, 1]; a lone input is a column when it has that shape and a
tensor otherwise.

Triton's binary tensor extension is read and written: the `Inference-Header-Content-Length`
header gives the JSON header's length, the raw bytes follow, and each input's
`parameters.binary_data_size` says how many are its own (little-endian values, one byte per
BOOL, and a 4-byte little-endian length before each BYTES element). An answer is binary when the
request set `parameters.binary_data_output` or asked for an output with `binary_data: true`.

Floats that are not finite cannot be written in plain JSON: they are written as `json` writes
them (NaN, Infinity), which Python clients read back; the binary extension carries them as bits.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from perennia.serving.protocols.request import (
    ParsedRequest,
    ProtocolError,
    describe,
    dumps,
    loads,
)

DATATYPES = {
    "BOOL": "bool",
    "UINT8": "uint8",
    "UINT16": "uint16",
    "UINT32": "uint32",
    "UINT64": "uint64",
    "INT8": "int8",
    "INT16": "int16",
    "INT32": "int32",
    "INT64": "int64",
    "FP16": "float16",
    "FP32": "float32",
    "FP64": "float64",
    "BYTES": "object",
}
_BY_DTYPE = {dtype: name for name, dtype in DATATYPES.items() if name != "BYTES"}
# Signature dtypes with no numeric tensor type travel as BYTES (text).
HEADER_LENGTH = "Inference-Header-Content-Length"
EXTENSIONS = ["binary_tensor_data"]
# Request parameters the protocol itself reads; the rest are passed to the model as params.
_PROTOCOL_PARAMETERS = ("content_type", "binary_data_output")


def parse_infer(body: bytes, headers: Mapping[str, str]) -> ParsedRequest:
    """Return an infer request (JSON, or JSON + binary tensors) parsed; raise ProtocolError if bad."""
    header, raw = _split_body(body, _header(headers, HEADER_LENGTH))
    try:
        doc = loads(header)
    except (ValueError, RecursionError) as ex:
        raise ProtocolError(f"the request body is not valid JSON: {ex}") from None
    if not isinstance(doc, dict):
        raise ProtocolError(f"an infer request is a JSON object, got {describe(doc)}")
    inputs = doc.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise ProtocolError("an infer request needs 'inputs': a non-empty list of tensors")
    parameters = _object(doc.get("parameters"), "the request's 'parameters'")
    arrays, used = {}, 0
    for position, spec in enumerate(inputs):
        name, array, used = _read_input(spec, position, raw, used)
        if name in arrays:
            raise ProtocolError(f"input {name!r} is given twice; input names must be unique")
        arrays[name] = array
    if used != len(raw):
        raise ProtocolError(
            f"{len(raw)} bytes follow the JSON header but the inputs' binary_data_size "
            f"add up to {used}"
        )
    options = {
        "params": {k: v for k, v in parameters.items() if k not in _PROTOCOL_PARAMETERS},
        "request_id": _request_id(doc.get("id")),
        **_requested_outputs(doc.get("outputs"), parameters),
    }
    return _shape_request(arrays, parameters.get("content_type") == "pd", options)


def _split_body(body: bytes, length: str | None) -> tuple[bytes, bytes]:
    """Return (JSON header, binary part) of a body, using the header-length header if given."""
    if length is None:
        return body, b""
    try:
        size = int(length)
    except ValueError:
        size = -1
    if not 0 <= size <= len(body):
        raise ProtocolError(
            f"{HEADER_LENGTH} must be a byte count between 0 and the body's {len(body)} bytes, "
            f"got {length!r}"
        )
    return body[:size], body[size:]


def _read_input(spec: Any, position: int, raw: bytes, used: int) -> tuple[str, Any, int]:
    """Return (name, array in its shape, bytes of `raw` used so far) for one input tensor."""
    if not isinstance(spec, dict):
        raise ProtocolError(f"inputs[{position}] must be an object, got {describe(spec)}")
    name = spec.get("name")
    if not isinstance(name, str) or not name:
        raise ProtocolError(f"inputs[{position}] needs a 'name' (a non-empty string)")
    datatype = spec.get("datatype")
    if not isinstance(datatype, str) or datatype not in DATATYPES:
        raise ProtocolError(
            f"input {name!r} has datatype {datatype!r}; expected one of {', '.join(DATATYPES)}"
        )
    shape = spec.get("shape")
    if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
        raise ProtocolError(f"input {name!r} needs a 'shape': a list of sizes >= 0, got {shape!r}")
    parameters = _object(spec.get("parameters"), f"input {name!r}'s 'parameters'")
    size = parameters.get("binary_data_size")
    count = math.prod(shape)
    if size is not None:
        if type(size) is not int or not 0 <= size <= len(raw) - used:
            raise ProtocolError(
                f"input {name!r} has binary_data_size {size!r} but only {len(raw) - used} "
                "bytes of binary data are left"
            )
        flat = _from_binary(raw[used : used + size], datatype, count, name)
        used += size
    elif "data" in spec:
        flat = _from_json(spec["data"], datatype, count, name)
    else:
        raise ProtocolError(f"input {name!r} has neither 'data' nor a binary_data_size")
    return name, flat.reshape(shape), used


def _from_json(data: Any, datatype: str, count: int, name: str) -> Any:
    """Return the values of a JSON `data` field as a flat array of `datatype`."""
    import numpy as np

    if datatype == "BYTES":
        flat = _flatten(data if isinstance(data, list) else [data])
        if not all(type(item) is str for item in flat):
            bad = next(item for item in flat if type(item) is not str)
            raise ProtocolError(
                f"input {name!r} is BYTES, so its data must be strings; got {bad!r}"
            )
        values = np.fromiter(flat, dtype=object, count=len(flat))
    else:
        try:
            values = np.array(data).ravel()
        except (ValueError, TypeError, OverflowError):
            raise ProtocolError(
                f"input {name!r}: 'data' must be a flat or evenly nested list of numbers"
            ) from None
        values = _whole_integers(values, data, datatype, name)
        values = _typed(values, datatype, name)
    if values.size != count:
        raise ProtocolError(
            f"input {name!r}: its shape holds {count} values but 'data' has {values.size}"
        )
    return values


def _whole_integers(values: Any, data: Any, datatype: str, name: str) -> Any:
    """Return integers beyond int64 exactly: numpy reads [0, 2**64 - 1] as float64, losing
    digits, so JSON integers meant for an integer tensor are read as that type instead."""
    import numpy as np

    target = np.dtype(DATATYPES[datatype])
    if values.dtype.kind != "f" or target.kind not in "iu":
        return values
    flat = _flatten(data if isinstance(data, list) else [data])
    if not all(type(item) is int for item in flat):
        return values  # real fractions (or booleans): _typed refuses them with its message
    try:
        return np.array(flat, dtype=target)
    except OverflowError:
        raise ProtocolError(
            f"input {name!r} is {datatype}, which holds {np.iinfo(target).min}.."
            f"{np.iinfo(target).max}; got a value outside it"
        ) from None


def _typed(values: Any, datatype: str, name: str) -> Any:
    """Return JSON values (as numpy read them) cast to `datatype`, refusing any lossy cast."""
    import numpy as np

    target = np.dtype(DATATYPES[datatype])
    kind = values.dtype.kind
    accepted = {"b": "b", "i": "iu", "u": "iu", "f": "iuf"}[target.kind]
    if values.size and kind not in accepted:
        raise ProtocolError(
            f"input {name!r} is {datatype} but its data holds {_what(values)}; "
            f"send {_SAYS[target.kind]}"
        )
    if values.dtype == target or not values.size:
        return values.astype(target, copy=False)  # nothing to narrow, nothing to check
    if target.kind in "iu":
        info = np.iinfo(target)
        low, high = values.min(), values.max()
        if low < info.min or high > info.max:
            bad = low if low < info.min else high
            raise ProtocolError(
                f"input {name!r} is {datatype}, which holds {info.min}..{info.max}; got {bad}"
            )
    with np.errstate(over="ignore"):
        out = values.astype(target)
    if target.kind == "f" and np.isinf(out).sum() != np.isinf(values).sum():
        raise ProtocolError(f"input {name!r} holds values too large for {datatype}")
    return out


_SAYS = {"b": "true or false", "i": "integers", "u": "integers", "f": "numbers"}


def _what(values: Any) -> str:
    kind = values.dtype.kind
    return {"b": "booleans", "f": "fractional numbers", "U": "strings"}.get(
        kind, "integers" if kind in "iu" else "nulls or mixed values"
    )


def _flatten(data: list[Any]) -> list[Any]:
    if not any(type(item) is list for item in data):
        return data
    flat: list[Any] = []
    for item in data:
        flat.extend(_flatten(item) if type(item) is list else [item])
    return flat


def _from_binary(raw: bytes, datatype: str, count: int, name: str) -> Any:
    """Return `count` values of `datatype` read from the binary extension's bytes."""
    import numpy as np

    if datatype == "BYTES":
        return _bytes_elements(raw, count, name)
    target = np.dtype(DATATYPES[datatype])
    wire = np.dtype(np.uint8) if datatype == "BOOL" else target.newbyteorder("<")
    if len(raw) != count * wire.itemsize:
        raise ProtocolError(
            f"input {name!r}: {count} {datatype} values take {count * wire.itemsize} bytes, "
            f"but binary_data_size is {len(raw)}"
        )
    values = np.frombuffer(raw, dtype=wire)
    if datatype == "BOOL" and values.size and values.max() > 1:
        raise ProtocolError(f"input {name!r} is BOOL, so each byte must be 0 or 1")
    return values.astype(target)  # a copy: native order, writable, not a view of the body


def _bytes_elements(raw: bytes, count: int, name: str) -> Any:
    import numpy as np

    items, pos = [], 0
    while pos < len(raw):
        if pos + 4 > len(raw):
            raise ProtocolError(f"input {name!r}: a BYTES element's 4-byte length is cut short")
        size = int.from_bytes(raw[pos : pos + 4], "little")
        if pos + 4 + size > len(raw):
            raise ProtocolError(f"input {name!r}: a BYTES element runs past binary_data_size")
        items.append(raw[pos + 4 : pos + 4 + size])
        pos += 4 + size
    if len(items) != count:
        raise ProtocolError(
            f"input {name!r}: its shape holds {count} values but the binary data has {len(items)}"
        )
    return np.fromiter(items, dtype=object, count=count)


def _shape_request(
    arrays: dict[str, Any], is_table: bool, options: dict[str, Any]
) -> ParsedRequest:
    """Return the inputs as a table (columns) or a single tensor, as the module doc says."""
    from perennia.serving.protocols.request import table, tensor

    if len(arrays) == 1 and not is_table:
        ((name, array),) = arrays.items()
        if array.ndim != 1 and not (array.ndim == 2 and array.shape[1] == 1):
            return tensor(array, **options)
    columns = {}
    for name, array in arrays.items():
        if array.ndim == 2 and array.shape[1] == 1:
            array = array[:, 0]
        if array.ndim != 1:
            raise ProtocolError(
                f"input {name!r} has shape {list(array.shape)}; in a table each input is one "
                "column, of shape [n] or [n, 1]"
            )
        columns[name] = array
    return table(columns, **options)


def _requested_outputs(outputs: Any, parameters: dict[str, Any]) -> dict[str, Any]:
    """Return the `outputs` and `binary_outputs` options a request's 'outputs' field sets."""
    binary = parameters.get("binary_data_output") is True
    if outputs is None:
        return {"outputs": None, "binary_outputs": binary}
    if not isinstance(outputs, list):
        raise ProtocolError(
            f"'outputs' must be a list of {{'name': ...}} objects, got {describe(outputs)}"
        )
    names = []
    for position, spec in enumerate(outputs):
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise ProtocolError(f"outputs[{position}] must be an object with a 'name' (a string)")
        names.append(spec["name"])
        own = _object(spec.get("parameters"), f"output {spec['name']!r}'s 'parameters'")
        binary = binary or own.get("binary_data") is True
    return {"outputs": names, "binary_outputs": binary}


def _request_id(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ProtocolError(f"'id' must be a string, got {describe(value)}")


def _object(value: Any, label: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ProtocolError(f"{label} must be an object, got {describe(value)}")
    return value


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name) or headers.get(name.lower())
    if value is None:  # a plain dict: names in any case
        wanted = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == wanted), None)
    return value


# -- answers -------------------------------------------------------------------------------


def encode_infer(
    model_name: str,
    model_version: str | None,
    request_id: str | None,
    outputs: Any,
    *,
    binary: bool,
    requested: list[str] | None,
) -> tuple[bytes, dict[str, str]]:
    """Return (body, headers) of an infer answer; headers include Content-Type (and the
    JSON header's length when `binary`)."""
    tensors, is_table = _output_tensors(outputs)
    if requested is not None:
        known = dict(tensors)
        missing = [name for name in requested if name not in known]
        if missing:
            raise ProtocolError(
                f"unknown output {missing[0]!r}; this model returns {', '.join(known)}"
            )
        tensors = [(name, known[name]) for name in requested]
    response: dict[str, Any] = {"model_name": model_name}
    if model_version is not None:
        response["model_version"] = model_version
    if request_id is not None:
        response["id"] = request_id
    if is_table:
        response["parameters"] = {"content_type": "pd"}
    entries, chunks = [], []
    for name, array in tensors:
        entry, chunk = _output_entry(name, array, binary)
        entries.append(entry)
        chunks.append(chunk)
    response["outputs"] = entries
    header = _dumps_finite(response)
    if not binary:
        return header, {"Content-Type": "application/json"}
    headers = {"Content-Type": "application/octet-stream", HEADER_LENGTH: str(len(header))}
    return b"".join([header, *chunks]), headers


def _output_tensors(outputs: Any) -> tuple[list[tuple[str, Any]], bool]:
    """Return [(name, array)] for a model's outputs, and whether they form a table."""
    import numpy as np

    from perennia._util import tables

    if tables.is_table(outputs):
        names = tables.column_names(outputs)
        return [(name, tables.column(outputs, name)) for name in names], True
    if isinstance(outputs, Mapping):
        return [
            (str(k), _array(tables.to_numpy(v, f"output {k!r}"))) for k, v in outputs.items()
        ], False
    name = tables.column_name(outputs)
    array = _array(tables.to_numpy(outputs, "the model's output"))
    return [("predict" if name is None else str(name), np.atleast_1d(array))], False


def _array(values: Any) -> Any:
    """Return a numpy array whose dtype maps to a datatype: objects become numbers or text."""
    import numpy as np

    from perennia.serving.protocols.request import infer_column

    if values.dtype.kind in "US":
        return values.astype(object)
    if values.dtype.kind != "O" or values.ndim != 1:
        return values
    items = values.tolist()
    kinds = set(map(type, items))
    if kinds <= {str, bytes}:
        return values
    inferred = infer_column(items)
    if inferred.dtype.kind == "O":
        raise TypeError(
            f"cannot send model outputs holding {sorted(k.__name__ for k in kinds)} as OIP "
            "tensors: only numbers, booleans and text have a datatype"
        )
    return np.asarray(inferred)


def _output_entry(name: str, array: Any, binary: bool) -> tuple[dict[str, Any], bytes]:
    """Return one output's JSON entry and its raw bytes (b"" unless `binary`)."""
    import numpy as np

    if array.dtype.kind == "O":
        datatype = "BYTES"
    elif array.dtype.name in _BY_DTYPE:
        datatype = _BY_DTYPE[array.dtype.name]
    else:
        raise TypeError(f"output {name!r} has dtype {array.dtype}, which no OIP datatype holds")
    entry: dict[str, Any] = {"name": name, "datatype": datatype, "shape": list(array.shape)}
    flat = array.ravel()
    if not binary:
        if datatype == "BYTES":
            entry["data"] = [_element(item, name, False) for item in flat.tolist()]
        else:
            entry["data"] = np.ascontiguousarray(flat)
        return entry, b""
    if datatype == "BYTES":
        parts = [_element(item, name, True) for item in flat.tolist()]
        chunk = b"".join(len(part).to_bytes(4, "little") + part for part in parts)
    else:
        wire = np.uint8 if datatype == "BOOL" else flat.dtype.newbyteorder("<")
        chunk = np.ascontiguousarray(flat, dtype=wire).tobytes()
    entry["parameters"] = {"binary_data_size": len(chunk)}
    return entry, chunk


def _element(item: Any, name: str, binary: bool) -> Any:
    """Return one BYTES element as text (JSON) or bytes (binary), refusing anything else."""
    if isinstance(item, (str, bytes)):
        try:
            if binary:
                return item if isinstance(item, bytes) else item.encode("utf-8")
            return item if isinstance(item, str) else item.decode("utf-8")
        except UnicodeDecodeError:
            pass
    raise TypeError(f"output {name!r} holds {item!r}, which is not UTF-8 text")


def _dumps_finite(response: dict[str, Any]) -> bytes:
    """Return JSON bytes; with NaN or Infinity in an output, through json, which writes them."""
    import json

    import numpy as np

    arrays = [e["data"] for e in response["outputs"] if isinstance(e.get("data"), np.ndarray)]
    if all(a.dtype.kind != "f" or np.isfinite(a).all() for a in arrays):
        return dumps(response)
    for entry in response["outputs"]:
        if isinstance(entry.get("data"), np.ndarray):
            entry["data"] = entry["data"].tolist()
    return json.dumps(response, separators=(",", ":")).encode()


def error_body(message: str) -> bytes:
    """Return an OIP error body, `{"error": message}`."""
    return dumps({"error": message})
