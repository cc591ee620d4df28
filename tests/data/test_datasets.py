"""Dataset descriptors: a content digest that is stable, sensitive to any change, and library-blind."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.pandas import column, data_frames, range_indexes

from perennia import data
from perennia.errors import InvalidInput, PerenniaError

frames = data_frames(
    [
        column("i", dtype=np.int64),
        column("f", elements=st.floats(allow_nan=True, allow_infinity=False, width=64)),
        column("s", elements=st.text(max_size=8)),
    ],
    index=range_indexes(min_size=1, max_size=30),
)


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"x": [1.0, 2.5, np.nan], "n": [1, 2, 3], "label": ["a", "b", "a"]})


@settings(max_examples=60, deadline=None)
@given(frame=frames)
def test_digest_is_stable_and_changes_with_any_single_value(frame: pd.DataFrame) -> None:
    digest = data.from_pandas(frame).digest
    assert digest == data.from_pandas(frame.copy()).digest
    assert len(digest) == 64 and int(digest, 16) >= 0
    changed = frame.copy()
    changed.loc[changed.index[-1], "i"] = frame["i"].iloc[-1] ^ 1
    assert data.from_pandas(changed).digest != digest


@settings(max_examples=40, deadline=None)
@given(frame=frames)
def test_the_same_data_has_the_same_digest_in_pandas_arrow_and_polars(frame) -> None:
    numeric = frame[["i", "f"]]
    digest = data.from_pandas(numeric).digest
    assert data.from_arrow(pa.Table.from_pandas(numeric, preserve_index=False)).digest == digest
    assert data.from_polars(pl.from_pandas(numeric)).digest == digest


def test_digest_is_the_same_in_another_process() -> None:
    code = (
        "import pandas as pd, numpy as np; from perennia import data;"
        "print(data.from_pandas(pd.DataFrame({'x': [1.0, 2.5, np.nan], 'n': [1, 2, 3],"
        " 'label': ['a', 'b', 'a']})).digest)"
    )
    other = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert other == data.from_pandas(_frame()).digest


def test_column_order_names_and_types_are_part_of_the_identity() -> None:
    frame = _frame()
    digest = data.from_pandas(frame).digest
    assert data.from_pandas(frame[["n", "x", "label"]]).digest != digest
    assert data.from_pandas(frame.rename(columns={"x": "y"})).digest != digest
    assert data.from_pandas(frame.astype({"n": "float64"})).digest != digest
    assert data.from_pandas(frame.iloc[::-1].reset_index(drop=True)).digest != digest
    # The index is not data: a reindexed copy of the same rows is the same dataset.
    assert data.from_pandas(frame.set_axis([10, 11, 12])).digest == digest


def test_schema_row_count_targets_and_profile_describe_the_frame() -> None:
    frame = _frame()
    dataset = data.from_pandas(frame, name="train", targets="label", source="s3://b/train.parquet")
    assert (dataset.name, dataset.row_count, dataset.targets) == ("train", 3, ["label"])
    assert dataset.source == "s3://b/train.parquet" and dataset.source_type == "pandas"
    assert [c["name"] for c in dataset.schema] == ["x", "n", "label"]
    assert [c["dtype"] for c in dataset.schema] == [str(frame[c].dtype) for c in frame.columns]
    x = dataset.profile["columns"]["x"]
    assert x["min"] == 1.0 and x["max"] == 2.5 and x["mean"] == pytest.approx(1.75)


def test_numpy_features_and_targets_become_named_columns() -> None:
    features = np.arange(12, dtype=np.float64).reshape(4, 3)
    dataset = data.from_numpy(features, targets=np.array([0, 1, 0, 1]), name="np")
    assert [c["name"] for c in dataset.schema] == ["f0", "f1", "f2", "target"]
    assert dataset.targets == ["target"] and dataset.row_count == 4
    assert data.from_any(features).digest == data.from_numpy(features).digest
    assert data.from_any(pd.Series([1, 2], name="s")).row_count == 2


@pytest.mark.parametrize(
    "call",
    [
        lambda: data.from_pandas([1, 2, 3]),
        lambda: data.from_pandas(None),
        lambda: data.from_pandas(_frame(), targets="missing"),
        lambda: data.from_numpy(np.zeros((2, 2, 2))),
        lambda: data.from_numpy(np.zeros((3, 2)), targets=np.zeros(4)),
        lambda: data.from_polars(_frame()),
        lambda: data.from_arrow(_frame()),
    ],
)
def test_bad_inputs_get_a_clear_perennia_error(call) -> None:
    with pytest.raises(InvalidInput) as caught:
        call()
    assert isinstance(caught.value, PerenniaError) and str(caught.value)
