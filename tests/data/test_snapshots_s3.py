"""The same snapshots through S3BlobStore, against moto's standalone server on loopback."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from perennia.artifacts.s3 import S3BlobStore
from perennia.data.snapshots import fetch_files, load_table, read_manifest, write_snapshot
from perennia.errors import IntegrityError
from tests.data.snapshot_support import make_tree, read_tree


def test_table_round_trip_and_append_dedup_on_s3(s3_bucket: str) -> None:
    blobs = S3BlobStore(f"s3://{s3_bucket}/datasets")
    rng = np.random.default_rng(0)
    base = pd.DataFrame({"id": np.arange(8000), "x": rng.random(8000)})
    first = write_snapshot(blobs, base, chunk_rows=(128, 512, 2048), workers=4)
    pd.testing.assert_frame_equal(load_table(blobs, first.digest), base)
    grown = pd.concat([base, pd.DataFrame({"id": [8000 + i for i in range(80)], "x": 0.5})])
    grown = grown.reset_index(drop=True)
    second = write_snapshot(blobs, grown, chunk_rows=(128, 512, 2048), workers=4)
    assert second.new_bytes / second.size_bytes < 0.2
    pd.testing.assert_frame_equal(load_table(blobs, second.digest), grown)


def test_folder_round_trip_dedup_and_tamper_on_s3(s3_bucket: str, tmp_path: Path) -> None:
    import boto3

    blobs = S3BlobStore(f"s3://{s3_bucket}/datasets")
    files = {f"d{i % 3}/f{i:02d}.bin": os.urandom(4000) for i in range(30)}
    files["big.bin"] = os.urandom((1 << 20) + 10)
    first = write_snapshot(blobs, make_tree(tmp_path / "v1", files), workers=4)
    assert read_tree(fetch_files(blobs, first.digest, tmp_path / "out1", workers=4)) == files
    changed = {**files, "d0/f00.bin": os.urandom(4000)}
    second = write_snapshot(blobs, make_tree(tmp_path / "v2", changed), previous=first.digest)
    assert second.new_bytes < 4000 + 10_000  # the changed file's pack and the manifest
    assert read_tree(fetch_files(blobs, second.digest, tmp_path / "out2")) == changed

    pack = next(f.blob for f in read_manifest(blobs, second.digest).files if f.path == "d0/f00.bin")
    boto3.client("s3").put_object(Bucket=s3_bucket, Key=blobs._key(pack), Body=b"forged")
    with pytest.raises(IntegrityError, match=pack):
        fetch_files(blobs, second.digest, tmp_path / "out3")
