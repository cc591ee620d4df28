"""Enforcing a signature, value by value: lossless casts are made, lossy ones refused with a clear message."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perennia.errors import InvalidInput
from perennia.models.signature import (
    enforce,
)
from tests.models.signature_helpers import frame_signature

PREFIX = "input does not match the model's signature: "

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
