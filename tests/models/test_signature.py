"""Model signatures: inferred from every input kind, and the signature object round-tripped through JSON."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perennia.errors import InvalidInput
from perennia.models.signature import (
    DTYPES,
    ColumnSpec,
    ModelSignature,
    enforce,
    infer_signature,
)
from tests.models.signature_helpers import dtypes, frame_signature

# -- inference -----------------------------------------------------------------------------


def test_pandas_numpy_dtypes_are_inferred_by_name() -> None:
    frame = pd.DataFrame(
        {
            "i8": np.array([1, 2], dtype=np.int8),
            "i32": np.array([1, 2], dtype=np.int32),
            "u16": np.array([1, 2], dtype=np.uint16),
            "f16": np.array([1, 2], dtype=np.float16),
            "f32": np.array([1.5, np.nan], dtype=np.float32),
            "flag": [True, False],
            "text": ["a", "b"],
            "raw": [b"a", b"b"],
            "when": pd.to_datetime(["2024-01-01", "2024-01-02"]),
            "when_utc": pd.to_datetime(["2024-01-01", "2024-01-02"], utc=True),
            "city": pd.Categorical(["north", "south"]),
        }
    )
    signature = infer_signature(frame)
    assert signature.input_kind == "dataframe"
    assert dtypes(signature) == {
        "i8": "int8",
        "i32": "int32",
        "u16": "uint16",
        "f16": "float32",
        "f32": "float32",
        "flag": "bool",
        "text": "string",
        "raw": "binary",
        "when": "datetime",
        "when_utc": "datetime",
        "city": "category",
    }
    assert all(spec.required and spec.shape is None for spec in signature.inputs)
    assert signature.outputs is None


def test_nullable_and_object_columns_map_to_what_the_model_sees() -> None:
    frame = pd.DataFrame(
        {
            "whole": pd.array([1, 2, 3], dtype="Int64"),
            "holes": pd.array([1, None, 3], dtype="Int64"),
            "yes": pd.array([True, False, True], dtype="boolean"),
            "maybe": pd.array([True, None, False], dtype="boolean"),
            "words": pd.array(["a", None, "c"], dtype="string"),
            "py_ints": pd.Series([1, 2, 3], dtype=object),
            "py_ints_none": pd.Series([1, None, 3], dtype=object),
            "py_floats": pd.Series([1, 2.5, None], dtype=object),
            "py_strings": pd.Series(["a", None, "c"], dtype=object),
            "int_with_nan": [1, np.nan, 3],
        }
    )
    signature = infer_signature(frame)
    assert dtypes(signature) == {
        "whole": "int64",
        "holes": "float64",
        "yes": "bool",
        "maybe": "bool",
        "words": "string",
        "py_ints": "int64",
        "py_ints_none": "float64",
        "py_floats": "float64",
        "py_strings": "string",
        "int_with_nan": "float64",
    }
    optional = [spec.name for spec in signature.inputs if not spec.required]
    assert optional == ["maybe"]
    assert enforce(signature, frame)["maybe"].isna().tolist() == [False, True, False]


def test_polars_frames_are_inferred_like_pandas() -> None:
    pl = pytest.importorskip("polars")
    frame = pl.DataFrame(
        {
            "n": pl.Series([1, 2], dtype=pl.Int32),
            "holes": [1, None],
            "x": [0.5, 1.5],
            "s": ["a", None],
            "c": pl.Series(["x", "y"], dtype=pl.Categorical),
            "flag": [True, False],
        }
    )
    assert dtypes(infer_signature(frame)) == {
        "n": "int32",
        "holes": "float64",
        "x": "float64",
        "s": "string",
        "c": "category",
        "flag": "bool",
    }
    output = infer_signature(frame, pl.Series("score", [0.1, 0.2]))
    assert output.outputs == [ColumnSpec("score", "float64")]


def test_numpy_arrays_are_array_signatures_with_a_variable_first_dimension() -> None:
    two_d = infer_signature(np.zeros((5, 4), dtype=np.float32), np.zeros(5, dtype=np.int64))
    assert two_d.input_kind == "array"
    assert two_d.inputs == [ColumnSpec(None, "float32", (-1, 4))]
    assert two_d.outputs == [ColumnSpec(None, "int64", (-1,))]
    one_d = infer_signature(np.array(["a", "b"]), np.zeros((2, 3)))
    assert one_d.inputs == [ColumnSpec(None, "string", (-1,))]
    assert one_d.outputs == [ColumnSpec(None, "float64", (-1, 3))]
    images = infer_signature(np.zeros((2, 8, 8, 3), dtype=np.uint8))
    assert images.inputs[0].shape == (-1, 8, 8, 3)


def test_dicts_records_series_and_lists_are_inferred() -> None:
    by_dict = infer_signature({"a": [1, 2], "b": ["x", "y"]}, [0.5, 0.25])
    by_records = infer_signature([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}])
    assert dtypes(by_dict) == dtypes(by_records) == {"a": "int64", "b": "string"}
    assert by_dict.outputs == [ColumnSpec(None, "float64", (-1,))]
    named = infer_signature(pd.Series([1.0, 2.0], name="x"), pd.Series([1, 0]))
    assert named.input_kind == "dataframe" and dtypes(named) == {"x": "float64"}
    assert named.outputs == [ColumnSpec(None, "int64", (-1,))]
    frame_out = infer_signature({"a": [1]}, pd.DataFrame({"p0": [0.2], "p1": [0.8]}))
    assert frame_out.outputs == [ColumnSpec("p0", "float64"), ColumnSpec("p1", "float64")]


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (pd.DataFrame({"x": pd.Series([1, "a"], dtype=object)}), "column 'x'.*mixed"),
        (pd.DataFrame({"x": [None, None]}), "column 'x': it holds only nulls"),
        (pd.DataFrame({"x": pd.to_timedelta([1, 2], unit="s")}), "timedelta"),
        (pd.DataFrame(index=range(3)), "no columns"),
        ("some text", "got str"),
        (np.float64(3.0), "got float64"),
        ({"a": 1, "b": 2}, "equal-length columns"),
    ],
)
def test_inference_refuses_what_no_signature_type_describes(data, match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        infer_signature(data)


def test_inferring_imports_no_pandas_until_called() -> None:
    code = "import sys, perennia.models.signature; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- the signature object ------------------------------------------------------------------

names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
shapes = st.lists(st.integers(min_value=-1, max_value=64), min_size=1, max_size=4).map(tuple)


@st.composite
def signatures(draw: st.DrawFn) -> ModelSignature:
    dtype = st.sampled_from(DTYPES)
    if draw(st.booleans()):
        columns = draw(st.lists(names, min_size=1, max_size=6, unique=True))
        inputs = [ColumnSpec(n, draw(dtype), None, draw(st.booleans())) for n in columns]
        kind = "dataframe"
    else:
        inputs, kind = [ColumnSpec(draw(st.none() | names), draw(dtype), draw(shapes))], "array"
    output = st.builds(ColumnSpec, st.none() | names, dtype, st.none() | shapes, st.booleans())
    outputs = draw(st.none() | st.lists(output, max_size=3))
    return ModelSignature(inputs, outputs, kind)


@settings(max_examples=150, deadline=None)
@given(signatures())
def test_to_dict_and_from_dict_round_trip_exactly_through_json(signature: ModelSignature) -> None:
    document = json.loads(json.dumps(signature.to_dict()))
    assert ModelSignature.from_dict(document) == signature
    assert ModelSignature.from_dict(document).to_dict() == signature.to_dict()


def test_str_lists_inputs_and_outputs_one_per_line() -> None:
    signature = ModelSignature(
        [ColumnSpec("age", "int64"), ColumnSpec("income", "float64", required=False)],
        [ColumnSpec(None, "float64", (-1,))],
    )
    assert str(signature) == (
        "inputs (dataframe):\n  'age': int64\n  'income': float64 (optional)\n"
        "outputs:\n  array (-1,): float64"
    )


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: ColumnSpec("a", "int"), "unknown dtype 'int'"),
        (lambda: ColumnSpec("a", "int64", (-2, 3)), "shape"),
        (lambda: ModelSignature([]), "at least one input"),
        (lambda: frame_signature(), "at least one input"),
        (lambda: ModelSignature([ColumnSpec("a", "bool")] * 2), "repeat: \\['a'\\]"),
        (lambda: ModelSignature([ColumnSpec(None, "bool")]), "named columns"),
        (lambda: ModelSignature([ColumnSpec(None, "bool")], None, "array"), "with a shape"),
        (lambda: ModelSignature([ColumnSpec("a", "bool")], None, "tensor"), "input_kind"),
        (lambda: ModelSignature.from_dict({"outputs": []}), "list of 'inputs'"),
        (lambda: ModelSignature.from_dict({"inputs": [{"name": "a"}]}), "'dtype'"),
    ],
)
def test_malformed_signatures_are_refused(build, match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        build()
