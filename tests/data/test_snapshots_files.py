"""Folder snapshots: any files round-trip byte for byte, with packing, symlink rules and diffs."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from perennia.artifacts.local import LocalBlobStore
from perennia.data.snapshots import diff_manifests, fetch_files, read_manifest, write_snapshot
from perennia.data.snapshots.packing import SMALL_FILE
from perennia.errors import InvalidInput
from tests.data.snapshot_support import make_tree, read_tree


@pytest.fixture
def blobs(tmp_path: Path) -> LocalBlobStore:
    """Return an empty local blob store."""
    return LocalBlobStore(tmp_path / "store")


def sample_files() -> dict[str, bytes]:
    """Return a folder's worth of files: nested, empty, unicode-named, duplicated and one big."""
    return {
        "README.txt": b"hello\n",
        "images/cat.png": bytes(range(256)) * 40,
        "images/deep/er/dog.png": os.urandom(5000),
        "images/copy-of-cat.png": bytes(range(256)) * 40,
        "empty.txt": b"",
        "also/empty": b"",
        "données/été ☀.txt": "unicode ✓".encode(),
        "big/model.bin": os.urandom(SMALL_FILE + 12345),
    }


def test_folder_round_trips_byte_for_byte(blobs: LocalBlobStore, tmp_path: Path) -> None:
    files = sample_files()
    source = make_tree(tmp_path / "src", files)
    snapshot = write_snapshot(blobs, source)
    assert snapshot.kind == "files" and snapshot.schema == [] and snapshot.row_count is None
    assert snapshot.file_count == len(files)
    assert snapshot.size_bytes == sum(len(d) for d in files.values())
    target = fetch_files(blobs, snapshot.digest, tmp_path / "out", workers=2)
    assert read_tree(target) == files
    assert not [p for p in target.iterdir() if p.name.startswith(".perennia-fetch-")]


def test_manifest_lists_paths_with_slashes_and_packs_small_files(
    blobs: LocalBlobStore, tmp_path: Path
) -> None:
    files = sample_files()
    manifest = read_manifest(blobs, write_snapshot(blobs, make_tree(tmp_path / "s", files)).digest)
    entries = {f.path: f for f in manifest.files}
    assert sorted(entries) == sorted(files)
    big = entries["big/model.bin"]
    assert (big.blob, big.offset, big.length) == (big.sha256, 0, len(files["big/model.bin"]))
    small = [f for f in manifest.files if f.size < SMALL_FILE]
    assert len({f.blob for f in small}) == 1  # one pack holds every small file
    # Identical files in one snapshot are stored once: both names point at the same bytes.
    cat, copy = entries["images/cat.png"], entries["images/copy-of-cat.png"]
    assert (cat.blob, cat.offset) == (copy.blob, copy.offset)


def test_small_pack_size_gives_several_packs_that_round_trip(
    blobs: LocalBlobStore, tmp_path: Path
) -> None:
    files = {f"f{i:03d}.bin": os.urandom(1000 + i) for i in range(60)}
    source = make_tree(tmp_path / "src", files)
    snapshot = write_snapshot(blobs, source, pack_bytes=10_000)
    manifest = read_manifest(blobs, snapshot.digest)
    assert len({f.blob for f in manifest.files}) >= 6
    assert read_tree(fetch_files(blobs, snapshot.digest, tmp_path / "out")) == files


def test_identical_content_gives_an_identical_digest(blobs: LocalBlobStore, tmp_path: Path) -> None:
    files = sample_files()
    first = write_snapshot(blobs, make_tree(tmp_path / "a", files))
    second = write_snapshot(blobs, make_tree(tmp_path / "b", files), workers=1)
    assert first.digest == second.digest
    assert second.new_bytes == 0


def test_parquet_folder_is_stored_as_files_when_asked(
    blobs: LocalBlobStore, tmp_path: Path
) -> None:
    folder = tmp_path / "parts"
    folder.mkdir()
    pd.DataFrame({"a": [1, 2]}).to_parquet(folder / "p0.parquet")
    snapshot = write_snapshot(blobs, folder, kind="files")
    assert snapshot.kind == "files" and snapshot.file_count == 1
    with pytest.raises(InvalidInput, match="kind='table' needs a folder of .parquet files"):
        write_snapshot(blobs, make_tree(tmp_path / "mixed", {"a.txt": b"x"}), kind="table")


def test_symlink_escaping_the_folder_is_refused(blobs: LocalBlobStore, tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    source = make_tree(tmp_path / "src", {"a.txt": b"a"})
    (source / "leak.txt").symlink_to(outside)
    with pytest.raises(InvalidInput, match="leak.txt.*outside"):
        write_snapshot(blobs, source)


def test_symlink_inside_is_stored_as_a_copy_and_folders_links_are_skipped(
    blobs: LocalBlobStore, tmp_path: Path
) -> None:
    source = make_tree(tmp_path / "src", {"data/a.txt": b"a"})
    (source / "alias.txt").symlink_to(source / "data" / "a.txt")
    (source / "loop").symlink_to(source)  # a folder link would recurse forever if followed
    snapshot = write_snapshot(blobs, source)
    fetched = read_tree(fetch_files(blobs, snapshot.digest, tmp_path / "out"))
    assert fetched == {"data/a.txt": b"a", "alias.txt": b"a"}


def test_diff_lists_added_removed_and_changed_paths(blobs: LocalBlobStore, tmp_path: Path) -> None:
    before = {"same.txt": b"1", "gone.txt": b"2", "edit.txt": b"3"}
    after = {"same.txt": b"1", "edit.txt": b"33", "new/one.txt": b"4"}
    a = read_manifest(blobs, write_snapshot(blobs, make_tree(tmp_path / "a", before)).digest)
    b = read_manifest(blobs, write_snapshot(blobs, make_tree(tmp_path / "b", after)).digest)
    assert diff_manifests(a, b) == {
        "added": ["new/one.txt"],
        "removed": ["gone.txt"],
        "changed": ["edit.txt"],
    }


def test_diff_of_tables_names_columns_and_chunks(blobs: LocalBlobStore, tmp_path: Path) -> None:
    a = read_manifest(blobs, write_snapshot(blobs, pd.DataFrame({"x": [1], "y": [1.0]})).digest)
    b = read_manifest(blobs, write_snapshot(blobs, pd.DataFrame({"x": [1.5], "z": [1]})).digest)
    diff = diff_manifests(a, b)
    assert diff["added_columns"] == ["z"] and diff["removed_columns"] == ["y"]
    assert diff["changed_columns"] == ["x"]
    assert diff["added_chunks"] == [b.chunks[0].blob]
    files = read_manifest(
        blobs, write_snapshot(blobs, make_tree(tmp_path / "f", {"a": b"1"})).digest
    )
    with pytest.raises(InvalidInput, match="cannot diff"):
        diff_manifests(a, files)


def test_fetch_replaces_named_files_and_leaves_others(
    blobs: LocalBlobStore, tmp_path: Path
) -> None:
    snapshot = write_snapshot(blobs, make_tree(tmp_path / "src", {"a.txt": b"new"}))
    target = make_tree(tmp_path / "out", {"a.txt": b"old", "mine.txt": b"keep"})
    fetch_files(blobs, snapshot.digest, target)
    assert read_tree(target) == {"a.txt": b"new", "mine.txt": b"keep"}


def test_empty_folder_is_a_snapshot_of_no_files(blobs: LocalBlobStore, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    snapshot = write_snapshot(blobs, tmp_path / "empty")
    assert (snapshot.kind, snapshot.file_count, snapshot.size_bytes) == ("files", 0, 0)
    assert read_tree(fetch_files(blobs, snapshot.digest, tmp_path / "out")) == {}


def test_progress_counts_hashed_files(blobs: LocalBlobStore, tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    files = {f"f{i}.txt": b"x" * i for i in range(600)}
    write_snapshot(
        blobs, make_tree(tmp_path / "src", files), progress=lambda d, t: calls.append((d, t))
    )
    assert calls[-1] == (600, 600) and len(calls) >= 3
