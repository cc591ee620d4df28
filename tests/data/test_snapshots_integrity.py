"""Reading verifies everything: tampered blobs, missing blobs and hostile manifests are refused."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from perennia.artifacts.local import LocalBlobStore
from perennia.data.snapshots import (
    fetch_files,
    iter_batches,
    load_table,
    read_manifest,
    write_snapshot,
)
from perennia.errors import IntegrityError, InvalidArtifactPath, InvalidInput, NotFound
from tests.data.snapshot_support import (
    blob_path,
    flip_byte,
    make_tree,
    put_bytes,
    put_json,
    read_tree,
)

EMPTY_SHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


@pytest.fixture
def blobs(tmp_path: Path) -> LocalBlobStore:
    """Return an empty local blob store."""
    return LocalBlobStore(tmp_path / "store")


def files_manifest(paths: list[str], blob: str, sizes: list[int], shas: list[str]) -> dict:
    """Return a hand-made files manifest whose files all live in `blob`, back to back."""
    offsets = [sum(sizes[:i]) for i in range(len(sizes))]
    return {
        "format": "perennia.snapshot",
        "version": 1,
        "kind": "files",
        "size_bytes": sum(sizes),
        "blobs": [blob],
        "files": {
            "path": paths,
            "size": sizes,
            "sha256": shas,
            "blob": [0] * len(paths),
            "offset": offsets,
        },
    }


def test_tampered_chunk_is_refused_on_load_stream_and_fetch(
    blobs: LocalBlobStore, tmp_path: Path
) -> None:
    snapshot = write_snapshot(blobs, pd.DataFrame({"a": range(100)}))
    chunk = read_manifest(blobs, snapshot.digest).chunks[0].blob
    flip_byte(blob_path(blobs, chunk), 20)
    for read in (
        lambda: load_table(blobs, snapshot.digest),
        lambda: list(iter_batches(blobs, snapshot.digest)),
        lambda: fetch_files(blobs, snapshot.digest, tmp_path / "out"),
    ):
        with pytest.raises(IntegrityError, match=chunk):
            read()
    assert not list((tmp_path / "out").glob("part-*"))  # nothing left under a final name


def test_tampered_pack_is_refused_and_no_file_is_left_behind(
    blobs: LocalBlobStore, tmp_path: Path
) -> None:
    source = make_tree(tmp_path / "src", {"a.txt": b"alpha", "b/c.txt": b"gamma"})
    snapshot = write_snapshot(blobs, source)
    pack = read_manifest(blobs, snapshot.digest).files[0].blob
    flip_byte(blob_path(blobs, pack), 0)
    target = tmp_path / "out"
    with pytest.raises(IntegrityError, match=pack):
        fetch_files(blobs, snapshot.digest, target)
    assert read_tree(target) == {}
    assert [p.name for p in target.iterdir()] == ["b"]  # folders only, no staging leftovers


def test_tampered_manifest_is_refused(blobs: LocalBlobStore, tmp_path: Path) -> None:
    snapshot = write_snapshot(blobs, make_tree(tmp_path / "src", {"a.txt": b"a"}))
    flip_byte(blob_path(blobs, snapshot.digest), 5)
    with pytest.raises(IntegrityError, match=snapshot.digest):
        read_manifest(blobs, snapshot.digest)


def test_missing_blob_is_not_found(blobs: LocalBlobStore, tmp_path: Path) -> None:
    snapshot = write_snapshot(blobs, make_tree(tmp_path / "src", {"a.txt": b"a"}))
    blobs.delete(read_manifest(blobs, snapshot.digest).files[0].blob)
    with pytest.raises(NotFound):
        fetch_files(blobs, snapshot.digest, tmp_path / "out")
    with pytest.raises(NotFound):
        read_manifest(blobs, "0" * 64)


def test_file_whose_bytes_do_not_match_its_sha_is_refused(
    blobs: LocalBlobStore, tmp_path: Path
) -> None:
    # The pack itself is intact; the manifest claims the wrong content for the file.
    pack = put_bytes(blobs, b"hello", tmp_path)
    digest = put_json(blobs, files_manifest(["a.txt"], pack, [5], ["1" * 64]), tmp_path)
    with pytest.raises(IntegrityError, match="a.txt"):
        fetch_files(blobs, digest, tmp_path / "out")
    assert not (tmp_path / "out" / "a.txt").exists()


@pytest.mark.parametrize(
    "path",
    ["../escape.txt", "a/../../escape.txt", "/etc/passwd", "a\\..\\b", "./a", "a//b", ""],
)
def test_traversal_paths_in_a_hand_made_manifest_are_refused(
    blobs: LocalBlobStore, tmp_path: Path, path: str
) -> None:
    pack = put_bytes(blobs, b"", tmp_path)
    digest = put_json(blobs, files_manifest([path], pack, [0], [EMPTY_SHA]), tmp_path)
    with pytest.raises(InvalidArtifactPath):
        fetch_files(blobs, digest, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()


def test_a_symlinked_folder_in_the_target_cannot_redirect_writes(
    blobs: LocalBlobStore, tmp_path: Path
) -> None:
    snapshot = write_snapshot(blobs, make_tree(tmp_path / "src", {"sub/a.txt": b"a"}))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target = tmp_path / "out"
    target.mkdir()
    (target / "sub").symlink_to(elsewhere)
    with pytest.raises(InvalidArtifactPath, match="outside"):
        fetch_files(blobs, snapshot.digest, target)
    assert list(elsewhere.iterdir()) == []


def test_malformed_manifests_are_refused_naming_the_field(
    blobs: LocalBlobStore, tmp_path: Path
) -> None:
    pack = put_bytes(blobs, b"ab", tmp_path)
    good = files_manifest(["a", "b"], pack, [1, 1], ["0" * 64, "0" * 64])
    cases = [
        ({**good, "format": "other"}, "not a snapshot manifest"),
        ({**good, "version": 99}, "format version 99"),
        ({**good, "kind": "rows"}, "kind 'rows'"),
        ({**good, "blobs": ["xyz"]}, "sha256"),
        (files_manifest(["a", "a"], pack, [1, 1], ["0" * 64] * 2), "twice"),
        (files_manifest(["a", "a/b"], pack, [1, 1], ["0" * 64] * 2), "both a file and a folder"),
        (files_manifest(["a"], pack, [-1], ["0" * 64]), "files.size"),
    ]
    for body, message in cases:
        digest = put_json(blobs, body, tmp_path)
        with pytest.raises(InvalidInput, match=message):
            read_manifest(blobs, digest)
    not_json = put_bytes(blobs, b"\xff\xfe", tmp_path)
    with pytest.raises(InvalidInput, match="not UTF-8 JSON"):
        read_manifest(blobs, not_json)


def test_loading_a_files_snapshot_as_a_table_is_refused(
    blobs: LocalBlobStore, tmp_path: Path
) -> None:
    snapshot = write_snapshot(blobs, make_tree(tmp_path / "src", {"a.txt": b"a"}))
    with pytest.raises(InvalidInput, match="holds files, not a table"):
        load_table(blobs, snapshot.digest)
    # A previous version of the other kind is only a re-use hint, so it is ignored.
    table = write_snapshot(blobs, pd.DataFrame({"a": [1]}), previous=snapshot.digest)
    assert table.kind == "table"


def test_file_changed_while_packing_is_reported(blobs: LocalBlobStore, tmp_path: Path) -> None:
    # Hash, then change the file before packing: the pack must not hold unhashed bytes.
    from perennia.data.snapshots.packing import store_pack
    from perennia.data.snapshots.scan import hash_files, walk
    from perennia.errors import Conflict

    source = make_tree(tmp_path / "src", {"a.txt": b"before"})
    scanned = hash_files(walk(source), workers=1)
    (source / "a.txt").write_bytes(b"after!")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with pytest.raises(Conflict, match="a.txt"):
        store_pack(blobs, scanned, scratch)
    assert os.listdir(scratch) == []
