"""A new version stores only what changed: appended rows, an edited region, a few changed files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from perennia.artifacts.local import LocalBlobStore
from perennia.data.snapshots import fetch_files, load_table, read_manifest, write_snapshot
from tests.data.snapshot_support import make_tree, read_tree

ROWS = 40_000
CHUNKS = (256, 1024, 4096)  # ~1,300 rows a chunk: about 30 chunks for ROWS


@pytest.fixture
def blobs(tmp_path: Path) -> LocalBlobStore:
    """Return an empty local blob store."""
    return LocalBlobStore(tmp_path / "store")


def frame(rows: int, seed: int = 0) -> pd.DataFrame:
    """Return `rows` rows of random data (incompressible enough that bytes track rows)."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": np.arange(rows),
            "x": rng.random(rows),
            "label": rng.choice(["a", "b", "c"], rows),
        }
    )


def test_appending_one_percent_of_rows_stores_a_small_fraction(blobs: LocalBlobStore) -> None:
    base = frame(ROWS)
    write_snapshot(blobs, base, chunk_rows=CHUNKS)
    grown = pd.concat([base, frame(ROWS // 100, seed=1).assign(id=lambda f: f.id + ROWS)])
    grown = grown.reset_index(drop=True)
    second = write_snapshot(blobs, grown, chunk_rows=CHUNKS)
    assert second.new_bytes / second.size_bytes < 0.08
    pd.testing.assert_frame_equal(load_table(blobs, second.digest), grown)


@pytest.mark.parametrize("edit", ["change", "insert", "delete"])
def test_editing_one_region_stores_a_small_fraction(blobs: LocalBlobStore, edit: str) -> None:
    base = frame(ROWS)
    first = write_snapshot(blobs, base, chunk_rows=CHUNKS)
    region = slice(ROWS // 2, ROWS // 2 + ROWS // 100)
    if edit == "change":
        edited = base.copy()
        edited.loc[region, "x"] = -1.0
    elif edit == "insert":
        middle = frame(ROWS // 100, seed=2)
        edited = pd.concat([base.iloc[: region.start], middle, base.iloc[region.start :]])
    else:
        edited = base.drop(index=range(region.start, region.stop))
    edited = edited.reset_index(drop=True)
    second = write_snapshot(blobs, edited, chunk_rows=CHUNKS)
    assert second.new_bytes / second.size_bytes < 0.15
    old = {c.blob for c in read_manifest(blobs, first.digest).chunks}
    new = [c.blob for c in read_manifest(blobs, second.digest).chunks]
    assert sum(blob not in old for blob in new) <= 4  # the edited region and its neighbours
    pd.testing.assert_frame_equal(load_table(blobs, second.digest), edited)


def test_changing_one_percent_of_files_stores_about_one_percent(
    blobs: LocalBlobStore, tmp_path: Path
) -> None:
    files = {f"shard{i % 7}/item{i:04d}.bin": os.urandom(20_000) for i in range(300)}
    first = write_snapshot(blobs, make_tree(tmp_path / "v1", files), pack_bytes=400_000)
    changed = dict(files)
    for name in list(files)[::100]:  # 3 of 300 files
        changed[name] = os.urandom(20_000)
    second = write_snapshot(
        blobs, make_tree(tmp_path / "v2", changed), previous=first.digest, pack_bytes=400_000
    )
    ratio = second.new_bytes / second.size_bytes
    assert 0.01 <= ratio < 0.025  # the 1% changed bytes plus the manifest
    assert read_tree(fetch_files(blobs, second.digest, tmp_path / "out")) == changed


def test_without_previous_unchanged_packs_are_still_found_in_the_store(
    blobs: LocalBlobStore, tmp_path: Path
) -> None:
    files = {f"f{i:03d}.txt": os.urandom(3000) for i in range(40)}
    first = write_snapshot(blobs, make_tree(tmp_path / "v1", files))
    again = write_snapshot(blobs, make_tree(tmp_path / "v2", files))
    assert again.digest == first.digest and again.new_bytes == 0


def test_previous_reuses_blobs_and_restores_removed_ones(
    blobs: LocalBlobStore, tmp_path: Path
) -> None:
    files = {"a.txt": b"a" * 100, "b.txt": b"b" * 100}
    first = write_snapshot(blobs, make_tree(tmp_path / "v1", files))
    same = write_snapshot(blobs, make_tree(tmp_path / "v2", files), previous=first.digest)
    assert same.new_bytes == 0
    # A blob the previous version used was collected since: its files are stored anew.
    blobs.delete(read_manifest(blobs, first.digest).files[0].blob)
    repaired = write_snapshot(blobs, make_tree(tmp_path / "v3", files), previous=first.digest)
    assert repaired.new_bytes > 0
    assert read_tree(fetch_files(blobs, repaired.digest, tmp_path / "out")) == files
