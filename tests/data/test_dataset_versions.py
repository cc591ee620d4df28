"""`perennia.data`: register, load, alias, dedup and tamper checks on SQLite/PostgreSQL, folder/S3."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import perennia
from perennia.errors import IntegrityError, InvalidInput, NotFound


def _frame(rows: int, seed: int = 0, start: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": np.arange(start, start + rows, dtype="int64"),
            "amount": rng.normal(100, 15, rows),
            "country": rng.choice(["FR", "DE", "ES", None], rows),
            "label": rng.integers(0, 2, rows).astype("int64"),
        }
    )


@pytest.fixture(params=["folder", "s3"])
def storage(request, tracking, tmp_path) -> str:
    """Return where dataset blobs go: the default folder, or a bucket on the moto server."""
    if request.param == "folder":
        return str(tmp_path / "artifacts" / "datasets")
    bucket = request.getfixturevalue("s3_bucket")
    return f"s3://{bucket}/datasets"


def test_register_load_and_a_second_version_stores_only_what_changed(storage) -> None:
    first = _frame(400_000)
    v1 = perennia.data.register("payments", first, storage_uri=storage, tags={"team": "risk"})
    assert (v1.ref, v1.kind, v1.row_count, v1.tags) == (
        "payments@1",
        "table",
        400_000,
        {"team": "risk"},
    )
    assert v1.new_bytes >= v1.size_bytes > 0  # the data, and the manifest naming it
    pd.testing.assert_frame_equal(perennia.data.load("payments@1"), first)

    grown = pd.concat([first, _frame(4_000, seed=1, start=400_000)], ignore_index=True)
    v2 = perennia.data.register("payments", grown, storage_uri=storage)
    assert v2.version == 2 and v2.row_count == 404_000
    # 1% more rows: most chunks are the first version's, so little is written again.
    assert v2.new_bytes < 0.1 * v2.size_bytes
    pd.testing.assert_frame_equal(perennia.data.load("payments"), grown)  # latest
    same = perennia.data.register("payments", grown, storage_uri=storage)
    assert same.digest == v2.digest and same.new_bytes == 0 and same.version == 3


def test_aliases_tags_and_version_listing(tracking) -> None:
    for seed in range(3):
        perennia.data.register("labels", _frame(50, seed))
    perennia.data.set_alias("labels@2", "golden")
    perennia.data.set_tag("labels@2", "reviewed", "yes")
    golden = perennia.data.get("labels@golden")
    assert (golden.version, golden.tags, golden.aliases) == (2, {"reviewed": "yes"}, ["golden"])
    perennia.data.set_alias("labels@3", "golden")  # moves
    assert perennia.data.get("labels@golden").version == 3
    assert [v.version for v in perennia.data.versions("labels")] == [3, 2, 1]
    assert [v.ref for v in perennia.data.list_datasets()] == ["labels@3"]
    perennia.data.delete_alias("labels", "golden")
    with pytest.raises(NotFound):
        perennia.data.get("labels@golden")
    with pytest.raises(InvalidInput):
        perennia.data.get("labels@")


def test_a_tampered_snapshot_is_refused_on_load(tracking, tmp_path) -> None:
    storage = tmp_path / "datasets"
    version = perennia.data.register("small", _frame(1_000), storage_uri=str(storage))
    blobs = [p for p in (storage / "blobs").rglob("*") if p.is_file()]
    data_blob = max(blobs, key=lambda p: p.stat().st_size)  # the Parquet chunk, not the manifest
    raw = bytearray(data_blob.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    data_blob.write_bytes(bytes(raw))
    with pytest.raises(IntegrityError):
        perennia.data.load(version.ref)


def test_iter_batches_streams_a_version_and_records_the_read(tracking, tmp_path) -> None:
    frame = _frame(2_000)
    version = perennia.data.register("stream", frame)
    with perennia.start_run() as run:
        batches = perennia.data.iter_batches(version.ref, columns=["id", "amount"])
        read = pd.concat([b.to_pandas() for b in batches], ignore_index=True)
    pd.testing.assert_frame_equal(read, frame[["id", "amount"]])
    inputs = perennia.get_run(run.info.run_id).inputs.dataset_inputs
    assert [(i.dataset.source, i.context) for i in inputs] == [("stream@1", "training")]
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("a")
    files = perennia.data.register("docs", tmp_path / "docs")
    with pytest.raises(InvalidInput, match="folder of files"):
        perennia.data.iter_batches(files.ref)  # refused on the call, not on the first batch


def test_a_folder_of_files_round_trips_and_dedups_per_file(tracking, tmp_path) -> None:
    source = tmp_path / "images"
    for i in range(200):
        (source / f"class{i % 4}").mkdir(parents=True, exist_ok=True)
        (source / f"class{i % 4}" / f"img{i}.bin").write_bytes(
            np.random.default_rng(i).bytes(20_000)
        )
    v1 = perennia.data.register("images", source)
    (source / "class0" / "img0.bin").write_bytes(b"changed")
    (source / "class1" / "new.bin").write_bytes(b"added")
    v2 = perennia.data.register("images", source)
    assert (v1.kind, v1.file_count, v2.file_count) == ("files", 200, 201)
    assert v2.new_bytes < 0.05 * v2.size_bytes
    fetched = Path(perennia.data.load(v2.ref, target=tmp_path / "copy"))
    assert sorted(
        p.relative_to(fetched).as_posix() for p in fetched.rglob("*") if p.is_file()
    ) == sorted(p.relative_to(source).as_posix() for p in source.rglob("*") if p.is_file())
    assert (fetched / "class1" / "new.bin").read_bytes() == b"added"
    changes = perennia.data.diff(v1.ref, v2.ref)
    assert changes["added"] == ["class1/new.bin"] and changes["changed"] == ["class0/img0.bin"]


def test_bad_sources_and_references_get_clear_errors(tracking, tmp_path) -> None:
    with pytest.raises(InvalidInput, match="source"):
        perennia.data.register("bad", 42)
    with pytest.raises(NotFound):
        perennia.data.register("bad", tmp_path / "missing.parquet")
    with pytest.raises(NotFound):
        perennia.data.load("nothing@1")
    with pytest.raises(NotFound):
        perennia.data.register("child", _frame(5), parents=["nothing@1"])
    assert perennia.data.list_datasets() == []


def test_every_change_is_an_event_newest_first(tracking) -> None:
    perennia.data.register("events", _frame(10))
    perennia.data.set_tag("events@1", "k", "v")
    perennia.data.set_alias("events@1", "golden")
    actions = [e.action for e in perennia.data.history("events")]
    assert actions == ["set_alias", "set_tag", "register"]


def test_a_sql_query_and_an_s3_prefix_are_recorded_as_sources(
    tracking, tmp_path, s3_bucket
) -> None:
    import sqlite3

    import boto3

    database = tmp_path / "shop.db"
    with sqlite3.connect(database) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER, total REAL)")
        conn.executemany("INSERT INTO orders VALUES (?, ?)", [(i, i * 1.5) for i in range(30)])
    query = "SELECT id, total FROM orders WHERE total > 10"
    version = perennia.data.register("orders", f"sqlite:///{database}", query=query)
    assert version.source["type"] == "sql" and version.source["query"] == query
    assert version.source["queried_at"] > 0 and version.row_count == 23
    assert perennia.data.load(version.ref)["id"].min() == 7

    s3 = boto3.client("s3")
    for i in range(3):
        s3.put_object(Bucket=s3_bucket, Key=f"raw/docs/{i}.txt", Body=f"document {i}".encode())
    docs = perennia.data.register("docs", f"s3://{s3_bucket}/raw/docs")
    assert (docs.kind, docs.file_count, docs.source["type"]) == ("files", 3, "s3")
    folder = Path(perennia.data.load(docs.ref, target=tmp_path / "docs"))
    assert (folder / "2.txt").read_text() == "document 2"
