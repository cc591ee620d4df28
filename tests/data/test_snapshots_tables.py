"""Table snapshots round-trip exactly: pandas, polars, Arrow, CSV, Parquet files and folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from perennia.artifacts.local import LocalBlobStore
from perennia.data.snapshots import (
    fetch_files,
    iter_batches,
    load_table,
    read_manifest,
    write_snapshot,
)
from perennia.errors import InvalidInput, NotFound
from tests.data.snapshot_support import SMALL_CHUNKS


@pytest.fixture
def blobs(tmp_path: Path) -> LocalBlobStore:
    """Return an empty local blob store."""
    return LocalBlobStore(tmp_path / "store")


def mixed_frame(rows: int = 3000, seed: int = 0) -> pd.DataFrame:
    """Return a frame with the dtypes a dataset usually holds, nulls included."""
    rng = np.random.default_rng(seed)
    floats = rng.normal(size=rows)
    floats[::7] = np.nan
    strings = pd.Series([f"s{i % 97}" for i in range(rows)])
    strings[::11] = None
    return pd.DataFrame(
        {
            "id": np.arange(rows, dtype=np.int64),
            "small": rng.integers(-100, 100, rows).astype(np.int8),
            "x": floats,
            "name": strings,
            "flag": rng.random(rows) < 0.5,
            "when": pd.date_range("2024-01-01", periods=rows, freq="min", tz="Europe/Paris"),
            "color": pd.Categorical(
                rng.choice(["red", "green", "blue"], rows),
                categories=["red", "green", "blue", "unused"],
            ),
            "maybe": pd.array([None if i % 5 == 0 else i for i in range(rows)], dtype="Int64"),
        }
    )


def test_pandas_frame_round_trips_rows_columns_and_dtypes(blobs: LocalBlobStore) -> None:
    frame = mixed_frame()
    snapshot = write_snapshot(blobs, frame, chunk_rows=SMALL_CHUNKS)
    assert snapshot.kind == "table" and snapshot.row_count == len(frame)
    assert snapshot.file_count > 1  # several chunks, so the round trip crosses chunk boundaries
    assert [c["name"] for c in snapshot.schema] == list(frame.columns)
    pd.testing.assert_frame_equal(load_table(blobs, snapshot.digest), frame)


def test_non_default_index_is_kept_and_a_range_index_is_not(blobs: LocalBlobStore) -> None:
    frame = mixed_frame(200).set_index("name")
    back = load_table(blobs, write_snapshot(blobs, frame).digest)
    pd.testing.assert_frame_equal(back, frame)
    shifted = mixed_frame(50)
    shifted.index = pd.RangeIndex(100, 150)
    snapshot = write_snapshot(blobs, shifted)
    pd.testing.assert_frame_equal(
        load_table(blobs, snapshot.digest), shifted.reset_index(drop=True)
    )


def test_polars_frame_round_trips(blobs: LocalBlobStore) -> None:
    frame = pl.DataFrame(
        {"a": [1, None, 3] * 400, "b": ["x", "y", None] * 400, "c": [0.5, float("nan"), None] * 400}
    )
    snapshot = write_snapshot(blobs, frame, chunk_rows=SMALL_CHUNKS)
    back = load_table(blobs, snapshot.digest, to="polars")
    assert back.schema == frame.schema
    assert back.equals(frame, null_equal=True)


def test_arrow_table_round_trips_and_columns_select(blobs: LocalBlobStore) -> None:
    table = pa.table({"k": pa.array(range(1000)), "v": pa.array([str(i) for i in range(1000)])})
    snapshot = write_snapshot(blobs, table, chunk_rows=SMALL_CHUNKS)
    assert load_table(blobs, snapshot.digest, to="arrow").equals(table)
    assert load_table(blobs, snapshot.digest, to="arrow", columns=["v"]).equals(table.select(["v"]))
    assert list(load_table(blobs, snapshot.digest, columns=["k"]).columns) == ["k"]


def test_empty_frame_keeps_its_columns_and_dtypes(blobs: LocalBlobStore) -> None:
    # A categorical's categories live in the chunks' dictionaries, so an empty table has none.
    frame = mixed_frame(0).drop(columns=["color"])
    snapshot = write_snapshot(blobs, frame)
    assert snapshot.row_count == 0 and snapshot.file_count == 0
    pd.testing.assert_frame_equal(load_table(blobs, snapshot.digest), frame)


def test_parquet_file_csv_file_and_parquet_folder_are_read_as_tables(
    blobs: LocalBlobStore, tmp_path: Path
) -> None:
    frame = mixed_frame(2500).drop(columns=["color", "maybe"])
    parquet = tmp_path / "data.parquet"
    frame.to_parquet(parquet, row_group_size=300)
    pd.testing.assert_frame_equal(load_table(blobs, write_snapshot(blobs, parquet).digest), frame)

    folder = tmp_path / "parts"
    folder.mkdir()
    for i, start in enumerate(range(0, 2500, 1000)):
        frame.iloc[start : start + 1000].to_parquet(folder / f"p{i}.parquet", index=False)
    snapshot = write_snapshot(blobs, folder, chunk_rows=SMALL_CHUNKS)
    assert snapshot.kind == "table"
    pd.testing.assert_frame_equal(load_table(blobs, snapshot.digest), frame)

    csv = tmp_path / "data.csv"
    plain = pd.DataFrame({"a": np.arange(500), "b": np.linspace(0, 1, 500), "c": ["t"] * 500})
    plain.to_csv(csv, index=False)
    back = load_table(blobs, write_snapshot(blobs, csv).digest)
    pd.testing.assert_frame_equal(back, plain)


def test_same_rows_in_different_batches_give_the_same_digest(blobs: LocalBlobStore) -> None:
    table = pa.Table.from_pandas(mixed_frame(), preserve_index=False)
    rebatched = pa.Table.from_batches(table.to_batches(max_chunksize=37))
    first = write_snapshot(blobs, table, chunk_rows=SMALL_CHUNKS)
    second = write_snapshot(blobs, rebatched, chunk_rows=SMALL_CHUNKS)
    assert first.digest == second.digest
    assert second.new_bytes == 0  # every chunk and the manifest were already stored


def test_chunks_respect_the_row_bounds(blobs: LocalBlobStore) -> None:
    snapshot = write_snapshot(blobs, mixed_frame(20_000), chunk_rows=SMALL_CHUNKS)
    rows = [chunk.rows for chunk in read_manifest(blobs, snapshot.digest).chunks]
    assert sum(rows) == 20_000
    assert all(64 <= r <= 2048 for r in rows[:-1]) and 1 <= rows[-1] <= 2048


def test_iter_batches_streams_every_row_in_order(blobs: LocalBlobStore) -> None:
    frame = mixed_frame(5000)
    snapshot = write_snapshot(blobs, frame, chunk_rows=SMALL_CHUNKS)
    batches = list(iter_batches(blobs, snapshot.digest, columns=["id", "x"]))
    assert len(batches) >= snapshot.file_count
    ids = np.concatenate([b.column("id").to_numpy() for b in batches])
    np.testing.assert_array_equal(ids, frame["id"].to_numpy())


def test_iter_batches_checks_its_columns_on_the_call(blobs: LocalBlobStore) -> None:
    snapshot = write_snapshot(blobs, mixed_frame(100))
    with pytest.raises(InvalidInput, match="'nope' is not in snapshot"):
        iter_batches(blobs, snapshot.digest, columns=["id", "nope"])  # not iterated


def test_fetch_files_writes_a_table_as_parquet_parts(blobs: LocalBlobStore, tmp_path: Path) -> None:
    frame = mixed_frame(3000)
    snapshot = write_snapshot(blobs, frame, chunk_rows=SMALL_CHUNKS)
    target = fetch_files(blobs, snapshot.digest, tmp_path / "out")
    parts = sorted(target.iterdir())
    assert [p.name for p in parts][:2] == ["part-00000.parquet", "part-00001.parquet"]
    assert len(parts) == snapshot.file_count
    back = pq.read_table(parts).to_pandas()
    pd.testing.assert_frame_equal(back, frame)


@pytest.mark.parametrize(
    "source",
    [42, [1, 2, 3], {"a": [1]}, np.zeros((2, 2)), b"bytes"],
    ids=["int", "list", "dict", "ndarray", "bytes"],
)
def test_unsupported_sources_are_refused_naming_the_type(blobs: LocalBlobStore, source) -> None:
    with pytest.raises(InvalidInput, match=type(source).__name__):
        write_snapshot(blobs, source)


def test_bad_arguments_are_refused(blobs: LocalBlobStore, tmp_path: Path) -> None:
    frame = mixed_frame(10)
    with pytest.raises(InvalidInput, match="kind"):
        write_snapshot(blobs, frame, kind="rows")
    with pytest.raises(InvalidInput, match="kind='files' needs a folder"):
        write_snapshot(blobs, frame, kind="files")
    with pytest.raises(InvalidInput, match="chunk_rows"):
        write_snapshot(blobs, frame, chunk_rows=(10, 5, 20))
    with pytest.raises(InvalidInput, match="workers"):
        write_snapshot(blobs, frame, workers=0)
    with pytest.raises(NotFound, match="does not exist"):
        write_snapshot(blobs, tmp_path / "missing.parquet")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(InvalidInput, match=r"not \.parquet or \.csv"):
        write_snapshot(blobs, tmp_path / "notes.txt")
    with pytest.raises(InvalidInput, match="mixed"):
        write_snapshot(blobs, pd.DataFrame({"mixed": [1, "a"]}))


def test_load_arguments_are_checked(blobs: LocalBlobStore) -> None:
    digest = write_snapshot(blobs, mixed_frame(10)).digest
    with pytest.raises(InvalidInput, match="to='numpy'"):
        load_table(blobs, digest, to="numpy")
    with pytest.raises(InvalidInput, match="'nope' is not in snapshot"):
        load_table(blobs, digest, columns=["id", "nope"])
    with pytest.raises(InvalidInput, match="list of column names"):
        load_table(blobs, digest, columns="id")
    with pytest.raises(InvalidInput, match="sha256"):
        load_table(blobs, "not-a-digest")


def test_progress_reports_rows_up_to_the_total(blobs: LocalBlobStore) -> None:
    calls: list[tuple[int, int]] = []
    frame = mixed_frame(5000)
    write_snapshot(
        blobs, frame, chunk_rows=SMALL_CHUNKS, progress=lambda d, t: calls.append((d, t))
    )
    assert calls[-1] == (5000, 5000)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_non_string_column_names_come_back_as_strings(blobs: LocalBlobStore) -> None:
    frame = pd.DataFrame({1: [1, 2], 2: ["a", "b"]})
    back = load_table(blobs, write_snapshot(blobs, frame).digest)
    assert list(back.columns) == ["1", "2"]
    with pytest.raises(InvalidInput, match="Duplicate column names"):
        write_snapshot(blobs, pd.DataFrame([[1, 2]], columns=["a", "a"]))
