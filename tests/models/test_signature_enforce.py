"""Enforcing a signature on whole inputs: columns, optional fills, shapes, containers and a real model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from perennia.errors import InvalidInput
from perennia.models.signature import (
    ColumnSpec,
    ModelSignature,
    enforce,
    infer_signature,
)
from tests.models.signature_helpers import dtypes, frame_signature

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
