"""Model signatures: inferred from every input kind, round-tripped through JSON, enforced."""

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

PREFIX = "input does not match the model's signature: "


def dtypes(signature: ModelSignature) -> dict[str | None, str]:
    return {spec.name: spec.dtype for spec in signature.inputs}


def frame_signature(**columns: str) -> ModelSignature:
    return ModelSignature([ColumnSpec(name, dtype) for name, dtype in columns.items()])


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


# -- enforce: safe casts -------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=20))
def test_int_to_float64_casts_exactly_within_2_53_and_is_refused_beyond(values) -> None:
    signature = frame_signature(x="float64")
    data = pd.DataFrame({"x": np.array(values, dtype=np.int64)})
    if all(abs(v) <= 2**53 for v in values):
        out = enforce(signature, data)["x"]
        assert out.dtype == np.float64
        assert [int(v) for v in out] == values
    else:
        with pytest.raises(InvalidInput, match="column 'x' expects float64 but got int64"):
            enforce(signature, data)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-(2**63), 2**63 - 1).map(float), min_size=1, max_size=20))
def test_integral_floats_cast_to_int64_exactly(values) -> None:
    fits = [v for v in values if v < 2.0**63]  # 2**63 - 1 rounds up to 2**63 as a float
    out = enforce(frame_signature(x="int64"), pd.DataFrame({"x": fits or [0.0]}))["x"]
    assert out.dtype == np.int64
    assert out.tolist() == [int(v) for v in fits or [0.0]]


@pytest.mark.parametrize(
    ("column", "target", "expected_dtype"),
    [
        (np.array([1, -2], dtype=np.int32), "int64", "int64"),
        (np.array([1, 2**40], dtype=np.int64), "float64", "float64"),
        (np.array([1, -(2**24)], dtype=np.int32), "float32", "float32"),
        (np.array([1, 127], dtype=np.int64), "int8", "int8"),
        (np.array([0, 2**63], dtype=np.uint64), "uint64", "uint64"),
        (np.array([1.5, np.nan], dtype=np.float32), "float64", "float64"),
        (np.array([0.5, np.inf, np.nan]), "float32", "float32"),
        (np.array([1.0, -3.0]), "int16", "int16"),
        (pd.Series([1, 2**62], dtype=object), "int64", "int64"),
        (pd.array([1, 2], dtype="Int64"), "int64", "int64"),
        (pd.array([1, None], dtype="Int32"), "float64", "float64"),
        (pd.array([True, False], dtype="boolean"), "bool", "bool"),
        (["a", "b"], "category", "category"),
        (pd.Categorical(["a", None]), "string", "string"),
        (pd.Series([b"a", None], dtype=object), "binary", "object"),
        (pd.Series([pd.Timestamp("2024-01-01")], dtype=object), "datetime", "datetime64[us]"),
    ],
)
def test_lossless_casts_are_made(column, target: str, expected_dtype: str) -> None:
    data = pd.DataFrame({"x": column})
    out = enforce(frame_signature(x=target), data)
    if expected_dtype == "string":  # object before pandas 3, str from then on
        assert pd.api.types.is_string_dtype(out["x"].dtype)
    else:
        assert str(out["x"].dtype) == expected_dtype
    assert out["x"].isna().tolist() == data["x"].isna().tolist()
    if expected_dtype not in ("category", "string", "object", "datetime64[us]"):
        kept = ~data["x"].isna()
        np.testing.assert_array_equal(out["x"][kept].astype(float), data["x"][kept].astype(float))


def test_string_columns_pass_through_unchanged() -> None:
    data = pd.DataFrame({"s": ["a", None, "c"]})
    pd.testing.assert_frame_equal(enforce(frame_signature(s="string"), data), data)


# -- enforce: refusals ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "target", "message"),
    [
        (
            [1.0, 2.5],
            "int64",
            "column 'x' expects int64 but got float64 values that int64 "
            "cannot hold exactly (2.5 at row 1)",
        ),
        (
            [0.5, 0.1],
            "float32",
            "column 'x' expects float32 but got float64 values that float32 "
            "cannot hold exactly (0.1 at row 1)",
        ),
        ([1.0, np.inf], "int64", "(inf at row 1)"),
        ([1.0, 2.0**63], "int64", "(9.223372036854776e+18 at row 1)"),
        (
            [1, 300],
            "int8",
            "column 'x' expects int8 but got int64 values that int8 cannot hold "
            "exactly (300 at row 1)",
        ),
        ([5, -1], "uint32", "(-1 at row 1)"),
        (np.array([2**63 + 1], dtype=np.uint64), "int64", "got uint64 values"),
        (
            [2**53 + 1],
            "float64",
            "got int64 values that float64 cannot hold exactly (9007199254740993 at row 0)",
        ),
        ([2**24 + 1], "float32", "(16777217 at row 0)"),
        (pd.Series([2**70], dtype=object), "int64", "got integers beyond 64 bits"),
        ([True, False], "int64", "column 'x' expects int64 but got bool (True at row 0)"),
        ([1, 0], "bool", "column 'x' expects bool but got int64 (1 at row 0)"),
        (["1", "2"], "int64", "column 'x' expects int64 but got string ('1' at row 0)"),
        ([1, 2], "string", "column 'x' expects string but got int64 (1 at row 0)"),
        (["2024-01-01"], "datetime", "column 'x' expects datetime but got string"),
        (["a"], "binary", "column 'x' expects binary but got string ('a' at row 0)"),
        (pd.Categorical([1, 2]), "string", "column 'x' expects string but got category (1 at "),
        (pd.Series([1, 2, "abc"], dtype=object), "int64", "got string ('abc' at row 2)"),
        (pd.Series(["a", 7], dtype=object), "string", "got int (7 at row 1)"),
        ([1.0, np.nan, 3.0], "int64", "column 'x' expects int64 but got a null at row 1"),
        (pd.array([1, None], dtype="Int64"), "int64", "got a null at row 1"),
        (pd.array([True, None], dtype="boolean"), "bool", "got a null at row 1"),
    ],
)
def test_lossy_casts_are_refused_naming_column_type_and_an_example(
    column, target: str, message: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        enforce(frame_signature(x=target), pd.DataFrame({"x": column}))
    assert message in str(caught.value)
    assert str(caught.value).startswith(PREFIX)


def test_every_offending_column_is_named_in_one_line() -> None:
    signature = frame_signature(age="int64", income="float64", city="string", score="float32")
    data = pd.DataFrame(
        {
            "city": [1, 2, 3, 4],
            "age": pd.Series([30, 41, 25, "abc"], dtype=object),
            "score": [0.5, 0.25, 0.1, 1.0],
            "note": ["", "", "", ""],
        }
    )
    with pytest.raises(InvalidInput) as caught:
        enforce(signature, data)
    assert str(caught.value) == (
        PREFIX + "column 'age' expects int64 but got string ('abc' at row 3); "
        "column 'income' is missing (required float64); "
        "column 'city' expects string but got int64 (1 at row 0); "
        "column 'score' expects float32 but got float64 values that float32 cannot hold "
        "exactly (0.1 at row 2); extra columns are ignored: ['note']"
    )
    assert "\n" not in str(caught.value)


def test_wrong_kinds_of_data_are_refused() -> None:
    signature = frame_signature(a="int64", b="int64")
    for data in ("a,b\n1,2", 42, None, {1, 2}, object()):
        with pytest.raises(InvalidInput, match="must be a pandas or polars DataFrame"):
            enforce(signature, data)
    with pytest.raises(InvalidInput, match="ModelSignature"):
        enforce(signature.to_dict(), pd.DataFrame({"a": [1], "b": [2]}))
    with pytest.raises(InvalidInput, match="equal-length"):
        enforce(signature, {"a": [1, 2], "b": [1]})
    with pytest.raises(InvalidInput, match="repeat"):
        enforce(signature, pd.DataFrame([[1, 2]], columns=["a", "a"]))


# -- enforce: columns, shapes and containers -----------------------------------------------


def test_missing_optional_columns_are_filled_with_nulls_of_their_type() -> None:
    specs = [ColumnSpec("id", "int64")] + [
        ColumnSpec(dtype, dtype, required=False)
        for dtype in ("float32", "int16", "bool", "string", "binary", "datetime", "category")
    ]
    out = enforce(ModelSignature(specs), pd.DataFrame({"id": [1, 2]}))
    assert list(out.columns) == [spec.name for spec in specs]
    assert out.drop(columns="id").isna().all().all()
    assert {c: str(t) for c, t in out.dtypes.items()} == {
        "id": "int64",
        "float32": "float32",
        "int16": "Int16",
        "bool": "boolean",
        "string": "object",
        "binary": "object",
        "datetime": "datetime64[ns]",
        "category": "category",
    }


def test_nulls_in_an_optional_int_column_become_a_nullable_column() -> None:
    signature = ModelSignature([ColumnSpec("n", "int32", required=False)])
    out = enforce(signature, pd.DataFrame({"n": [1.0, np.nan, 3.0]}))
    assert str(out["n"].dtype) == "Int32"
    assert out["n"].tolist() == [1, pd.NA, 3]


def test_extra_columns_are_dropped_and_columns_reordered_keeping_the_index() -> None:
    signature = frame_signature(b="float64", a="int64")
    data = pd.DataFrame({"a": [1, 2], "extra": ["x", "y"], "b": [1, 2]}, index=[10, 20])
    out = enforce(signature, data)
    assert list(out.columns) == ["b", "a"]
    assert out.index.tolist() == [10, 20]
    assert out["b"].dtype == np.float64
    assert "extra" in data.columns  # the caller's frame is left alone


def test_an_empty_frame_with_the_right_columns_comes_back_empty_and_typed() -> None:
    signature = frame_signature(a="int64", b="float32", c="string")
    out = enforce(signature, pd.DataFrame(columns=["c", "b", "a"]))
    assert out.shape == (0, 3) and list(out.columns) == ["a", "b", "c"]
    assert out["a"].dtype == np.int64 and out["b"].dtype == np.float32
    assert enforce(signature, []).shape == (0, 3)


def test_dicts_records_polars_and_series_are_accepted() -> None:
    pl = pytest.importorskip("polars")
    signature = frame_signature(a="float64", b="string")
    expected = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]})
    for data in (
        {"b": ["x", "y"], "a": [1, 2]},
        [{"a": 1, "b": "x"}, {"b": "y", "a": 2, "c": 0}],
        pl.DataFrame({"b": ["x", "y"], "a": [1, 2]}),
    ):
        out = enforce(signature, data)
        assert out["a"].tolist() == expected["a"].tolist()
        assert out["b"].tolist() == expected["b"].tolist()
    single = frame_signature(x="float64")
    assert enforce(single, pd.Series([1, 2])).columns.tolist() == ["x"]
    assert enforce(single, pl.Series("x", [1, 2]))["x"].tolist() == [1.0, 2.0]


def test_numpy_input_to_a_frame_signature_needs_one_column_per_input() -> None:
    signature = frame_signature(a="int64", b="float64")
    out = enforce(signature, np.array([[1, 2], [3, 4]]))
    assert out.columns.tolist() == ["a", "b"] and out["b"].dtype == np.float64
    with pytest.raises(InvalidInput, match=r"one column per input \(2: 'a', 'b'\).*\(2, 3\)"):
        enforce(signature, np.zeros((2, 3)))
    with pytest.raises(InvalidInput, match="column 'a' expects int64 but got float64"):
        enforce(signature, np.array([[1.5, 2.0]]))
    assert enforce(frame_signature(a="int8"), np.array([1, 2]))["a"].dtype == np.int8


def test_array_signatures_check_dimensions_and_cast_safely() -> None:
    signature = ModelSignature([ColumnSpec(None, "float32", (-1, 3))], None, "array")
    out = enforce(signature, np.arange(6, dtype=np.int16).reshape(2, 3))
    assert out.dtype == np.float32 and out.shape == (2, 3)
    assert enforce(signature, [[1, 2, 3]]).dtype == np.float32
    assert enforce(signature, pd.DataFrame([[1.5, 2.0, 3.0]])).dtype == np.float32
    assert enforce(signature, np.zeros((0, 3))).shape == (0, 3)
    for wrong in (np.zeros((2, 4)), np.zeros(3), np.zeros((1, 3, 1))):
        with pytest.raises(InvalidInput, match=r"expects an array of shape \(-1, 3\)"):
            enforce(signature, wrong)
    values = np.array([[0.5, 0.25, 1.0], [2.0, 0.1, 3.0]])
    with pytest.raises(InvalidInput, match=r"array expects float32 .*\(0.1 at index \(1, 1\)\)"):
        enforce(signature, values)
    with pytest.raises(InvalidInput, match="array expects float32 but got string"):
        enforce(signature, np.array([["a", "b", "c"]]))
    with pytest.raises(InvalidInput, match="does not form an array"):
        enforce(signature, [[1, 2, 3], [1]])
    with pytest.raises(InvalidInput, match="got str"):
        enforce(signature, "1,2,3")
    ints = ModelSignature([ColumnSpec(None, "int64", (-1,))], None, "array")
    assert enforce(ints, np.array([1.0, 2.0])).dtype == np.int64
    with pytest.raises(InvalidInput, match=r"got a null at index \(1,\)"):
        enforce(ints, np.array([1.0, np.nan]))


def test_huge_values_are_checked_at_the_edges_of_each_type() -> None:
    edges = pd.DataFrame(
        {
            "i64": np.array([-(2**63), 2**63 - 1], dtype=np.int64),
            "u64": np.array([0, 2**64 - 1], dtype=np.uint64),
            "f": [-(2.0**63), 2.0**62],
        }
    )
    signature = frame_signature(i64="int64", u64="uint64", f="int64")
    out = enforce(signature, edges)
    assert out["i64"].tolist() == [-(2**63), 2**63 - 1]
    assert out["u64"].tolist() == [0, 2**64 - 1]
    assert out["f"].tolist() == [-(2**63), 2**62]
    with pytest.raises(InvalidInput) as caught:
        enforce(frame_signature(i64="float64", u64="int64", f="int32"), edges)
    message = str(caught.value)
    for column, target in (("i64", "float64"), ("u64", "int64"), ("f", "int32")):
        assert f"column '{column}' expects {target} but got" in message


# -- a real model --------------------------------------------------------------------------


def test_a_fitted_model_predicts_the_same_on_shuffled_columns_with_an_extra_one() -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.default_rng(7)
    train = pd.DataFrame(
        {
            "age": rng.integers(18, 90, 200),
            "income": rng.normal(50_000, 10_000, 200),
            "city": rng.choice(["north", "south", "east"], 200),
        }
    )
    target = (train["income"] > 50_000).astype(int)
    prep = ColumnTransformer(
        [("num", StandardScaler(), ["age", "income"]), ("cat", OneHotEncoder(), ["city"])]
    )
    model = make_pipeline(prep, LogisticRegression()).fit(train, target)
    signature = infer_signature(train, model.predict(train))
    assert dtypes(signature) == {"age": "int64", "income": "float64", "city": "string"}
    assert signature.outputs == [ColumnSpec(None, "int64", (-1,))]

    shuffled = train[["city", "income", "age"]].assign(comment="ignore me")
    restored = enforce(ModelSignature.from_dict(signature.to_dict()), shuffled)
    assert list(restored.columns) == ["age", "income", "city"]
    np.testing.assert_array_equal(model.predict(restored), model.predict(train))
    np.testing.assert_array_equal(model.predict_proba(restored), model.predict_proba(train))


def test_a_frame_that_already_fits_passes_through_and_one_that_does_not_is_checked() -> None:
    import numpy as np
    import pandas as pd

    from perennia.models.signature import enforce, infer_signature

    frame = pd.DataFrame({"a": [1.0, np.nan], "b": np.array([1, 2], dtype="int64")})
    signature = infer_signature(frame)
    assert enforce(signature, frame) is frame  # nothing to cast or check per value
    reordered = enforce(signature, frame[["b", "a"]])
    assert list(reordered.columns) == ["a", "b"]
    widened = enforce(signature, frame.astype({"b": "int32"}))
    assert widened["b"].dtype == np.int64
    with pytest.raises(InvalidInput, match="'b'"):
        enforce(signature, frame.assign(b=[1.5, 2.0]))
