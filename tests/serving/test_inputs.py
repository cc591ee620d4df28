"""Checking a parsed request against the model's signature, on numpy arrays, as enforce does."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perennia.errors import InvalidInput
from perennia.models.signature import ColumnSpec, ModelSignature, enforce
from perennia.serving.inputs import check_columns, check_params
from perennia.serving.protocols import mlflow_scoring
from perennia.serving.protocols.request import ParsedRequest, table, tensor

SIGNATURE = ModelSignature(
    [ColumnSpec("age", "int64"), ColumnSpec("income", "float64"), ColumnSpec("city", "string")]
)


def request(body: str) -> ParsedRequest:
    return mlflow_scoring.parse(body.encode(), "application/json")


def refusal(signature: ModelSignature, parsed: ParsedRequest) -> str:
    with pytest.raises(InvalidInput) as caught:
        check_columns(signature, parsed)
    return str(caught.value)


def test_a_fitting_request_comes_back_in_the_signatures_order_and_types() -> None:
    parsed = request(
        '{"dataframe_records": [{"city": "Oslo", "income": 5, "age": 30, "extra": 1},'
        ' {"city": "Rome", "income": 2.5, "age": 41, "extra": 2}]}'
    )
    checked = check_columns(SIGNATURE, parsed)
    assert list(checked.columns) == ["age", "income", "city"]  # extra dropped, as MLflow does
    assert checked.columns["age"].dtype == np.int64
    assert checked.columns["income"].dtype == np.float64  # 5 -> 5.0: exact, so done
    assert checked.columns["income"].tolist() == [5.0, 2.5]
    assert checked.columns["city"].tolist() == ["Oslo", "Rome"]
    assert checked.n_rows == 2


def test_a_missing_column_is_named_with_the_columns_expected() -> None:
    message = refusal(SIGNATURE, request('{"dataframe_records": [{"age": 1, "city": "x"}]}'))
    assert "column 'income' is missing (required float64)" in message
    assert "the model expects columns 'age' (int64), 'income' (float64), 'city' (string)" in message


def test_text_for_a_number_names_the_column_the_type_and_the_first_bad_value() -> None:
    parsed = request(
        '{"dataframe_split": {"columns": ["age", "income", "city"],'
        ' "data": [[1, 2.0, "a"], [2, "lots", "b"], [3, "more", "c"]]}}'
    )
    message = refusal(SIGNATURE, parsed)
    assert "column 'income' expects float64 but got" in message
    assert "'lots' at row 1" in message


def test_fractions_for_an_int_and_booleans_for_a_number_are_refused() -> None:
    fractions = refusal(
        SIGNATURE,
        table(
            {
                "age": np.array([1.0, 2.5]),
                "income": np.array([1.0, 2.0]),
                "city": np.array(["a", "b"], dtype=object),
            }
        ),
    )
    assert "column 'age' expects int64" in fractions and "2.5 at row 1" in fractions
    flags = refusal(
        SIGNATURE,
        table(
            {
                "age": np.array([True]),
                "income": np.array([1.0]),
                "city": np.array(["a"], dtype=object),
            }
        ),
    )
    assert "column 'age' expects int64 but got bool" in flags


def test_bools_stay_bools_and_whole_floats_become_ints() -> None:
    signature = ModelSignature([ColumnSpec("flag", "bool"), ColumnSpec("n", "int32")])
    checked = check_columns(
        signature, table({"flag": np.array([True, False]), "n": np.array([1.0, -3.0])})
    )
    assert checked.columns["flag"].dtype == bool
    assert checked.columns["n"].dtype == np.int32
    assert checked.columns["n"].tolist() == [1, -3]


def test_ints_beyond_float_precision_are_refused_for_a_float_column() -> None:
    signature = ModelSignature([ColumnSpec("x", "float64")])
    message = refusal(signature, table({"x": np.array([2**53 + 1], dtype=np.int64)}))
    assert "cannot hold exactly" in message


def test_text_columns_hold_nulls_as_enforce_lets_them() -> None:
    parsed = table({"city": np.array(["a", None], dtype=object)})
    checked = check_columns(ModelSignature([ColumnSpec("city", "string")]), parsed)
    assert checked.columns["city"].tolist() == ["a", None]


def test_nulls_in_a_required_int_column_are_refused() -> None:
    parsed = table({"n": np.array([1.0, np.nan])})
    assert "null at row 1" in refusal(ModelSignature([ColumnSpec("n", "int64")]), parsed)
    optional = check_columns(ModelSignature([ColumnSpec("n", "int64", required=False)]), parsed)
    assert optional.columns["n"].tolist()[0] == 1.0  # enforce makes it nullable, once per batch


def test_missing_optional_columns_are_filled_with_nulls() -> None:
    signature = ModelSignature(
        [ColumnSpec("a", "float64"), ColumnSpec("b", "float32", required=False)]
    )
    checked = check_columns(signature, table({"a": np.array([1.0, 2.0])}))
    assert checked.columns["b"].dtype == np.float32
    assert np.isnan(checked.columns["b"]).all()


def test_utf8_bytes_are_text_for_a_string_column() -> None:
    signature = ModelSignature([ColumnSpec("w", "string")])
    checked = check_columns(signature, table({"w": np.array([b"ab", "c"], dtype=object)}))
    assert checked.columns["w"].tolist() == ["ab", "c"]
    message = refusal(signature, table({"w": np.array([b"\xff"], dtype=object)}))
    assert "not UTF-8" in message


def test_an_unnamed_tensor_fills_a_table_signature_in_order() -> None:
    signature = ModelSignature([ColumnSpec("a", "float64"), ColumnSpec("b", "int64")])
    checked = check_columns(signature, request('{"inputs": [[1.5, 2], [3, 4]]}'))
    assert checked.tensor is None
    assert checked.columns["a"].tolist() == [1.5, 3.0]
    assert checked.columns["b"].dtype == np.int64
    assert checked.columns["b"].tolist() == [2, 4]
    message = refusal(signature, request('{"inputs": [[1, 2, 3]]}'))
    assert "one column per input (2: 'a', 'b') but has shape (1, 3)" in message


def test_a_tensor_signature_checks_shape_and_type() -> None:
    signature = ModelSignature([ColumnSpec(None, "float32", (-1, 2))], input_kind="array")
    checked = check_columns(signature, tensor(np.array([[1.0, 2.0]])))
    assert checked.tensor.dtype == np.float32
    assert "shape (-1, 2)" in refusal(signature, tensor(np.array([[1.0, 2.0, 3.0]])))
    assert "expects float32" in refusal(signature, tensor(np.array([["a", "b"]], dtype=object)))


def test_columns_become_the_tensor_an_array_signature_takes() -> None:
    wide = ModelSignature([ColumnSpec(None, "float64", (-1, 2))], input_kind="array")
    checked = check_columns(wide, table({"x": np.array([1.0, 2.0]), "y": np.array([3, 4])}))
    assert checked.columns is None
    assert checked.tensor.dtype == np.float64
    assert checked.tensor.tolist() == [[1.0, 3.0], [2.0, 4.0]]
    flat = ModelSignature([ColumnSpec(None, "int64", (-1,))], input_kind="array")
    assert check_columns(flat, table({"x": np.array([5, 6])})).tensor.tolist() == [5, 6]


def test_no_signature_leaves_the_request_as_it_is() -> None:
    parsed = request('{"inputs": {"a": [1]}}')
    assert check_columns(None, parsed) is parsed


# -- the same verdicts and values as enforce ----------------------------------------------------

DTYPES = ["bool", "int8", "int32", "int64", "uint8", "float32", "float64", "string"]
CELLS = {
    "int": st.integers(-(2**63), 2**63 - 1),
    "small": st.integers(-300, 300),
    "float": st.floats(allow_nan=False, allow_infinity=False, width=64),
    "whole": st.integers(-(2**40), 2**40).map(float),
    "bool": st.booleans(),
    "text": st.text(max_size=3),
}


@st.composite
def columns_and_signature(draw: Any) -> tuple[dict[str, Any], ModelSignature]:
    n_rows = draw(st.integers(1, 5))
    names = draw(st.lists(st.sampled_from("abcde"), min_size=1, max_size=4, unique=True))
    specs = [
        ColumnSpec(n, draw(st.sampled_from(DTYPES)), required=draw(st.booleans())) for n in names
    ]
    columns = {}
    for name in names:
        if draw(st.integers(0, 9)) == 0:
            continue  # sometimes missing
        kind = draw(st.sampled_from(list(CELLS)))
        cell = CELLS[kind]
        if draw(st.booleans()) and kind in ("text", "float", "whole"):
            cell = st.one_of(cell, st.none())
        cells = draw(st.lists(cell, min_size=n_rows, max_size=n_rows))
        columns[name] = _column(cells)
    return columns, ModelSignature(specs)


def _column(cells: list[Any]) -> Any:
    from perennia.serving.protocols.request import infer_column

    return infer_column(cells)  # as the protocols build it from JSON


@settings(max_examples=300, deadline=None)
@given(case=columns_and_signature())
def test_verdicts_and_values_match_enforce(case: tuple[dict[str, Any], ModelSignature]) -> None:
    columns, signature = case
    n_rows = len(next(iter(columns.values()))) if columns else 1
    parsed = table(columns, n_rows=n_rows)
    frame = (
        pd.DataFrame(columns, index=range(n_rows)) if columns else pd.DataFrame(index=range(n_rows))
    )
    try:
        expected = enforce(signature, frame)
    except InvalidInput as error:
        with pytest.raises(InvalidInput) as caught:
            check_columns(signature, parsed)
        # The first misfit is worded alike (ours may add the expected columns after it).
        assert str(caught.value).split("; ")[0] == str(error).split("; ")[0]
        return
    checked = check_columns(signature, parsed)
    assert list(checked.columns) == list(expected.columns)
    for name in expected.columns:
        got, want = checked.columns[name], expected[name]
        want_values = [
            None if v is pd.NA or (isinstance(v, float) and np.isnan(v)) else v
            for v in want.astype(object).tolist()
        ]
        got_values = [
            None if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) else v
            for v in np.asarray(got, dtype=object).tolist()
        ]
        assert got_values == want_values
        if isinstance(want.dtype, np.dtype) and want.dtype.kind != "O":
            assert got.dtype == want.dtype


# -- params ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """A parameter spec as MLflow's ParamSpec has it (name, dtype, default, shape)."""

    name: str
    dtype: str
    default: Any = None
    shape: tuple[int, ...] | None = None


PARAMS = [Param("k", "int64", 5), Param("t", "float64", 0.5), Param("tags", "string", None, (-1,))]


def test_params_take_defaults_drop_unknowns_and_widen_ints_to_floats() -> None:
    assert check_params(PARAMS, {"t": 1, "other": True}) == {"k": 5, "t": 1.0}
    assert check_params(PARAMS, {"tags": ["a", "b"]}) == {"k": 5, "t": 0.5, "tags": ["a", "b"]}
    assert check_params(None, {"any": 1}) == {"any": 1}


def test_params_of_the_wrong_type_are_refused_naming_them() -> None:
    with pytest.raises(InvalidInput, match="param 'k' expects int64 but got 'ten'"):
        check_params(PARAMS, {"k": "ten"})
    with pytest.raises(InvalidInput, match="param 'tags' expects a list of string"):
        check_params(PARAMS, {"tags": "a"})
    with pytest.raises(InvalidInput, match="param 'k' expects int64 but got True"):
        check_params(PARAMS, {"k": True})


# -- text that only the wire made text -----------------------------------------------------


def test_iso_dates_become_datetimes_and_other_text_is_refused_naming_it() -> None:
    signature = ModelSignature([ColumnSpec("when", "datetime")])
    checked = check_columns(
        signature, request('{"inputs": {"when": ["2024-01-02", "2024-03-04T05:06:07"]}}')
    )
    assert checked.columns["when"].dtype.kind == "M"
    assert str(checked.columns["when"][1]).startswith("2024-03-04T05:06:07")
    message = refusal(signature, request('{"inputs": {"when": ["2024-01-02", "next tuesday"]}}'))
    assert "column 'when' expects datetime" in message and "'next tuesday' at row 1" in message


def test_csv_text_columns_stay_text_with_a_signature_as_mlflow_reads_them() -> None:
    from mlflow.pyfunc.scoring_server import parse_csv_input
    from mlflow.types import ColSpec, Schema

    body = b"code,n\n007,1\n,2\n"
    signature = ModelSignature([ColumnSpec("code", "string"), ColumnSpec("n", "int64")])
    parsed = mlflow_scoring.parse(body, "text/csv", signature=signature)
    expected = parse_csv_input(
        io.StringIO(body.decode()), Schema([ColSpec("string", "code"), ColSpec("long", "n")])
    )
    assert parsed.columns["code"].tolist() == ["007", None]
    assert expected["code"].tolist()[0] == "007" and pd.isna(expected["code"].tolist()[1])
    assert check_columns(signature, parsed).columns["n"].tolist() == expected["n"].tolist()
    without = mlflow_scoring.parse(body, "text/csv")
    assert without.columns["code"].tolist()[0] == 7.0  # what pandas guesses with no types
