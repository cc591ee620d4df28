"""One reading of columns and tables: the same values give the same result in every library.

Each test builds the same data as a list, a numpy array, a pandas, polars and pyarrow column
(or table) and checks that `perennia._util.tables` gives identical numpy arrays, names, row
counts and pandas frames, nulls, NaN and infinities included.
"""

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
from hypothesis.extra import numpy as hnp

from perennia._util import tables

SETTINGS = settings(max_examples=80, deadline=None)

FLOATS = hnp.arrays(
    np.float64,
    st.integers(1, 30),
    elements=st.floats(allow_nan=True, allow_infinity=True),
)
INTS = hnp.arrays(np.int64, st.integers(1, 30))
BOOLS = hnp.arrays(np.bool_, st.integers(1, 30))

# Every container a user may hand over for one column of values.
COLUMNS = {
    "numpy": lambda a: a,
    "list": lambda a: a.tolist(),
    "tuple": lambda a: tuple(a.tolist()),
    "pandas": lambda a: pd.Series(a, index=np.arange(a.size) * 2 + 7),
    "pandas index": pd.Index,
    "polars": pl.Series,
    "pyarrow": pa.array,
    "pyarrow chunked": lambda a: pa.chunked_array([a[:1], a[1:]]),
    "column vector": lambda a: a.reshape(-1, 1),
    "pandas frame": lambda a: pd.DataFrame({"v": a}),
    "polars frame": lambda a: pl.DataFrame({"v": a}),
    "pyarrow table": lambda a: pa.table({"v": a}),
}


def _same(actual: np.ndarray, expected: np.ndarray) -> None:
    """Assert equal values (NaN equal to NaN) and equal dtypes."""
    assert actual.dtype == expected.dtype
    np.testing.assert_array_equal(actual, expected, strict=True)


@SETTINGS
@given(values=st.one_of(FLOATS, INTS, BOOLS))
@pytest.mark.parametrize("container", list(COLUMNS))
def test_one_column_reads_alike_from_every_container(container, values) -> None:
    _same(tables.to_1d(COLUMNS[container](values), "y"), values)


# Integers with holes: each library's own nullable integer column.
NULLABLE_INTS = st.lists(st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)), min_size=1)


@SETTINGS
@given(values=NULLABLE_INTS)
def test_integers_with_nulls_become_float64_with_nan_everywhere(values) -> None:
    expected = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    typed = [
        pd.Series(values, dtype="Int64"),
        pd.array(values, dtype="Int64"),
        pl.Series(values, dtype=pl.Int64),
        pa.array(values, type=pa.int64()),
    ]
    # A list of only None has no type to go by; with one number in it, it reads like the rest.
    plain = [values] if any(v is not None for v in values) else []
    for column in plain + typed:
        if any(v is None for v in values):
            _same(tables.to_1d(column), expected)
        else:
            _same(tables.to_1d(column), np.array(values, dtype=np.int64))


def test_small_integers_with_nulls_are_float64_too() -> None:
    expected = np.array([1.0, np.nan, -3.0])
    for column in (
        [1, None, -3.0],
        pd.Series([1, None, -3], dtype="Int8"),
        pl.Series([1, None, -3], dtype=pl.Int8),
        pa.array([1, None, -3], type=pa.int8()),
    ):
        _same(tables.to_1d(column), expected)


def test_floats_with_nulls_keep_their_width() -> None:
    for width, pandas, polars, arrow in (
        (np.float64, "Float64", pl.Float64, pa.float64()),
        (np.float32, "Float32", pl.Float32, pa.float32()),
    ):
        expected = np.array([0.5, np.nan, np.inf], dtype=width)
        for column in (
            pd.Series([0.5, None, np.inf], dtype=pandas),
            pl.Series([0.5, None, np.inf], dtype=polars),
            pa.array([0.5, None, np.inf], type=arrow),
        ):
            _same(tables.to_1d(column), expected)


@pytest.mark.parametrize(
    ("values", "pandas_dtype"),
    [
        ([True, None, False], "boolean"),
        (["a", None, "c"], "str"),
        (["a", None, "c"], object),
        (["a", None, "c"], "category"),
    ],
)
def test_other_nulls_become_none_in_an_object_array(values, pandas_dtype) -> None:
    expected = np.array(values, dtype=object)
    polars_dtype = pl.Categorical if pandas_dtype == "category" else None
    for column in (
        values,
        pd.Series(values, dtype=pandas_dtype),
        pl.Series(values, dtype=polars_dtype),
        pa.array(values),
    ):
        array = tables.to_1d(column)
        assert array.dtype == object
        assert array.tolist() == expected.tolist()


def test_columns_without_nulls_keep_their_numpy_type() -> None:
    _same(tables.to_1d(pd.Series([1, 2], dtype="Int16")), np.array([1, 2], dtype=np.int16))
    _same(tables.to_1d(pd.Series([True, False], dtype="boolean")), np.array([True, False]))
    _same(tables.to_1d(pl.Series([1, 2], dtype=pl.UInt8)), np.array([1, 2], dtype=np.uint8))


# -- tables ----------------------------------------------------------------------------------

TABLE_COLUMNS = {
    "i": [1, 2, 3],
    "n": [1, None, 3],
    "f": [0.5, None, float("inf")],
    "s": ["a", None, "c"],
    "b": [True, False, True],
}
TABLES = {
    "pandas": lambda: pd.DataFrame(TABLE_COLUMNS),
    "polars": lambda: pl.DataFrame(TABLE_COLUMNS),
    "pyarrow": lambda: pa.table(TABLE_COLUMNS),
    "pyarrow batch": lambda: pa.RecordBatch.from_pydict(TABLE_COLUMNS),
    "dict": lambda: dict(TABLE_COLUMNS),
}


@pytest.mark.parametrize("kind", list(TABLES))
def test_a_table_reads_alike_from_every_library(kind) -> None:
    data = TABLES[kind]()
    assert tables.column_names(data) == ["i", "n", "f", "s", "b"]
    assert tables.row_count(data) == 3
    assert tables.is_table(data) is (kind != "dict")
    _same(tables.column(data, "i"), np.array([1, 2, 3]))
    _same(tables.column(data, "n"), np.array([1.0, np.nan, 3.0]))
    assert tables.column(data, "s").tolist() == ["a", None, "c"]
    expected = pd.DataFrame(TABLE_COLUMNS)
    pd.testing.assert_frame_equal(tables.to_pandas(data), expected)
    picked = tables.select(data, ["f", "i"])
    pd.testing.assert_frame_equal(tables.to_pandas(picked), expected[["f", "i"]])


@SETTINGS
@given(matrix=hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1)))
def test_a_matrix_reads_alike_from_every_library(matrix) -> None:
    names = [f"c{i}" for i in range(matrix.shape[1])]
    columns = {name: matrix[:, i] for i, name in enumerate(names)}
    for data in (
        matrix,
        matrix.tolist(),
        pd.DataFrame(matrix, columns=names),
        pl.DataFrame(columns),
        pa.table(columns),
    ):
        _same(tables.to_numpy(data), matrix)
    frame = tables.to_pandas(matrix, prefix="c")
    pd.testing.assert_frame_equal(frame, pd.DataFrame(matrix, columns=names))


def test_mixed_columns_stack_as_pandas_would() -> None:
    mixed = {"i": [1, 2], "f": [0.5, 1.5]}
    _same(tables.to_numpy(pl.DataFrame(mixed)), pd.DataFrame(mixed).to_numpy())
    # Text or booleans next to numbers stay objects rather than turning into text or numbers.
    for other in ({"s": ["a", "b"]}, {"b": [True, False]}):
        data = {**mixed, **other}
        for table in (pd.DataFrame(data), pl.DataFrame(data), pa.table(data)):
            array = tables.to_numpy(table)
            assert array.dtype == object
            assert array.tolist() == pd.DataFrame(data).to_numpy().tolist()
    assert tables.to_numpy(pd.DataFrame(index=range(4))).shape == (4, 0)


def test_pandas_column_labels_are_read_by_their_text() -> None:
    frame = pd.DataFrame([[1, 2], [3, 4]])
    assert tables.column_names(frame) == ["0", "1"]
    _same(tables.column(frame, "1"), np.array([2, 4]))
    assert tables.select(frame, ["1"]).columns.tolist() == [1]


def test_polars_frames_become_the_frame_polars_itself_would_give() -> None:
    frame = pl.DataFrame(
        {
            **TABLE_COLUMNS,
            "cat": pl.Series(["x", "y", None], dtype=pl.Categorical),
            "when": pl.Series(["2024-01-01", None, "2024-03-01"]).str.to_datetime(),
            "zone": pl.Series(["2024-01-01", None, "2024-03-01"])
            .str.to_datetime()
            .dt.replace_time_zone("Europe/Paris"),
        }
    )
    pd.testing.assert_frame_equal(tables.to_pandas(frame), frame.to_pandas())


def test_polars_frames_convert_without_pyarrow(monkeypatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pyarrow" else real(name, *a)
    )
    frame = pl.DataFrame(
        {
            **TABLE_COLUMNS,
            "small": pl.Series([1, None, 3], dtype=pl.Int8),
            "enum": pl.Series(["y", "x", None], dtype=pl.Enum(["y", "x", "z"])),
        }
    )
    converted = tables.to_pandas(frame)
    pd.testing.assert_frame_equal(converted[list(TABLE_COLUMNS)], pd.DataFrame(TABLE_COLUMNS))
    _same(converted["small"].to_numpy(), np.array([1.0, np.nan, 3.0]))
    assert converted["enum"].cat.categories.tolist() == ["y", "x", "z"]
    assert converted["enum"].cat.ordered


def test_named_series_are_recognised_and_unnamed_ones_are_not() -> None:
    assert tables.column_name(pd.Series([1], name="age")) == "age"
    assert tables.column_name(pl.Series("age", [1])) == "age"
    assert tables.column_name(pd.Series([1])) is None
    assert tables.column_name(pl.Series([1])) is None
    assert tables.column_name(pa.array([1])) is None
    assert tables.column_name(np.array([1])) is None


def test_libraries_are_recognised_by_module_including_subclasses() -> None:
    class Frame(pd.DataFrame):
        pass

    assert tables.library(Frame({"a": [1]})) == "pandas"
    assert tables.is_table(Frame({"a": [1]}))
    assert [tables.library(x) for x in (pl.Series([1]), pa.array([1]), np.float64(1))] == [
        "polars",
        "pyarrow",
        "numpy",
    ]
    assert tables.library([1, 2]) is None
    assert not tables.is_table(pd.Series([1]))
    assert not tables.is_table(pl.DataFrame({"a": [1]}).lazy())


def test_reading_plain_data_imports_no_dataframe_library() -> None:
    code = (
        "import sys; from perennia._util import tables\n"
        "tables.to_1d([1.0, 2.0]); tables.column_names({'a': [1]}); tables.library([1])\n"
        "print([m for m in ('pandas', 'polars', 'pyarrow') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- errors ----------------------------------------------------------------------------------


def test_errors_name_the_argument_and_what_is_accepted() -> None:
    with pytest.raises(ValueError, match=r"^y must be one-dimensional .*got shape \(2, 2\)$"):
        tables.to_1d(np.zeros((2, 2)), "y")
    with pytest.raises(ValueError, match=r"^rows does not form an array .*equal lengths$"):
        tables.to_numpy([[1, 2], [3]], "rows")
    with pytest.raises(ValueError, match=r"^data must be a pandas or polars DataFrame.*\(3,\)$"):
        tables.to_pandas(np.zeros(3))
    with pytest.raises(ValueError, match="^d must map column names to equal-length columns"):
        tables.to_pandas({"a": [1, 2], "b": [1]}, "d")
    with pytest.raises(TypeError, match=r"^x must be a polars DataFrame or Series.*\.collect\(\)"):
        tables.to_numpy(pl.DataFrame({"a": [1]}).lazy(), "x")
    with pytest.raises(TypeError, match="^data must be a table to read column 'a' from"):
        tables.column(np.zeros((2, 2)), "a")
    with pytest.raises(TypeError, match="^data must be a pandas or polars DataFrame"):
        tables.select([1, 2], ["a"])
    for error in (ValueError, TypeError):
        with pytest.raises(error) as caught:
            (tables.to_1d if error is ValueError else tables.column)(np.zeros((2, 2)), "a")
        assert "\n" not in str(caught.value)
