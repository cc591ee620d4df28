"""MLflow's scoring protocol, checked against MLflow's own scoring server code run in-process.

The oracle is `mlflow.pyfunc.scoring_server`: `_parse_json_data` for the values a request
parses to, `invocations` (with a real, saved pyfunc model that echoes its input) for status
codes, and `predictions_to_json` for answers.
"""

from __future__ import annotations

import io
import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perennia.serving.protocols import mlflow_scoring
from perennia.serving.protocols.request import ProtocolError, infer_column
from tests.serving.strategies import json_documents

JSON = "application/json"
SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def echo_model(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A real pyfunc model, saved and loaded by MLflow, that returns what it is given."""
    import mlflow.pyfunc

    path = tmp_path_factory.mktemp("mlflow") / "echo"
    mlflow.pyfunc.save_model(str(path), python_model=Echo(), pip_requirements=["mlflow"])
    return mlflow.pyfunc.load_model(str(path))


def _echo_class() -> type:
    import mlflow.pyfunc

    class _Echo(mlflow.pyfunc.PythonModel):
        # No type hints: MLflow 3 would read them as a signature and change how it parses.
        def predict(self, context, model_input, params=None):  # noqa: ANN001, ANN201
            return model_input

    return _Echo


Echo = _echo_class()


def mlflow_status(model: Any, body: bytes, content_type: str | None) -> int:
    """Return the HTTP status MLflow's /invocations gives this request."""
    from mlflow.exceptions import MlflowException
    from mlflow.pyfunc.scoring_server import invocations

    try:
        return invocations(body, content_type, model, None).status
    except MlflowException as error:
        return error.get_http_status_code()
    except Exception:  # noqa: BLE001 - MLflow's own crash: FastAPI answers 500
        return 500


def our_status(body: bytes, content_type: str | None) -> int:
    try:
        mlflow_scoring.parse(body, content_type)
    except ProtocolError as error:
        return error.status
    return 200


def mlflow_parse(body: bytes) -> Any:
    from mlflow.pyfunc.scoring_server import _parse_json_data

    return _parse_json_data(body, None, None).data


# -- comparing parsed values -----------------------------------------------------------------


def _cell(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if isinstance(value, np.generic) else value


def _kind(dtype: Any) -> str:
    if not isinstance(dtype, np.dtype) or dtype.kind in "OU":
        return "object"  # pandas 3's str dtype holds the same strings
    return dtype.name


def column_view(values: Any) -> tuple[str, list[Any]]:
    return _kind(values.dtype), [_cell(v) for v in np.asarray(values, dtype=object).tolist()]


def mlflow_view(data: Any) -> Any:
    """Return MLflow's parse as {column: (dtype, values)}, or ("tensor", dtype, nested values)."""
    if isinstance(data, pd.DataFrame):
        return {str(c): column_view(data.iloc[:, i]) for i, c in enumerate(data.columns)}
    if isinstance(data, dict):
        return {str(k): column_view(v) for k, v in data.items()}
    array = np.asarray(data)
    return ("tensor", _kind(array.dtype), _nested(array))


def _nested(array: Any) -> Any:
    return [_nested(a) for a in array] if array.ndim > 1 else [_cell(v) for v in array.tolist()]


def our_view(parsed: Any, *, frame_from_tensor: bool) -> Any:
    if parsed.columns is not None:
        return {name: column_view(values) for name, values in parsed.columns.items()}
    if frame_from_tensor:
        # MLflow's frame has columns 0..k-1; ours is an unnamed 2-D tensor, of objects when the
        # columns' types differ, each column's values as they were.
        tensor = parsed.tensor
        return {
            str(i): column_view(infer_column(tensor[:, i].tolist())) for i in range(tensor.shape[1])
        }
    return ("tensor", _kind(parsed.tensor.dtype), _nested(parsed.tensor))


def assert_same_as_mlflow(body: bytes) -> None:
    expected = mlflow_view(mlflow_parse(body))
    parsed = mlflow_scoring.parse(body, JSON)
    frame_like = isinstance(expected, dict) and parsed.tensor is not None
    assert our_view(parsed, frame_from_tensor=frame_like) == expected
    n_rows = parsed.tensor.shape[0] if parsed.tensor is not None else parsed.n_rows
    assert parsed.n_rows == n_rows


# -- the same values as MLflow ---------------------------------------------------------------

EXAMPLES = [
    {"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2.5], [3, None]]}},
    {"dataframe_split": {"columns": ["a", "b"], "data": [[1, "x"], [2, "y"]], "index": [7, 8]}},
    {"dataframe_split": {"data": [[1, 2.5], [3, 4]]}},
    {"dataframe_split": {"columns": ["a"], "data": [1, 2]}},
    {"dataframe_split": {"columns": ["a"], "data": []}},
    {"dataframe_records": [{"a": 1, "b": "x"}, {"a": None, "c": True}]},
    {"dataframe_records": [{"a": 1, "b": "x"}, {"b": "y", "a": 2}]},
    {"dataframe_records": [{"a": True}, {"a": None}]},
    {"dataframe_records": [{"a": 9223372036854775808}, {"a": 1}]},
    {"dataframe_records": [{"a": 1}, {"a": True}]},
    {"dataframe_records": [{"a": [1, 2]}, {"a": [3]}]},
    {"dataframe_records": [[1, 2], [3, 4]]},
    {"dataframe_records": [1, 2]},
    {"instances": [[1, 2], [3, 4]]},
    {"instances": [{"a": 1, "b": "u"}, {"a": 2.5, "b": "v"}]},
    {"instances": {"a": [1, 2], "b": [True, False]}},
    {"inputs": {"a": [1, 2], "b": [True, False]}},
    {"inputs": [1, 2, 3]},
    {"inputs": [[1, "a"]]},
    {"inputs": [[1.5, None]]},
    {"inputs": [[[1, 2], [3, 4]]]},
]


@pytest.mark.parametrize("doc", EXAMPLES, ids=lambda d: json.dumps(d)[:60])
def test_every_input_format_parses_to_the_values_mlflow_parses(doc: dict[str, Any]) -> None:
    assert_same_as_mlflow(json.dumps(doc).encode())


def test_nan_literals_and_params_are_read_as_mlflow_reads_them() -> None:
    body = b'{"dataframe_records": [{"a": NaN}, {"a": Infinity}], "params": {"k": 3}}'
    assert_same_as_mlflow(body)
    assert mlflow_scoring.parse(body, JSON).params == {"k": 3}


CELLS = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=False),
    st.booleans(),
    st.none(),
    st.text(max_size=4),
)
TYPED_COLUMNS = st.sampled_from(["int", "float", "bool", "text", "mixed"])


@st.composite
def columns(draw: Any) -> dict[str, list[Any]]:
    """A table as {name: cells}: most columns of one type (with some nulls), some mixed."""
    n_rows = draw(st.integers(0, 6))
    names = draw(st.lists(st.text(min_size=1, max_size=3), min_size=1, max_size=4, unique=True))
    table = {}
    for name in names:
        kind = draw(TYPED_COLUMNS)
        cell = {
            "int": st.integers(-(2**63), 2**63 - 1),
            "float": st.floats(allow_nan=False, allow_infinity=False),
            "bool": st.booleans(),
            "text": st.text(max_size=4),
            "mixed": CELLS,
        }[kind]
        with_nulls = st.one_of(cell, st.none()) if draw(st.booleans()) else cell
        table[name] = draw(st.lists(with_nulls, min_size=n_rows, max_size=n_rows))
    return table


def as_split(table: dict[str, list[Any]]) -> dict[str, Any]:
    names = list(table)
    return {"columns": names, "data": [list(row) for row in zip(*table.values(), strict=True)]}


def as_records(table: dict[str, list[Any]]) -> list[dict[str, Any]]:
    names = list(table)
    return [dict(zip(names, row, strict=True)) for row in zip(*table.values(), strict=True)]


@SETTINGS
@given(table=columns(), fmt=st.sampled_from(["split", "records", "inputs", "instances"]))
def test_random_tables_parse_to_the_values_mlflow_parses(
    table: dict[str, list[Any]], fmt: str
) -> None:
    n_rows = len(next(iter(table.values())))
    if fmt == "split":
        doc: dict[str, Any] = {"dataframe_split": as_split(table)}
    elif fmt == "records":
        if n_rows == 0:
            return  # no records: no columns either, in both
        doc = {"dataframe_records": as_records(table)}
    elif fmt == "inputs":
        doc = {"inputs": table}
    else:
        if n_rows == 0:
            return  # an empty list is a tensor in both; covered by the examples
        doc = {"instances": as_records(table)}
    body = json.dumps(doc).encode()
    try:
        expected = mlflow_view(mlflow_parse(body))
    except Exception:  # noqa: BLE001 - MLflow refuses it: so must we
        with pytest.raises(ProtocolError):
            mlflow_scoring.parse(body, JSON)
        return
    parsed = mlflow_scoring.parse(body, JSON)
    assert our_view(parsed, frame_from_tensor=False) == expected


@SETTINGS
@given(table=columns(), fmt=st.sampled_from(["split", "records"]))
def test_tables_round_trip_exactly(table: dict[str, list[Any]], fmt: str) -> None:
    """Typed columns come back with their values and types: int64 stays int64, floats exact."""
    typed = {
        name: cells
        for name, cells in table.items()
        if len({type(c) for c in cells} - {type(None)}) <= 1
    }
    if not typed or not next(iter(typed.values())):
        return
    doc = (
        {"dataframe_split": as_split(typed)}
        if fmt == "split"
        else {"dataframe_records": as_records(typed)}
    )
    parsed = mlflow_scoring.parse(json.dumps(doc).encode(), JSON)
    for name, cells in typed.items():
        values = parsed.columns[name]
        kinds = {type(c) for c in cells} - {type(None)}
        if kinds == {int} and None in cells:
            # pandas' rule, and so MLflow's: ints with nulls are float64 (NaN for null).
            assert values.dtype == np.float64
            cells = [None if c is None else float(c) for c in cells]
        elif kinds == {int}:
            assert values.dtype == np.int64
        elif kinds == {float}:
            assert values.dtype == np.float64
        assert [_cell(v) for v in values.tolist()] == cells


# -- errors: the same status codes as MLflow ---------------------------------------------------

BAD_REQUESTS = [
    (b"[1, 2]", JSON),
    (b'"text"', JSON),
    (b"5", JSON),
    (b"{not json", JSON),
    (b"\xff\xfe\xfa", JSON),
    (b"{}", JSON),
    (b'{"foo": [1]}', JSON),
    (b'{"inputs": [1], "instances": [1]}', JSON),
    (b'{"dataframe_split": [[1]]}', JSON),
    (b'{"dataframe_split": {"columns": ["a"]}}', JSON),
    (b'{"dataframe_split": {"data": [[1]], "extra": 1}}', JSON),
    (b'{"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2, 3]]}}', JSON),
    (b'{"dataframe_split": {"columns": ["a", "b"], "data": [1, 2]}}', JSON),
    (b'{"dataframe_split": {"columns": ["a"], "data": 5}}', JSON),
    (b'{"dataframe_records": {"a": [1]}}', JSON),
    (b'{"dataframe_records": "x"}', JSON),
    (b'{"dataframe_records": [{"a": 1}, [1]]}', JSON),
    (b'{"instances": [{"a": 1}, {"a": 2, "b": 3}]}', JSON),
    (b'{"instances": [[1, 2], [3]]}', JSON),
    (b'{"inputs": [[1, 2], [3]]}', JSON),
    (b'{"inputs": [1]}', "application/json; charset=latin-1"),
    (b'{"inputs": [1]}', "application/json; format=pandas-split"),
    (b'{"inputs": [1]}', "text/plain"),
    (b'{"inputs": [1]}', "application/xml"),
    (b"a,b\n1,2\n", "text/csv; charset=utf-16"),
    (b"", "text/csv"),
    (b"\xff\xfe", "text/csv"),
    (b"not parquet", "application/vnd.apache.parquet"),
]


@pytest.mark.parametrize(("body", "content_type"), BAD_REQUESTS)
def test_requests_mlflow_refuses_are_refused_with_its_status(
    echo_model: Any, body: bytes, content_type: str
) -> None:
    expected = mlflow_status(echo_model, body, content_type)
    assert expected in (400, 415)
    assert our_status(body, content_type) == expected


def test_a_top_level_list_gets_mlflows_protocol_message() -> None:
    with pytest.raises(ProtocolError) as caught:
        mlflow_scoring.parse(b'[{"a": 1}]', JSON)
    assert caught.value.status == 400
    assert "exactly one of the input fields" in str(caught.value)
    assert "Received a list" in str(caught.value)
    with pytest.raises(ProtocolError) as caught:
        mlflow_scoring.parse(b'{"data": [1]}', JSON)
    assert "scoring protocol has changed in MLflow version 2.0" in str(caught.value)


def test_a_missing_content_type_is_unsupported_media() -> None:
    assert our_status(b'{"inputs": [1]}', None) == 415


# Objects keyed like MLflow's request documents, so parsing gets past its first checks.
SCORING_KEYS = [
    "inputs",
    "instances",
    "dataframe_split",
    "dataframe_records",
    "columns",
    "data",
    "index",
    "params",
    "a",
]
GARBAGE = st.one_of(
    st.binary(max_size=64),
    json_documents(SCORING_KEYS, max_size=3, max_leaves=12).map(lambda d: json.dumps(d).encode()),
)


@SETTINGS
@given(body=GARBAGE, content_type=st.sampled_from([JSON, "text/csv", "text/csv; charset=UTF-8"]))
def test_garbage_is_refused_with_mlflows_status_or_read(
    echo_model: Any, body: bytes, content_type: str
) -> None:
    try:
        mlflow_scoring.parse(body, content_type)
        ours = 200
    except ProtocolError as error:  # anything else escaping is the failure this test looks for
        ours = error.status
    expected = mlflow_status(echo_model, body, content_type)
    if expected in (400, 415):
        assert ours == expected


# -- CSV and Parquet -------------------------------------------------------------------------


def test_csv_parses_to_what_pandas_reads() -> None:
    text = "a,b,c,d\n1,2.5,x,True\n2,,,False\n"
    parsed = mlflow_scoring.parse(text.encode(), "text/csv")
    expected = pd.read_csv(io.StringIO(text))
    assert {n: column_view(v) for n, v in parsed.columns.items()} == {
        c: column_view(expected[c]) for c in expected.columns
    }
    assert parsed.n_rows == 2


def test_parquet_parses_to_what_pandas_reads() -> None:
    frame = pd.DataFrame({"a": [1, 2], "b": [0.5, None], "c": ["x", None], "d": [True, False]})
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    parsed = mlflow_scoring.parse(buffer.getvalue(), "application/vnd.apache.parquet")
    expected = pd.read_parquet(io.BytesIO(buffer.getvalue()))
    assert {n: column_view(v) for n, v in parsed.columns.items()} == {
        c: column_view(expected[c]) for c in expected.columns
    }


# -- answers ---------------------------------------------------------------------------------


def mlflow_predictions(outputs: Any) -> Any:
    from mlflow.pyfunc.scoring_server import predictions_to_json

    out = io.StringIO()
    predictions_to_json(outputs, out)
    return _no_nan(json.loads(out.getvalue()))


def _no_nan(value: Any) -> Any:
    """Return parsed JSON with NaN replaced by a marker, so equal answers compare equal."""
    if isinstance(value, float) and math.isnan(value):
        return "<NaN>"
    if isinstance(value, list):
        return [_no_nan(v) for v in value]
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    return value


OUTPUTS = [
    np.array([0, 1, 1]),
    np.array([0.1, 2.5, -3.0]),
    np.array([0.1, 2.5], dtype=np.float32),
    np.array([1.5, np.nan, np.inf]),
    np.array([[0.2, 0.8], [0.6, 0.4]]),
    np.array([True, False]),
    np.array(["yes", "no"], dtype=object),
    np.array(["yes", "no"]),
    np.array([b"ab", b"c"]),
    np.array([2**63 + 5], dtype=np.uint64),
    pd.DataFrame({"label": [1, 0], "score": [0.25, 0.75]}),
    pd.DataFrame({"name": ["a", None], "score": [np.nan, 1.0]}),
    pd.DataFrame({0: [1, 2]}),
    pd.Series([0.5, 1.5]),
    pd.Series([1, 2], name="y"),
    [1, 2.5, None],
    {"a": np.array([1, 2]), "b": np.array([0.5, 0.25], dtype=np.float32)},
    {"a": [1, 2]},
]


@pytest.mark.parametrize("outputs", OUTPUTS, ids=lambda o: type(o).__name__)
def test_predictions_are_written_as_mlflow_writes_them(outputs: Any) -> None:
    ours = _no_nan(json.loads(mlflow_scoring.encode_predictions(outputs)))
    assert ours == mlflow_predictions(outputs)


@SETTINGS
@given(
    values=st.lists(st.floats(allow_nan=True, width=64), max_size=8),
    width=st.sampled_from([np.float64, np.float32]),
)
def test_float_predictions_keep_mlflows_exact_digits(values: list[float], width: Any) -> None:
    with np.errstate(over="ignore"):  # float64 beyond float32's range becomes infinity
        array = np.array(values, dtype=np.float64).astype(width)
    ours = _no_nan(json.loads(mlflow_scoring.encode_predictions(array)))
    assert ours == mlflow_predictions(array)


@pytest.mark.parametrize("doc", EXAMPLES[:8], ids=lambda d: json.dumps(d)[:40])
def test_without_orjson_the_standard_library_reads_and_writes_the_same(
    doc: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from perennia.serving.protocols import request

    body = json.dumps(doc).encode()
    outputs = pd.DataFrame({"p": [0.1, np.nan], "label": ["a", "b"]})
    fast = mlflow_scoring.parse(body, JSON), mlflow_scoring.encode_predictions(outputs)
    monkeypatch.setattr(request, "_orjson", None)  # as on a machine without orjson
    plain = mlflow_scoring.parse(body, JSON), mlflow_scoring.encode_predictions(outputs)
    view = our_view(fast[0], frame_from_tensor=False)
    assert our_view(plain[0], frame_from_tensor=False) == view
    assert _no_nan(json.loads(plain[1])) == _no_nan(json.loads(fast[1]))


def refusal(body: bytes, content_type: str) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        mlflow_scoring.parse(body, content_type)
    return caught.value


def test_error_bodies_have_mlflows_shape() -> None:
    error = refusal(b"[1]", JSON)
    status, body, media = mlflow_scoring.error_response(error)
    assert (status, media) == (400, "application/json")
    assert json.loads(body) == {"error_code": "BAD_REQUEST", "message": str(error)}
    assert json.loads(mlflow_scoring.error_body(error)) == json.loads(body)
    status, body, media = mlflow_scoring.error_response(refusal(b"[1]", "text/html"))
    assert (status, media) == (415, "text/plain")
    assert body.startswith(b"This predictor only supports the following content types")
