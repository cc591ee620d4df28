"""Reading the prediction log: filters, pruning, schema promotion, and DuckDB/Spark on the same files.

The oracles are the recorded batches themselves and DuckDB's (or Spark's) own Parquet reader.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perennia.data.predlog import (
    BASE_COLUMNS,
    PredictionLogWriter,
    iter_predictions,
    read_predictions,
)
from tests.data.test_predlog_writer import DAY, T0, location, make_batch, quiet_writer

__all__ = ["location"]  # the shared fixture, imported so pytest finds it here too


def write_versions(location: str) -> dict[str, list[str]]:
    """Log two model versions with different inputs over two days; return ids per case."""
    v1 = make_batch(3, version=1, inputs={"a": np.array([1, 2, 3]), "b": ["x", "y", "z"]})
    v2 = make_batch(2, version=2, inputs={"a": np.array([0.5, 1.5]), "c": [True, False]})
    v2.time_ms = T0 + DAY
    canary = make_batch(2, variant="canary", version=2, inputs={"a": np.array([7.0, 8.0])})
    other = make_batch(4, deployment="churn")
    with quiet_writer(location) as writer:
        for batch in (v1, v2, canary, other):
            writer.record(batch)
            writer.flush()
    return {
        "v1": v1.prediction_ids,
        "v2": v2.prediction_ids,
        "canary": canary.prediction_ids,
        "churn": other.prediction_ids,
    }


def test_versions_with_different_inputs_are_read_as_one_promoted_table(location: str) -> None:
    ids = write_versions(location)
    table = read_predictions(location, deployment="fraud")
    assert table.schema.field("input.a").type == pa.float64()
    rows = {r["prediction_id"]: r for r in table.to_pylist()}
    assert set(rows) == set(ids["v1"] + ids["v2"] + ids["canary"])
    assert [rows[i]["input.a"] for i in ids["v1"]] == [1.0, 2.0, 3.0]
    assert [rows[i]["input.b"] for i in ids["v2"]] == [None, None]
    assert [rows[i]["input.c"] for i in ids["v1"]] == [None] * 3
    assert [rows[i]["input.c"] for i in ids["v2"]] == [True, False]


def test_conflicting_input_types_are_read_as_text(tmp_path: Path) -> None:
    location = str(tmp_path / "log")
    with quiet_writer(location) as writer:
        writer.record(make_batch(2, version=1, inputs={"zip": np.array([75001, 69001])}))
        writer.flush()
        writer.record(make_batch(1, version=2, inputs={"zip": ["2A004"]}))
    table = read_predictions(location)
    assert sorted(table["input.zip"].to_pylist()) == ["2A004", "69001", "75001"]


def test_numbers_of_any_width_share_one_type_across_files(tmp_path: Path) -> None:
    location = str(tmp_path / "log")
    with quiet_writer(location) as writer:
        for values in (np.array([3], dtype=np.int8), [4], np.array([4.5], dtype=np.float32)):
            writer.record(make_batch(1, inputs={"x": values}, outputs={"y": values}))
            writer.flush()
    import pyarrow.parquet as pq

    parts = sorted(Path(location).rglob("part-*.parquet"))
    assert len(parts) == 3
    for part in parts:
        schema = pq.read_schema(part)
        assert schema.field("input.x").type == schema.field("output.y").type == pa.float64()
    assert sorted(read_predictions(location)["input.x"].to_pylist()) == [3.0, 4.0, 4.5]


def test_filters_select_deployment_window_and_variant(location: str) -> None:
    ids = write_versions(location)
    assert set(read_predictions(location)["prediction_id"].to_pylist()) == {
        i for group in ids.values() for i in group
    }
    assert (
        read_predictions(location, deployment="churn")["prediction_id"].to_pylist() == ids["churn"]
    )
    window = read_predictions(location, since_ms=T0 + 1, until_ms=T0 + DAY + 1)
    assert window["prediction_id"].to_pylist() == ids["v2"]
    before = read_predictions(location, deployment="fraud", until_ms=T0 + DAY)
    assert set(before["prediction_id"].to_pylist()) == set(ids["v1"] + ids["canary"])
    canary = read_predictions(location, variant="canary", columns=["prediction_id", "input.a"])
    assert canary.column_names == ["prediction_id", "input.a"]
    assert canary.to_pylist() == [
        {"prediction_id": i, "input.a": a} for i, a in zip(ids["canary"], [7.0, 8.0], strict=True)
    ]


def test_projection_keeps_requested_columns_absent_from_older_files(tmp_path: Path) -> None:
    location = str(tmp_path / "log")
    ids = write_versions(location)
    table = read_predictions(location, deployment="fraud", columns=["input.c", "prediction_id"])
    assert table.column_names == ["input.c", "prediction_id"]
    values = dict(
        zip(table["prediction_id"].to_pylist(), table["input.c"].to_pylist(), strict=True)
    )
    assert [values[i] for i in ids["v1"] + ids["v2"]] == [None] * 3 + [True, False]
    empty = read_predictions(location, deployment="none-yet", columns=["input.c"])
    assert empty.num_rows == 0 and empty.column_names == ["input.c"]


def test_partitions_are_pruned_before_files_are_opened(tmp_path: Path) -> None:
    location = tmp_path / "log"
    ids = write_versions(str(location))
    # Garbage named like a part: reading it fails, so only pruning can keep a read from it.
    for folder in ("deployment=churn/date=2023-11-14", "deployment=fraud/date=2023-11-16"):
        (location / "predictions" / folder).mkdir(parents=True, exist_ok=True)
        (location / "predictions" / folder / f"part-{T0 + 2 * DAY}-{'0' * 32}.parquet").write_bytes(
            b"not parquet"
        )
    fraud = read_predictions(str(location), deployment="fraud", until_ms=T0 + 2 * DAY)
    assert len(fraud) == len(ids["v1"] + ids["v2"] + ids["canary"])
    with pytest.raises(pa.ArrowInvalid):
        read_predictions(str(location))


def test_temp_and_foreign_files_are_never_read(tmp_path: Path) -> None:
    location = tmp_path / "log"
    batch = make_batch(2)
    with PredictionLogWriter(str(location)) as writer:
        writer.record(batch)
    folder = next((location / "predictions").rglob("date=*"))
    (folder / f".part-{T0}-{'a' * 32}.parquet.1234abcd.tmp").write_bytes(b"half a file")
    (folder / "_SUCCESS").write_bytes(b"")
    (folder / "notes.txt").write_text("hello")
    assert read_predictions(str(location))["prediction_id"].to_pylist() == batch.prediction_ids


def test_streaming_yields_the_same_rows_as_reading(location: str) -> None:
    write_versions(location)
    batches = list(iter_predictions(location, deployment="fraud", batch_size=2))
    assert all(b.num_rows <= 2 for b in batches)
    streamed = [i for b in batches for i in b.column("prediction_id").to_pylist()]
    read = read_predictions(location, deployment="fraud")["prediction_id"].to_pylist()
    assert streamed == read
    only = list(iter_predictions(location, variant="canary", columns=["time_ms"]))
    assert [b.schema.names for b in only] == [["time_ms"]] and only[0].num_rows == 2


def test_an_empty_log_reads_as_an_empty_table_with_the_fixed_columns(tmp_path: Path) -> None:
    table = read_predictions(str(tmp_path / "nothing-here"))
    assert table.num_rows == 0 and tuple(table.column_names) == BASE_COLUMNS
    assert list(iter_predictions(str(tmp_path / "nothing-here"))) == []


def test_duckdb_reads_the_same_rows_through_hive_partitions(tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    location = str(tmp_path / "log")
    write_versions(location)
    ours = read_predictions(location).to_pylist()
    relation = duckdb.sql(
        f"""SELECT *, strftime(date, '%Y-%m-%d') AS day FROM read_parquet(
            '{location}/predictions/**/*.parquet', hive_partitioning=true, union_by_name=true)"""
    )
    theirs = {r["prediction_id"]: r for r in relation.arrow().read_all().to_pylist()}
    assert len(theirs) == len(ours)
    for row in ours:
        other = theirs[row["prediction_id"]]
        assert {k: other[k] for k in row} == row
        day = np.datetime64(row["time_ms"], "ms").astype("datetime64[D]")
        assert other["day"] == str(day)
    counts = duckdb.sql(
        f"""SELECT deployment, count(*) FROM read_parquet('{location}/predictions/**/*.parquet',
            hive_partitioning=true, union_by_name=true) GROUP BY ALL ORDER BY 1"""
    ).fetchall()
    assert counts == [("churn", 4), ("fraud", 7)]


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::FutureWarning")  # pyspark's note about pandas 3
def test_spark_reads_the_log_with_partition_discovery(tmp_path: Path) -> None:
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.skip("Spark needs a Java runtime")
    from pyspark.sql import SparkSession

    location = str(tmp_path / "log")
    ids = write_versions(location)
    spark = (
        SparkSession.builder.master("local[1]")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    try:
        frame = spark.read.option("mergeSchema", "true").parquet(f"{location}/predictions")
        fraud = frame.where("deployment = 'fraud' AND `input.c` IS NOT NULL")
        rows = fraud.select("prediction_id", "date").collect()
    finally:
        spark.stop()
    assert sorted(r["prediction_id"] for r in rows) == sorted(ids["v2"])
    assert {str(r["date"]) for r in rows} == {"2023-11-15"}


_columns = st.dictionaries(
    st.text("abcdefgh_", min_size=1, max_size=6),
    st.sampled_from(["int", "float", "text", "bool"]),
    min_size=1,
    max_size=4,
)


def _values(kind: str, n: int) -> st.SearchStrategy:
    """Return a strategy for one column of `n` values of a kind, in the form a server passes."""
    if kind == "int":
        # Numbers are logged as float64: integers are exact up to 2**53.
        ints = st.lists(st.integers(-(2**53), 2**53), min_size=n, max_size=n)
        return ints.map(lambda v: np.array(v, dtype=np.int64))
    if kind == "float":
        floats = st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=n, max_size=n)
        return floats.map(lambda v: np.array(v, dtype=np.float64))
    if kind == "bool":
        return st.lists(st.booleans(), min_size=n, max_size=n)
    return st.lists(st.none() | st.text(max_size=12), min_size=n, max_size=n)


@st.composite
def _batches(draw: st.DrawFn) -> list[tuple[dict, int]]:
    kinds = draw(_columns)
    batches = []
    for _ in range(draw(st.integers(1, 3))):
        n = draw(st.integers(1, 6))
        batches.append(({name: draw(_values(kind, n)) for name, kind in kinds.items()}, n))
    return batches


def _same(left: object, right: object) -> bool:
    if isinstance(left, float) and isinstance(right, float) and math.isnan(left):
        return math.isnan(right)
    return left == right


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_batches())
def test_random_columns_round_trip_with_their_values(batches: list[tuple[dict, int]]) -> None:
    folder = tempfile.mkdtemp()
    try:
        recorded = []
        with PredictionLogWriter(folder) as writer:
            for inputs, n in batches:
                batch = make_batch(n, inputs=inputs, outputs={"prediction": np.zeros(n)})
                assert writer.record(batch)
                recorded.append((batch, inputs))
        table = read_predictions(folder)
        assert table["prediction_id"].to_pylist() == [
            i for batch, _ in recorded for i in batch.prediction_ids
        ]
        for name in recorded[0][1]:
            expected = [v.item() if hasattr(v, "item") else v for _, c in recorded for v in c[name]]
            actual = table[f"input.{name}"].to_pylist()
            assert all(_same(a, b) for a, b in zip(expected, actual, strict=True)), name
            assert len(actual) == len(expected)
    finally:
        shutil.rmtree(folder)
