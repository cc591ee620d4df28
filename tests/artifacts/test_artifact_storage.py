"""Blob stores (local folder and S3 through a moto server) and the artifact repository on top.

The same tests run on both blob backends; repository tests also run on both metadata stores.
"""

from __future__ import annotations

import hashlib
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from perennia.artifacts import open_blob_store
from perennia.artifacts.repository import ArtifactRepository
from perennia.errors import IntegrityError, InvalidArtifactPath, InvalidInput, NotFound


@pytest.fixture(params=["local", "s3"])
def blob_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Return a fresh blob-store URI: a local folder, or a prefix in a fresh moto bucket."""
    if request.param == "local":
        return str(tmp_path / "blobs-root")
    return f"s3://{request.getfixturevalue('s3_bucket')}/team/artifacts"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _read(blobs, digest: str) -> bytes:
    buffer = io.BytesIO()
    blobs.read_into(digest, buffer)
    return buffer.getvalue()


# -- blob stores -----------------------------------------------------------------------------


def test_blobs_round_trip_by_digest_and_are_stored_once(blob_uri: str, tmp_path: Path) -> None:
    blobs = open_blob_store(blob_uri)
    payloads = [b"", b"hello", os.urandom(3 * 1024 * 1024 + 17)]
    for i, data in enumerate(payloads):
        digest = _sha(data)
        blobs.put_file(digest, _file(tmp_path, f"in/{i}", data))
        blobs.put_file(digest, _file(tmp_path, f"again/{i}", data))
        assert blobs.exists(digest)
        assert _read(blobs, digest) == data
    assert sorted(blobs.digests()) == sorted(_sha(d) for d in payloads)


def test_missing_blob_is_not_found_and_delete_is_idempotent(blob_uri: str, tmp_path: Path) -> None:
    blobs = open_blob_store(blob_uri)
    digest = _sha(b"gone")
    assert not blobs.exists(digest)
    with pytest.raises(NotFound):
        _read(blobs, digest)
    blobs.put_file(digest, _file(tmp_path, "x", b"gone"))
    blobs.delete(digest)
    blobs.delete(digest)
    assert not blobs.exists(digest)


@pytest.mark.parametrize("bad", ["../../etc/passwd", "abc", "G" * 64, "A" * 64, ""])
def test_malformed_digests_never_reach_the_backend(blob_uri: str, bad: str) -> None:
    blobs = open_blob_store(blob_uri)
    with pytest.raises(InvalidInput):
        blobs.exists(bad)


def test_digests_older_than_filters_by_write_time(blob_uri: str, tmp_path: Path) -> None:
    blobs = open_blob_store(blob_uri)
    old = _sha(b"old")
    blobs.put_file(old, _file(tmp_path, "old", b"old"))
    assert list(blobs.digests(older_than=time.time() - 3600)) == []
    assert list(blobs.digests(older_than=time.time() + 3600)) == [old]


@pytest.mark.parametrize(
    "uri", ["http://169.254.169.254/latest", "ftp://x/y", "s3://", "s3://b/../x"]
)
def test_unsupported_artifact_uris_are_refused(uri: str) -> None:
    with pytest.raises(InvalidInput):
        open_blob_store(uri)


_KILLED_WRITER = """
import sys, pathlib
from perennia.artifacts.local import LocalBlobStore
store, digest, source = LocalBlobStore(sys.argv[1]), sys.argv[2], pathlib.Path(sys.argv[3])
print("writing", flush=True)
store.put_file(digest, source)
"""


def test_a_writer_killed_mid_write_leaves_no_partial_blob(tmp_path: Path) -> None:
    # A FIFO source blocks the writer after its temp file exists, so the kill lands mid-write.
    fifo = tmp_path / "source.fifo"
    os.mkfifo(fifo)
    digest = _sha(b"complete blob")
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(tmp_path / "root"), digest, str(fifo)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout.readline().strip() == "writing"
    with open(fifo, "wb") as pipe:
        pipe.write(b"complete")  # half of the bytes, then the writer dies
        pipe.flush()
        time.sleep(0.3)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)

    blobs = open_blob_store(str(tmp_path / "root"))
    assert not blobs.exists(digest)
    assert list(blobs.digests()) == []
    blobs.put_file(digest, _file(tmp_path, "retry", b"complete blob"))
    assert _read(blobs, digest) == b"complete blob"


# -- the repository: blobs + manifest in the metadata store ------------------------------------


@pytest.fixture
def repo(store, blob_uri: str) -> ArtifactRepository:
    return ArtifactRepository(open_blob_store(blob_uri), store.artifacts)


@pytest.fixture
def run_id(store) -> str:
    return store.runs.create(store.experiments.create("artifacts")).info.run_id


def test_logged_files_list_read_and_download_byte_for_byte(repo, run_id, tmp_path: Path) -> None:
    src = tmp_path / "src"
    files = {
        "model.skops": os.urandom(50_000),
        "plots/roc.png": b"\x89PNG fake",
        "plots/deep/pr.png": b"pr",
        "metrics.json": b'{"auc": 0.9}',
    }
    for name, data in files.items():
        _file(src, name, data)
    repo.log_dir(run_id, src)

    root = repo.list(run_id)
    assert [(f.path, f.is_dir) for f in root] == [
        ("metrics.json", False),
        ("model.skops", False),
        ("plots", True),
    ]
    assert {(f.path, f.is_dir) for f in repo.list(run_id, "plots")} == {
        ("plots/deep", True),
        ("plots/roc.png", False),
    }
    model = next(f for f in root if f.path == "model.skops")
    assert (model.file_size, model.digest) == (50_000, _sha(files["model.skops"]))
    for name, data in files.items():
        assert repo.read_bytes(run_id, name) == data

    out = repo.download(run_id, None, tmp_path / "out")
    for name, data in files.items():
        assert (out / name).read_bytes() == data
    only_plots = repo.download(run_id, "plots", tmp_path / "plots-only")
    assert (only_plots / "deep" / "pr.png").read_bytes() == b"pr"
    assert not (tmp_path / "plots-only" / "model.skops").exists()


def test_identical_files_in_two_runs_are_stored_once(repo, store, run_id, tmp_path: Path) -> None:
    other = store.runs.create(store.experiments.create("other")).info.run_id
    data = os.urandom(10_000)
    repo.log_file(run_id, _file(tmp_path, "a/weights.bin", data))
    repo.log_file(other, _file(tmp_path, "b/weights.bin", data), artifact_path="copy")
    assert list(repo.blobs.digests()) == [_sha(data)]
    assert repo.read_bytes(other, "copy/weights.bin") == data


def test_a_tampered_blob_is_refused_and_never_returned(repo, run_id, tmp_path: Path) -> None:
    original = b"the model as trained"
    entry = repo.log_bytes(run_id, original, "model/model.skops")
    forged = b"the model as forged!"
    digest = entry.digest
    if repo.blobs.uri.startswith("s3://"):
        # Overwritten in the bucket behind Perennia's back, through plain boto3.
        repo.blobs.client.put_object(
            Bucket=repo.blobs.bucket, Key=repo.blobs._key(digest), Body=forged
        )
    else:
        blob = repo.blobs.root / "blobs" / digest[:2] / digest[2:]
        blob.chmod(0o644)
        blob.write_bytes(forged)

    with pytest.raises(IntegrityError, match="corrupted"):
        repo.read_bytes(run_id, "model/model.skops")
    with pytest.raises(IntegrityError):
        repo.download(run_id, "model", tmp_path / "dl")
    assert not (tmp_path / "dl" / "model" / "model.skops").exists()


@pytest.mark.parametrize("bad", ["../escape.txt", "/abs.txt", "a\\b.txt", "%2e%2e/x.txt"])
def test_traversal_artifact_paths_record_nothing(repo, run_id, tmp_path: Path, bad: str) -> None:
    repo.log_bytes(run_id, b"kept", "kept.txt")
    with pytest.raises(InvalidArtifactPath):
        repo.log_bytes(run_id, b"evil", bad)
    with pytest.raises(InvalidArtifactPath):
        repo.log_file(run_id, _file(tmp_path, "f.txt", b"evil"), artifact_path=bad)
    assert [f.path for f in repo.list(run_id)] == ["kept.txt"]
    assert repo.read_bytes(run_id, "kept.txt") == b"kept"


def test_unknown_artifacts_and_runs_are_not_found(repo, run_id, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        repo.read_bytes(run_id, "nope.txt")
    with pytest.raises(NotFound):
        repo.download(run_id, "nope", tmp_path / "x")
    with pytest.raises(NotFound):
        repo.list("0" * 32)
    with pytest.raises(InvalidInput):
        repo.log_file(run_id, tmp_path / "does-not-exist.txt")


def test_garbage_collection_deletes_only_old_unreferenced_blobs(repo, store, run_id) -> None:
    kept = repo.log_bytes(run_id, b"referenced", "kept.txt").digest
    doomed_run = store.runs.create(store.experiments.create("doomed")).info.run_id
    orphan = repo.log_bytes(doomed_run, b"orphaned soon", "orphan.txt").digest
    store.runs.delete(doomed_run)
    store.runs.purge_deleted(older_than_ms=int(time.time() * 1000) + 1000)

    assert repo.delete_unreferenced(grace_seconds=3600) == 0  # too young: maybe mid-write
    assert repo.delete_unreferenced(grace_seconds=-60) == 1
    assert sorted(repo.blobs.digests()) == [kept]
    assert not repo.blobs.exists(orphan)
    assert repo.read_bytes(run_id, "kept.txt") == b"referenced"
