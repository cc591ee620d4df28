"""Blob stores through `open_blob_store`: a local folder and S3 (boto3 against a moto server).

Every behaviour test runs on both backends; the oracle for a blob's name is hashlib's sha256.
"""

from __future__ import annotations

import hashlib
import io
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

from perennia.artifacts import open_blob_store
from perennia.artifacts.local import LocalBlobStore
from perennia.artifacts.s3 import S3BlobStore
from perennia.errors import InvalidInput, NotFound, PerenniaError


@pytest.fixture(params=["local", "s3"])
def blob_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Return a fresh blob-store URI: a local folder, or a key prefix in a fresh moto bucket."""
    if request.param == "local":
        return str(tmp_path / "artifact-root")
    return f"s3://{request.getfixturevalue('s3_bucket')}/prefix"


def sha(data: bytes) -> str:
    """Return the sha256 hex digest computed by hashlib (the oracle)."""
    return hashlib.sha256(data).hexdigest()


def write(folder: Path, name: str, data: bytes) -> Path:
    """Write `data` to `folder/name` and return the path."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def read(blobs, digest: str) -> bytes:
    """Return a blob's bytes through the store's own read path."""
    buffer = io.BytesIO()
    blobs.read_into(digest, buffer)
    return buffer.getvalue()


def stored_objects(blobs) -> list[str]:
    """Return every file or object the backend holds, straight from disk or from boto3."""
    if isinstance(blobs, S3BlobStore):
        listing = boto3.client("s3").list_objects_v2(Bucket=blobs.bucket)
        return sorted(item["Key"] for item in listing.get("Contents", []))
    return sorted(str(p.relative_to(blobs.root)) for p in blobs.root.rglob("*") if p.is_file())


def test_open_blob_store_picks_the_backend_from_the_uri(tmp_path: Path, s3_bucket: str) -> None:
    assert isinstance(open_blob_store(str(tmp_path / "a")), LocalBlobStore)
    via_file_uri = open_blob_store(f"file://{tmp_path / 'b'}")
    assert isinstance(via_file_uri, LocalBlobStore) and via_file_uri.root == tmp_path / "b"
    s3 = open_blob_store(f"s3://{s3_bucket}/team/run-artifacts/")
    assert isinstance(s3, S3BlobStore)
    assert (s3.bucket, s3.prefix) == (s3_bucket, "team/run-artifacts")


@pytest.mark.parametrize(
    "uri",
    [
        "http://169.254.169.254/latest/meta-data",
        "https://example.com/x",
        "gs://bucket/x",
        "s3://",
        "s3:///no-bucket",
        "s3://bucket/a/../../b",
        "s3://bucket/x?versionId=1",
        "s3://bucket/x#frag",
    ],
)
def test_unsupported_or_unsafe_artifact_uris_are_refused(uri: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        open_blob_store(uri)
    assert uri.split("?")[0].split("#")[0][:12] in str(caught.value)


def test_put_and_read_round_trip_under_the_sha256_of_the_content(
    blob_uri: str, tmp_path: Path
) -> None:
    blobs = open_blob_store(blob_uri)
    payloads = [b"", b"\x00", b"hello world\n", os.urandom(256 * 1024 + 3)]
    for i, data in enumerate(payloads):
        digest = sha(data)
        assert not blobs.exists(digest)
        blobs.put_file(digest, write(tmp_path, f"src/{i}.bin", data))
        assert blobs.exists(digest)
        assert read(blobs, digest) == data
    assert sorted(blobs.digests()) == sorted(sha(d) for d in payloads)


def test_identical_content_is_stored_once(blob_uri: str, tmp_path: Path) -> None:
    blobs = open_blob_store(blob_uri)
    data = os.urandom(4096)
    for name in ("first.bin", "copy/second.bin", "third.bin"):
        blobs.put_file(sha(data), write(tmp_path, name, data))
    objects = stored_objects(blobs)
    assert len(objects) == 1 and objects[0].endswith(sha(data)[2:])
    assert list(blobs.digests()) == [sha(data)]
    assert read(blobs, sha(data)) == data


def test_blobs_are_laid_out_by_digest_under_the_prefix(blob_uri: str, tmp_path: Path) -> None:
    blobs = open_blob_store(blob_uri)
    digest = sha(b"layout")
    blobs.put_file(digest, write(tmp_path, "x", b"layout"))
    key = f"blobs/{digest[:2]}/{digest[2:]}"
    expected = f"prefix/{key}" if isinstance(blobs, S3BlobStore) else key
    assert stored_objects(blobs) == [expected]


def test_a_missing_digest_is_not_found_and_names_the_digest(blob_uri: str) -> None:
    blobs = open_blob_store(blob_uri)
    digest = sha(b"never stored")
    assert not blobs.exists(digest)
    with pytest.raises(NotFound) as caught:
        read(blobs, digest)
    assert digest in str(caught.value)


@pytest.mark.parametrize(
    "bad", ["", "abc", "../../etc/passwd", "A" * 64, "g" * 64, "0" * 63, "0" * 65, None, 42]
)
def test_malformed_digests_are_refused_before_touching_the_backend(
    blob_uri: str, tmp_path: Path, bad: object
) -> None:
    blobs = open_blob_store(blob_uri)
    source = write(tmp_path, "x", b"x")
    for call in (
        lambda: blobs.exists(bad),
        lambda: blobs.put_file(bad, source),
        lambda: read(blobs, bad),
        lambda: blobs.delete(bad),
    ):
        with pytest.raises(InvalidInput, match="sha256"):
            call()
    assert stored_objects(blobs) == []


def test_delete_removes_one_blob_and_is_idempotent(blob_uri: str, tmp_path: Path) -> None:
    blobs = open_blob_store(blob_uri)
    keep, drop = b"keep me", b"drop me"
    for data in (keep, drop):
        blobs.put_file(sha(data), write(tmp_path, sha(data), data))
    blobs.delete(sha(drop))
    blobs.delete(sha(drop))
    assert not blobs.exists(sha(drop))
    assert list(blobs.digests()) == [sha(keep)]
    assert read(blobs, sha(keep)) == keep
    with pytest.raises(NotFound):
        read(blobs, sha(drop))


def test_digests_older_than_lists_blobs_last_written_before_the_cutoff(
    blob_uri: str, tmp_path: Path
) -> None:
    blobs = open_blob_store(blob_uri)
    old, relogged, new = b"written first", b"written first, logged again later", b"written later"
    blobs.put_file(sha(old), write(tmp_path, "old", old))
    blobs.put_file(sha(relogged), write(tmp_path, "relogged-1", relogged))
    # S3 reports LastModified in whole seconds, so the cutoff sits over a second from each write.
    time.sleep(1.1)
    cutoff = time.time()
    time.sleep(1.1)
    blobs.put_file(sha(new), write(tmp_path, "new", new))
    # Re-putting a stored blob must make it young again: garbage collection spares young blobs,
    # and a blob being logged again could otherwise vanish before its manifest entry is written.
    blobs.put_file(sha(relogged), write(tmp_path, "relogged-2", relogged))

    assert list(blobs.digests(older_than=cutoff)) == [sha(old)]
    assert sorted(blobs.digests()) == sorted(sha(d) for d in (old, relogged, new))
    assert list(blobs.digests(older_than=cutoff - 3600)) == []
    assert read(blobs, sha(relogged)) == relogged


def test_an_unreadable_source_file_stores_nothing(blob_uri: str, tmp_path: Path) -> None:
    blobs = open_blob_store(blob_uri)
    digest = sha(b"ghost")
    with pytest.raises((OSError, PerenniaError)):
        blobs.put_file(digest, tmp_path / "does-not-exist")
    assert not blobs.exists(digest)
    assert stored_objects(blobs) == []


def test_a_local_write_leaves_only_the_final_blob_with_normal_permissions(tmp_path: Path) -> None:
    blobs = open_blob_store(str(tmp_path / "root"))
    data = os.urandom(3 * 1024 * 1024 + 1)
    blobs.put_file(sha(data), write(tmp_path, "big.bin", data))
    files = [p for p in (tmp_path / "root").rglob("*") if p.is_file()]
    assert [p.name for p in files] == [sha(data)[2:]]  # no temp file left beside it
    assert files[0].read_bytes() == data
    umask = os.umask(0o022)
    os.umask(umask)
    # Readable as any new file would be (mkstemp's private 0600 must not leak into the store).
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o666 & ~umask


_WRITER = """
import sys
from pathlib import Path
from perennia.artifacts import open_blob_store
blobs = open_blob_store(sys.argv[1])
print("ready", flush=True)
blobs.put_file(sys.argv[2], Path(sys.argv[3]))
print("done", flush=True)
"""


def _kill_writer_mid_write(root: Path, digest: str, chunks: list[bytes], tmp_path: Path) -> None:
    """Run a writer that reads its source from a FIFO, feed it `chunks`, then SIGKILL it."""
    fifo = tmp_path / f"source-{len(chunks)}.fifo"
    os.mkfifo(fifo)
    child = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(root), digest, str(fifo)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "ready"
        with open(fifo, "wb") as pipe:
            for chunk in chunks:
                pipe.write(chunk)
            pipe.flush()
            # The writer is now blocked reading more from the FIFO, with a partial temp file open.
            deadline = time.monotonic() + 10
            while not any(root.rglob(".tmp-*")) and time.monotonic() < deadline:
                time.sleep(0.02)
            assert any(root.rglob(".tmp-*")), "the writer never started its temp file"
            child.send_signal(signal.SIGKILL)
            assert child.wait(timeout=10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_a_writer_killed_mid_write_leaves_the_whole_blob_or_nothing(tmp_path: Path) -> None:
    root = tmp_path / "root"
    data = os.urandom(8 * 1024 * 1024)
    digest = sha(data)
    _kill_writer_mid_write(root, digest, [data[: len(data) // 2]], tmp_path)

    blobs = open_blob_store(str(root))
    assert not blobs.exists(digest)
    assert list(blobs.digests()) == []
    with pytest.raises(NotFound):
        read(blobs, digest)
    # Nothing but the dead writer's temp file is on disk, and nothing is under the final name.
    leftovers = [p for p in root.rglob("*") if p.is_file()]
    assert leftovers and all(p.name.startswith(".tmp-") for p in leftovers)

    # A retry stores the complete blob and the listing ignores the dead writer's temp file.
    blobs.put_file(digest, write(tmp_path, "retry.bin", data))
    assert read(blobs, digest) == data
    assert list(blobs.digests()) == [digest]


def test_concurrent_writers_of_one_blob_leave_one_complete_copy(tmp_path: Path) -> None:
    root = tmp_path / "root"
    data = os.urandom(4 * 1024 * 1024)
    digest = sha(data)
    sources = [write(tmp_path, f"src-{i}.bin", data) for i in range(4)]
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(root), digest, str(source)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for source in sources
    ]
    outputs = [w.communicate(timeout=60)[0].split() for w in writers]
    assert outputs == [["ready", "done"]] * 4
    files = [p for p in root.rglob("*") if p.is_file()]
    assert [p.name for p in files] == [digest[2:]]
    assert files[0].read_bytes() == data
