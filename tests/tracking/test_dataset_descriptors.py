"""Dataset descriptors: digest identity, schema, row count, targets, profile and input checks.

The module promises that the same content gives the same digest (in any process, whichever
of pandas, pyarrow or polars holds it) and that any change of a value, a column name, the
column order or a dtype gives another. Oracles are pandas' own view of the frame.
"""

from __future__ import annotations

import math
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from perennia import data
from perennia.errors import InvalidInput, PerenniaError

SETTINGS = settings(max_examples=60, deadline=None)


@st.composite
def frames(draw, min_rows: int = 1, max_rows: int = 25) -> pd.DataFrame:
    """Draw a frame of ints, floats (NaN and inf included), nullable strings and booleans."""
    n = draw(st.integers(min_rows, max_rows))

    def column(elements):
        return draw(st.lists(elements, min_size=n, max_size=n))

    return pd.DataFrame(
        {
            "i": column(st.integers(-(2**62), 2**62)),
            "f": column(st.floats(allow_nan=True, allow_infinity=True)),
            "s": column(st.one_of(st.none(), st.text(max_size=8))),
            "b": column(st.booleans()),
        }
    )


def digest(frame: pd.DataFrame) -> str:
    """Return the digest of a pandas frame."""
    return data.from_pandas(frame).digest


def _same(a: object, b: object) -> bool:
    """Return True if two cells hold the same value (NaN and None count as one null)."""
    if pd.isna(a) and pd.isna(b):
        return True
    return not (pd.isna(a) or pd.isna(b)) and a == b


@SETTINGS
@given(frame=frames(), choice=st.data())
def test_digest_is_stable_and_changes_when_any_single_value_changes(frame, choice) -> None:
    original = digest(frame)
    assert len(original) == 64 and set(original) <= set("0123456789abcdef")
    assert digest(frame.copy()) == original == digest(frame)

    row = choice.draw(st.integers(0, len(frame) - 1), label="row")
    name = choice.draw(st.sampled_from(list(frame.columns)), label="column")
    old = frame.at[row, name]
    new = choice.draw(
        {
            "i": st.integers(-(2**62), 2**62),
            "f": st.floats(allow_nan=True, allow_infinity=True),
            "s": st.one_of(st.none(), st.text(max_size=8)),
            "b": st.booleans(),
        }[name],
        label="new value",
    )
    assume(not _same(old, new))
    changed = frame.copy()
    changed.at[row, name] = new
    assert changed[name].dtype == frame[name].dtype  # a value change, not a dtype change
    assert digest(changed) != original


@SETTINGS
@given(frame=frames())
def test_the_same_data_has_the_same_digest_in_pandas_pyarrow_and_polars(frame) -> None:
    # An all-null column has no type of its own: pandas calls it object, polars String.
    assume(frame["s"].notna().any())
    expected = data.from_pandas(frame)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    others = [
        data.from_arrow(table),
        data.from_polars(pl.from_pandas(frame)),
        data.from_any(frame),
        data.from_any(table),
        data.from_any(pl.from_arrow(table)),
    ]
    for other in others:
        assert (other.digest, other.schema, other.row_count) == (
            expected.digest,
            expected.schema,
            expected.row_count,
        )


def test_data_built_natively_in_each_library_gets_one_digest() -> None:
    columns = {
        "n": [1, 2, None],
        "x": [0.5, None, -2.0],
        "s": ["a", None, "c"],
        "ok": [True, False, True],
    }
    from_pandas = data.from_pandas(pd.DataFrame(columns)).digest
    assert data.from_arrow(pa.table(columns)).digest == from_pandas
    assert data.from_polars(pl.DataFrame(columns)).digest == from_pandas


def test_source_type_and_default_source_name_the_library() -> None:
    frame = pd.DataFrame({"a": [1, 2]})
    kinds = [
        data.from_pandas(frame),
        data.from_arrow(pa.Table.from_pandas(frame)),
        data.from_polars(pl.from_pandas(frame)),
        data.from_numpy(np.array([1, 2])),
    ]
    assert [(d.source_type, d.source) for d in kinds] == [
        ("pandas", "pandas"),
        ("pyarrow", "pyarrow"),
        ("polars", "polars"),
        ("numpy", "numpy"),
    ]


_CHILD = """
import pickle, sys
from perennia import data
frames = pickle.load(open(sys.argv[1], "rb"))
print("\\n".join(data.from_pandas(frame).digest for frame in frames))
"""


def test_digest_is_the_same_in_a_fresh_process_with_another_hash_seed(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    frames_ = [
        pd.DataFrame({"x": rng.normal(size=50), "k": rng.integers(0, 9, 50)}),
        pd.DataFrame({"s": ["a", None, "ccc"], "o": pd.Series([1, "1", None], dtype=object)}),
        pd.DataFrame({"t": pd.to_datetime(["2024-01-01", "2025-06-30"]), "c": ["x", "y"]}),
        pd.DataFrame(index=range(4)),
    ]
    frames_[2]["c"] = frames_[2]["c"].astype("category")
    path = tmp_path / "frames.pkl"
    path.write_bytes(pickle.dumps(frames_))
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    assert child.stdout.split() == [digest(f) for f in frames_]


def test_column_order_names_dtypes_and_row_order_are_part_of_the_identity() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.5, 4.0], "n": [1, 2, 3], "s": ["a", "b", "c"]})
    variants = {
        "original": frame,
        "column order": frame[["n", "x", "s"]],
        "renamed": frame.rename(columns={"x": "y"}),
        "int32": frame.astype({"n": "int32"}),
        "float": frame.astype({"n": "float64"}),
        "float32": frame.astype({"x": "float32"}),
        "category": frame.astype({"s": "category"}),
        "object strings": frame.astype({"s": object}),
        "row order": frame.iloc[::-1].reset_index(drop=True),
        "one row fewer": frame.iloc[:2],
        "extra column": frame.assign(z=0),
    }
    digests = {label: digest(f) for label, f in variants.items()}
    assert len(set(digests.values())) == len(digests), digests
    # The index is not data: the same rows under other labels are the same dataset.
    assert digest(frame.set_axis([10, 20, 30])) == digests["original"]


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ([1, "a"], ["1", "a"]),
        ([True, "a"], ["True", "a"]),
        ([b"a", "b"], ["a", "b"]),
        ([[1, 2], "x"], ["[1, 2]", "x"]),
        ([1, 2.5], [1.0, 2.5]),
    ],
)
def test_values_that_print_alike_in_an_object_column_have_different_digests(left, right) -> None:
    def frame(values):
        return pd.DataFrame({"o": pd.Series(values, dtype=object)})

    assert digest(frame(left)) != digest(frame(right))
    assert digest(frame(left)) == digest(frame(list(left)))


def test_nulls_in_an_object_column_are_one_null_whatever_their_spelling() -> None:
    def frame(values):
        return pd.DataFrame({"o": pd.Series(values, dtype=object)})

    assert digest(frame([None, "a"])) == digest(frame([np.nan, "a"]))
    assert digest(frame([None, "a"])) != digest(frame(["None", "a"]))


def test_frames_without_columns_differ_by_length() -> None:
    assert digest(pd.DataFrame(index=range(3))) != digest(pd.DataFrame(index=range(5)))
    assert data.from_pandas(pd.DataFrame(index=range(5))).row_count == 5


def _logical(dtype) -> str:
    """Return the logical type name the schema should carry (an independent oracle)."""
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "long"
    if pd.api.types.is_float_dtype(dtype):
        return "double"
    if pd.api.types.is_string_dtype(dtype):
        return "string"
    return str(dtype)


@SETTINGS
@given(frame=frames(min_rows=0))
def test_schema_row_count_and_profile_match_the_frame(frame: pd.DataFrame) -> None:
    dataset = data.from_pandas(frame, name="train", targets=["b", "i"], source="s3://b/t.parquet")
    assert (dataset.name, dataset.source, dataset.source_type) == (
        "train",
        "s3://b/t.parquet",
        "pandas",
    )
    assert dataset.row_count == len(frame)
    assert dataset.targets == ["b", "i"]
    assert dataset.schema == [
        {"name": c, "type": _logical(frame[c].dtype), "dtype": str(frame[c].dtype)}
        for c in frame.columns
    ]
    profile = dataset.profile["columns"]
    assert list(profile) == list(frame.columns)
    for name in frame.columns:
        assert profile[name]["null_count"] == int(frame[name].isna().sum())
    for name in ("i", "f"):
        values = frame[name].dropna()
        for stat, oracle in (("min", values.min()), ("max", values.max()), ("mean", values.mean())):
            if len(values) == 0:
                assert stat not in profile[name]
            elif math.isfinite(oracle):
                assert profile[name][stat] == pytest.approx(float(oracle), rel=1e-9)
            else:
                assert profile[name][stat] is None  # JSON has no inf or NaN
    # Strings and booleans have no numeric summary.
    assert set(profile["s"]) == set(profile["b"]) == {"null_count"}


def test_numpy_features_and_targets_become_named_columns() -> None:
    features = np.arange(12, dtype=np.float64).reshape(4, 3)
    one = data.from_numpy(features, targets=np.array([0, 1, 0, 1]), name="np")
    assert [c["name"] for c in one.schema] == ["f0", "f1", "f2", "target"]
    assert (one.targets, one.row_count, one.name) == (["target"], 4, "np")
    two = data.from_numpy(features, targets=np.ones((4, 2)))
    assert two.targets == ["target0", "target1"]
    expected = pd.DataFrame(features, columns=["f0", "f1", "f2"]).assign(target=[0, 1, 0, 1])
    assert one.digest == digest(expected)
    assert data.from_numpy(np.array([3.0, 1.0])).digest == digest(pd.DataFrame({"f0": [3.0, 1.0]}))
    assert data.from_any(features).digest == data.from_numpy(features).digest
    assert (
        data.from_any([[1, 2], [3, 4]]).digest == data.from_numpy(np.array([[1, 2], [3, 4]])).digest
    )


def test_empty_arrays_describe_zero_rows() -> None:
    assert data.from_numpy(np.zeros((0, 3))).row_count == 0
    assert len(data.from_numpy(np.zeros((0, 3))).schema) == 3
    assert data.from_numpy(np.zeros(0)).row_count == 0


def test_series_are_described_as_one_column_frames() -> None:
    values = [1.5, 2.5, None]
    expected = digest(pd.DataFrame({"v": values}))
    assert data.from_any(pd.Series(values, name="v")).digest == expected
    assert data.from_any(pl.Series("v", values)).digest == expected


def test_targets_are_recorded_for_every_library() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0], "y": [0, 1], "w": [1, 1]})
    table = pa.Table.from_pandas(frame, preserve_index=False)
    for dataset in (
        data.from_pandas(frame, targets="y"),
        data.from_arrow(table, targets="y"),
        data.from_polars(pl.from_pandas(frame), targets="y"),
        data.from_any(frame, targets="y"),
    ):
        assert dataset.targets == ["y"]
    assert data.from_pandas(frame, targets=("y", "w")).targets == ["y", "w"]
    assert data.from_pandas(frame).targets == []


def _bad_inputs():
    frame = pd.DataFrame({"x": [1.0, 2.0], "y": [0, 1]})
    return {
        "list to from_pandas": lambda: data.from_pandas([1, 2, 3]),
        "None to from_pandas": lambda: data.from_pandas(None),
        "dict to from_pandas": lambda: data.from_pandas({"x": [1]}),
        "missing target": lambda: data.from_pandas(frame, targets="label"),
        "one missing target of two": lambda: data.from_pandas(frame, targets=["y", "label"]),
        "target not a name": lambda: data.from_pandas(frame, targets=3),
        "target list of non-names": lambda: data.from_pandas(frame, targets=[None]),
        "name not a string": lambda: data.from_pandas(frame, name=5),
        "source not a string": lambda: data.from_pandas(frame, source=["s3://x"]),
        "duplicate columns": lambda: data.from_pandas(pd.DataFrame([[1, 2]], columns=["a", "a"])),
        "pandas to from_polars": lambda: data.from_polars(frame),
        "lazy polars": lambda: data.from_polars(pl.from_pandas(frame).lazy()),
        "pandas to from_arrow": lambda: data.from_arrow(frame),
        "arrow array": lambda: data.from_arrow(pa.array([1, 2])),
        "3-D array": lambda: data.from_numpy(np.zeros((2, 2, 2))),
        "scalar array": lambda: data.from_numpy(np.float64(3.0)),
        "ragged rows": lambda: data.from_numpy([[1, 2], [3]]),
        "targets of another length": lambda: data.from_numpy(np.zeros((3, 2)), targets=np.zeros(4)),
        "scalar targets": lambda: data.from_numpy(np.zeros(3), targets=1),
        "None to from_any": lambda: data.from_any(None),
        "string to from_any": lambda: data.from_any("train.csv"),
        "dict to from_any": lambda: data.from_any({"x": [1, 2]}),
        "target names for an array": lambda: data.from_any(np.zeros((2, 2)), targets="f1"),
    }


@pytest.mark.parametrize("label", list(_bad_inputs()))
def test_bad_input_gets_a_clear_perennia_error(label: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        _bad_inputs()[label]()
    assert isinstance(caught.value, PerenniaError)
    assert 0 < len(str(caught.value)) < 400


def test_a_missing_target_error_names_the_target_and_the_columns() -> None:
    frame = pd.DataFrame({"feature": [1.0], "label": [0]})
    with pytest.raises(InvalidInput) as caught:
        data.from_pandas(frame, targets="lable")
    assert "lable" in str(caught.value) and "label" in str(caught.value)
