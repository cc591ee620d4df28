"""The Open Inference Protocol (v2) over REST: tensors, tables, the binary extension, metadata."""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from perennia.models.signature import ColumnSpec, ModelSignature
from perennia.serving.protocols import oip_metadata
from perennia.serving.protocols import open_inference as oip
from perennia.serving.protocols.request import ProtocolError
from tests.serving.strategies import json_documents

SETTINGS = settings(max_examples=120, deadline=None)
NUMERIC = [name for name in oip.DATATYPES if name != "BYTES"]


def inp(name: str, shape: list[int], datatype: str, data: Any = None, **params: Any) -> dict:
    """Return one input tensor's JSON (binary when params give its binary_data_size)."""
    entry: dict[str, Any] = {"name": name, "shape": shape, "datatype": datatype}
    if data is not None:
        entry["data"] = data
    if params:
        entry["parameters"] = params
    return entry


def infer(doc: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    return oip.parse_infer(json.dumps(doc).encode(), headers or {})


def refused(doc: Any, headers: dict[str, str] | None = None) -> str:
    body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    with pytest.raises(ProtocolError) as caught:
        oip.parse_infer(body, headers or {})
    assert caught.value.status == 400
    return str(caught.value)


# -- requests --------------------------------------------------------------------------------


def test_the_specifications_example_request_parses() -> None:
    parsed = infer(
        {
            "id": "42",
            "parameters": {"k": "v"},
            "inputs": [
                {"name": "input0", "shape": [2, 2], "datatype": "UINT32", "data": [1, 2, 3, 4]},
            ],
            "outputs": [{"name": "output0", "parameters": {}}],
        }
    )
    assert parsed.tensor.dtype == np.uint32
    assert parsed.tensor.tolist() == [[1, 2], [3, 4]]
    assert parsed.columns is None
    assert (parsed.n_rows, parsed.request_id, parsed.outputs) == (2, "42", ["output0"])
    assert parsed.params == {"k": "v"}
    assert parsed.binary_outputs is False


def test_nested_and_flat_data_give_the_same_tensor() -> None:
    flat = infer({"inputs": [inp("x", [2, 3], "FP64", [1, 2, 3, 4, 5, 6])]})
    nested = infer({"inputs": [inp("x", [2, 3], "FP64", [[1, 2, 3], [4, 5, 6]])]})
    assert flat.tensor.dtype == nested.tensor.dtype == np.float64
    assert np.array_equal(flat.tensor, nested.tensor)


def test_several_inputs_are_the_columns_of_a_table() -> None:
    inputs = [
        inp("age", [3], "INT64", [30, 41, 2**62]),
        inp("score", [3, 1], "FP32", [[0.5], [1], [2]]),
        inp("city", [3], "BYTES", ["a", "b", "c"]),
        inp("vip", [3], "BOOL", [True, False, True]),
    ]
    parsed = infer({"inputs": inputs})
    assert parsed.tensor is None
    assert list(parsed.columns) == ["age", "score", "city", "vip"]
    assert parsed.columns["age"].dtype == np.int64
    assert parsed.columns["age"][2] == 2**62  # exact: no float on the way
    assert parsed.columns["score"].dtype == np.float32
    assert parsed.columns["city"].tolist() == ["a", "b", "c"]
    assert parsed.columns["vip"].dtype == bool
    assert parsed.n_rows == 3


def test_a_pd_content_type_makes_even_one_input_a_table() -> None:
    parameters = {"content_type": "pd", "threshold": 0.5}
    parsed = infer({"parameters": parameters, "inputs": [inp("a", [2, 1], "INT32", [1, 2])]})
    assert parsed.columns["a"].tolist() == [1, 2]
    assert parsed.params == {"threshold": 0.5}  # the protocol's own parameters are not params


def test_a_table_input_of_several_columns_is_refused_naming_it() -> None:
    inputs = [inp("a", [2], "INT32", [1, 2]), inp("m", [2, 2], "INT32", [1, 2, 3, 4])]
    message = refused({"inputs": inputs})
    assert "'m'" in message and "[2, 2]" in message


@pytest.mark.parametrize(
    ("entry", "named"),
    [
        (inp("a", [3], "INT32", [1, 2]), "shape holds 3"),
        (inp("a", [2], "INT8", [1, 300]), "-128..127"),
        (inp("a", [2], "UINT8", [1, -1]), "0..255"),
        (inp("a", [2], "INT32", [1.5, 2]), "fractional"),
        (inp("a", [2], "FP32", ["x", "y"]), "strings"),
        (inp("a", [2], "FP32", [1, None]), "nulls"),
        (inp("a", [1], "BOOL", [1]), "true or false"),
        (inp("a", [1], "INT64", [True]), "booleans"),
        (inp("a", [1], "FP16", [1e10]), "too large"),
        (inp("a", [1], "BYTES", [5]), "strings"),
        (inp("a", [1], "BF16", [1]), "BF16"),
        (inp("a", [-1], "FP32", [1]), "shape"),
        (inp("a", [2], "FP32", [[1, 2], [3]]), "nested"),
        ({"name": "a", "shape": [1], "datatype": "FP32"}, "neither 'data'"),
        ({"shape": [1], "datatype": "FP32", "data": [1]}, "'name'"),
    ],
)
def test_bad_tensors_are_refused_naming_the_input_and_the_problem(
    entry: dict[str, Any], named: str
) -> None:
    assert named in refused({"inputs": [entry]})


def test_bad_documents_are_refused() -> None:
    assert "not valid JSON" in refused(b"{nope")
    assert "JSON object" in refused([1])
    assert "'inputs'" in refused({"inputs": []})
    entry = {"name": "a", "shape": [1], "datatype": "FP32", "data": [1]}
    assert "twice" in refused({"inputs": [entry, entry]})
    assert "'id'" in refused({"id": 5, "inputs": [entry]})
    assert "'outputs'" in refused({"inputs": [entry], "outputs": "predict"})


def test_binary_outputs_are_requested_per_output_or_for_all() -> None:
    entry = {"name": "a", "shape": [1], "datatype": "FP32", "data": [1]}
    per_output = infer(
        {"inputs": [entry], "outputs": [{"name": "p", "parameters": {"binary_data": True}}]}
    )
    for_all = infer({"inputs": [entry], "parameters": {"binary_data_output": True}})
    neither = infer({"inputs": [entry], "outputs": [{"name": "p"}]})
    assert (per_output.binary_outputs, for_all.binary_outputs, neither.binary_outputs) == (
        True,
        True,
        False,
    )


# -- the binary tensor extension -------------------------------------------------------------


def binary_request(header: dict[str, Any], raw: bytes) -> tuple[bytes, dict[str, str]]:
    text = json.dumps(header).encode()
    return text + raw, {"Inference-Header-Content-Length": str(len(text))}


def test_binary_inputs_are_read_as_tritons_client_writes_them() -> None:
    # Triton's client: values little-endian, BYTES as a 4-byte length then the bytes.
    floats = struct.pack("<3f", 1.5, -2.0, 3.25)
    words = b"".join(struct.pack("<I", len(w)) + w for w in (b"ab", b"", b"\xff"))
    header = {
        "inputs": [
            inp("x", [3], "FP32", binary_data_size=len(floats)),
            inp("w", [3, 1], "BYTES", binary_data_size=len(words)),
        ]
    }
    body, headers = binary_request(header, floats + words)
    parsed = oip.parse_infer(body, {k.lower(): v for k, v in headers.items()})
    assert parsed.columns["x"].dtype == np.float32
    assert parsed.columns["x"].tolist() == [1.5, -2.0, 3.25]
    assert parsed.columns["w"].tolist() == [b"ab", b"", b"\xff"]
    assert parsed.columns["x"].flags.writeable  # a copy, not a view of the request body


def test_binary_and_json_inputs_mix_in_one_request() -> None:
    ints = struct.pack("<2q", -(2**63), 2**63 - 1)
    header = {
        "inputs": [
            inp("a", [2], "INT64", binary_data_size=len(ints)),
            inp("b", [2], "BOOL", [True, False]),
        ]
    }
    parsed = oip.parse_infer(*binary_request(header, ints))
    assert parsed.columns["a"].tolist() == [-(2**63), 2**63 - 1]
    assert parsed.columns["b"].tolist() == [True, False]


@pytest.mark.parametrize(
    ("size", "raw", "named"),
    [
        (8, b"\x00" * 4, "bytes of binary data are left"),
        (4, b"\x00" * 4, "take 8 bytes"),
        (8, b"\x00" * 12, "add up to 8"),
    ],
)
def test_binary_sizes_that_do_not_add_up_are_refused(size: int, raw: bytes, named: str) -> None:
    header = {"inputs": [inp("x", [2], "FP32", binary_data_size=size)]}
    body, headers = binary_request(header, raw)
    with pytest.raises(ProtocolError, match=named):
        oip.parse_infer(body, headers)


def test_a_header_length_beyond_the_body_is_refused() -> None:
    with pytest.raises(ProtocolError, match="Inference-Header-Content-Length"):
        oip.parse_infer(b"{}", {"Inference-Header-Content-Length": "99"})
    with pytest.raises(ProtocolError, match="Inference-Header-Content-Length"):
        oip.parse_infer(b"{}", {"inference-header-content-length": "two"})


def test_bool_bytes_other_than_zero_or_one_are_refused() -> None:
    header = {"inputs": [inp("b", [2], "BOOL", binary_data_size=2)]}
    with pytest.raises(ProtocolError, match="0 or 1"):
        oip.parse_infer(*binary_request(header, b"\x01\x02"))


# -- answers ---------------------------------------------------------------------------------


def answer(outputs: Any, *, binary: bool = False, requested: list[str] | None = None) -> Any:
    body, headers = oip.encode_infer("m", "3", "req-1", outputs, binary=binary, requested=requested)
    if not binary:
        assert headers == {"Content-Type": "application/json"}
        return json.loads(body), b""
    length = int(headers["Inference-Header-Content-Length"])
    assert headers["Content-Type"] == "application/octet-stream"
    return json.loads(body[:length]), body[length:]


def test_a_1d_array_is_the_predict_output() -> None:
    doc, _ = answer(np.array([0, 1, 1]))
    assert doc == {
        "model_name": "m",
        "model_version": "3",
        "id": "req-1",
        "outputs": [{"name": "predict", "datatype": "INT64", "shape": [3], "data": [0, 1, 1]}],
    }


def test_a_2d_array_keeps_its_shape_and_data_is_row_major() -> None:
    doc, _ = answer(np.array([[0.25, 0.75], [0.5, 0.5]], dtype=np.float32))
    (output,) = doc["outputs"]
    assert (output["datatype"], output["shape"]) == ("FP32", [2, 2])
    assert output["data"] == [0.25, 0.75, 0.5, 0.5]


def test_a_dataframe_is_one_output_per_column_marked_as_a_table() -> None:
    doc, _ = answer(pd.DataFrame({"label": ["a", "b"], "score": [0.5, 1.0]}))
    assert doc["parameters"] == {"content_type": "pd"}
    assert doc["outputs"] == [
        {"name": "label", "datatype": "BYTES", "shape": [2], "data": ["a", "b"]},
        {"name": "score", "datatype": "FP64", "shape": [2], "data": [0.5, 1.0]},
    ]


def test_a_dict_of_arrays_is_one_output_per_key_and_requested_outputs_pick_them() -> None:
    outputs = {"label": np.array([1, 0]), "proba": np.array([[0.1, 0.9], [0.8, 0.2]])}
    doc, _ = answer(outputs, requested=["proba"])
    assert [o["name"] for o in doc["outputs"]] == ["proba"]
    with pytest.raises(
        ProtocolError, match="unknown output 'nope'; this model returns label, proba"
    ):
        answer(outputs, requested=["nope"])


def test_non_finite_floats_are_written_as_json_writes_them() -> None:
    body, _ = oip.encode_infer(
        "m", None, None, np.array([np.nan, np.inf, 1.0]), binary=False, requested=None
    )
    assert b"NaN" in body and b"Infinity" in body
    values = json.loads(body)["outputs"][0]["data"]
    assert np.isnan(values[0]) and values[1:] == [np.inf, 1.0]


def test_outputs_no_datatype_holds_are_an_error() -> None:
    with pytest.raises(TypeError, match="only numbers, booleans and text"):
        oip.encode_infer(
            "m", None, None, np.array([{"a": 1}], dtype=object), binary=False, requested=None
        )


# -- round trips: an answer's outputs sent back as a request's inputs ------------------------


def as_request(doc: dict[str, Any], raw: bytes) -> tuple[bytes, dict[str, str]]:
    inputs = [dict(entry) for entry in doc["outputs"]]
    header: dict[str, Any] = {"inputs": inputs}
    if doc.get("parameters"):
        header["parameters"] = doc["parameters"]
    if not raw:
        return json.dumps(header).encode(), {}
    return binary_request(header, raw)


DTYPES = st.sampled_from(
    [
        "bool",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "float16",
        "float32",
        "float64",
    ]
)


@SETTINGS
@given(
    array=DTYPES.flatmap(
        lambda dtype: hnp.arrays(
            dtype,
            hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=4),
            elements={"allow_nan": False} if dtype.startswith("float") else None,
        )
    ),
    binary=st.booleans(),
)
def test_tensors_round_trip_exactly(array: Any, binary: bool) -> None:
    if array.shape[1:] == (1,) and array.ndim == 2:
        array = np.concatenate([array, array], axis=1)  # [n, 1] is a column, not a tensor
    doc, raw = answer(array, binary=binary)
    parsed = oip.parse_infer(*as_request(doc, raw))
    assert parsed.tensor.dtype == array.dtype
    assert parsed.tensor.shape == array.shape
    assert np.array_equal(parsed.tensor, array)


@SETTINGS
@given(
    n_rows=st.integers(0, 5),
    kinds=st.lists(
        st.sampled_from(["int64", "float64", "float32", "bool", "uint8", "text"]),
        min_size=1,
        max_size=4,
    ),
    binary=st.booleans(),
    data=st.data(),
)
def test_tables_round_trip_exactly(n_rows: int, kinds: list[str], binary: bool, data: Any) -> None:
    columns = {}
    for i, kind in enumerate(kinds):
        if kind == "text":
            values = data.draw(st.lists(st.text(max_size=5), min_size=n_rows, max_size=n_rows))
            columns[f"c{i}"] = np.array(values, dtype=object)
        else:
            columns[f"c{i}"] = data.draw(
                hnp.arrays(
                    kind,
                    n_rows,
                    elements=(
                        {"allow_nan": False, "allow_infinity": False}
                        if kind.startswith("float")
                        else None
                    ),
                )
            )
    frame = pd.DataFrame(columns)
    doc, raw = answer(frame, binary=binary)
    parsed = oip.parse_infer(*as_request(doc, raw))
    assert list(parsed.columns) == list(columns)
    assert parsed.n_rows == n_rows
    for name, values in columns.items():
        got = parsed.columns[name]
        if values.dtype == object:
            decoded = [v.decode() if isinstance(v, bytes) else v for v in got.tolist()]
            assert decoded == values.tolist()
        else:
            assert got.dtype == values.dtype
            assert np.array_equal(got, values)


# Objects keyed like OIP request documents, so parsing gets past its first checks.
OIP_KEYS = [
    "inputs",
    "name",
    "shape",
    "datatype",
    "data",
    "parameters",
    "binary_data_size",
    "content_type",
    "outputs",
    "id",
]
GARBAGE_DOCS = json_documents(OIP_KEYS, max_size=4, max_leaves=15)


@SETTINGS
@given(
    body=st.one_of(st.binary(max_size=64), GARBAGE_DOCS.map(lambda d: json.dumps(d).encode())),
    length=st.one_of(st.none(), st.integers(-2, 80).map(str), st.text(max_size=3)),
)
def test_garbage_never_raises_anything_but_a_protocol_error(body: bytes, length: Any) -> None:
    headers = {} if length is None else {"Inference-Header-Content-Length": length}
    try:
        oip.parse_infer(body, headers)
    except ProtocolError as error:
        assert error.status == 400


@SETTINGS
@given(
    datatype=st.sampled_from(NUMERIC),
    data=st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=2)),
        lambda inner: st.lists(inner, max_size=3),
        max_leaves=8,
    ),
    shape=st.lists(st.integers(0, 3), max_size=3),
)
def test_random_data_for_a_valid_tensor_is_read_or_refused_cleanly(
    datatype: str, data: Any, shape: list[int]
) -> None:
    try:
        parsed = infer({"inputs": [inp("x", shape, datatype, data)]})
    except ProtocolError:
        return
    values = parsed.tensor if parsed.tensor is not None else parsed.columns["x"]
    assert values.dtype == np.dtype(oip.DATATYPES[datatype])


# -- metadata --------------------------------------------------------------------------------


def test_model_metadata_of_a_table_signature() -> None:
    signature = ModelSignature(
        [ColumnSpec("age", "int64"), ColumnSpec("city", "string"), ColumnSpec("ok", "bool")],
        [ColumnSpec(None, "float64", (-1,))],
        "dataframe",
    )
    meta = oip_metadata.model_metadata("fraud", ["3"], signature, "perennia_sklearn")
    assert meta == {
        "name": "fraud",
        "versions": ["3"],
        "platform": "perennia_sklearn",
        "inputs": [
            {"name": "age", "datatype": "INT64", "shape": [-1]},
            {"name": "city", "datatype": "BYTES", "shape": [-1]},
            {"name": "ok", "datatype": "BOOL", "shape": [-1]},
        ],
        "outputs": [{"name": "predict", "datatype": "FP64", "shape": [-1]}],
    }


def test_model_metadata_of_a_tensor_signature_and_of_none() -> None:
    signature = ModelSignature(
        [ColumnSpec(None, "float32", (-1, 28, 28))], [ColumnSpec(None, "int64", (-1, 10))], "array"
    )
    meta = oip_metadata.model_metadata("digits", [], signature, "perennia_onnx")
    assert meta["inputs"] == [{"name": "input-0", "datatype": "FP32", "shape": [-1, 28, 28]}]
    assert meta["outputs"] == [{"name": "predict", "datatype": "INT64", "shape": [-1, 10]}]
    bare = oip_metadata.model_metadata("x", ["1", "2"], None, "perennia_pyfunc")
    assert (bare["inputs"], bare["outputs"], bare["versions"]) == ([], [], ["1", "2"])


def test_metadata_names_match_what_the_server_answers_and_accepts() -> None:
    signature = ModelSignature(
        [ColumnSpec(None, "float64", (-1, 2))], [ColumnSpec(None, "int64", (-1,))], "array"
    )
    meta = oip_metadata.model_metadata("m", ["1"], signature, "perennia_sklearn")
    doc, _ = answer(np.array([1, 0]))
    assert [o["name"] for o in doc["outputs"]] == [o["name"] for o in meta["outputs"]]
    (spec,) = meta["inputs"]
    parsed = infer({"inputs": [inp(spec["name"], [1, 2], spec["datatype"], [1.5, 2.5])]})
    assert parsed.tensor.shape == (1, 2)


def test_server_metadata_and_error_bodies() -> None:
    assert oip_metadata.server_metadata("perennia", "0.4.0") == {
        "name": "perennia",
        "version": "0.4.0",
        "extensions": ["binary_tensor_data"],
    }
    assert json.loads(oip.error_body("input 'x' is bad")) == {"error": "input 'x' is bad"}
