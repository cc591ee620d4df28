"""ArtifactRepository: blobs in a local folder or S3, the per-run manifest in SQLite or PostgreSQL.

Every test runs on each pair of blob backend and metadata backend (SQL, or REST to a server). Oracles are the source files' own bytes and hashlib's
sha256; the manifest is also read straight from the `artifacts` table.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import boto3
import pytest

from perennia.artifacts import open_blob_store
from perennia.artifacts.s3 import S3BlobStore
from perennia.errors import IntegrityError, InvalidArtifactPath, InvalidInput, NotFound
from perennia.store.limits import ARTIFACT_PATH_LENGTH
from perennia.testing.store_contract.helpers import sql_engine, table_count
from perennia.tracking.artifact_repository import ArtifactRepository


@pytest.fixture(params=["local", "s3"])
def blob_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Return a fresh blob-store URI: a local folder, or a key prefix in a fresh moto bucket."""
    if request.param == "local":
        return str(tmp_path / "artifact-root")
    return f"s3://{request.getfixturevalue('s3_bucket')}/prefix"


@pytest.fixture
def repo(store, blob_uri: str) -> ArtifactRepository:
    """Return a repository over the parametrized blob store and metadata store."""
    return ArtifactRepository(open_blob_store(blob_uri), store.artifacts)


def new_run(store, blob_uri: str, name: str = "artifacts") -> str:
    """Create an experiment with one run and return the run id.

    The experiment keeps its artifacts where the test's repository does, so a server behind a
    REST store finds the blobs the manifest names (it refuses entries for blobs it lacks).
    """
    return store.runs.create(store.experiments.create(name, blob_uri)).info.run_id


@pytest.fixture
def run_id(store, blob_uri: str) -> str:
    """Return a fresh run."""
    return new_run(store, blob_uri)


def sha(data: bytes) -> str:
    """Return the sha256 hex digest computed by hashlib (the oracle)."""
    return hashlib.sha256(data).hexdigest()


def make_tree(root: Path, files: dict[str, bytes]) -> Path:
    """Write `files` (relative path -> bytes) under `root` and return it."""
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def manifest_rows(store, run_id: str) -> dict[str, tuple[str, int]]:
    """Return the run's manifest read straight from SQL: path -> (digest, size)."""
    from sqlalchemy import select

    from perennia.store.sql import schema

    a = schema.artifacts
    query = select(a.c.path, a.c.digest, a.c.size).where(a.c.run_uuid == run_id)
    with sql_engine(store).connect() as conn:
        return {path: (digest, size) for path, digest, size in conn.execute(query)}


def tamper(blobs, digest: str, forged: bytes) -> None:
    """Overwrite a stored blob behind Perennia's back: on disk, or in the bucket via boto3."""
    if isinstance(blobs, S3BlobStore):
        key = f"{blobs.prefix}/blobs/{digest[:2]}/{digest[2:]}"
        boto3.client("s3").put_object(Bucket=blobs.bucket, Key=key, Body=forged)
    else:
        (blobs.root / "blobs" / digest[:2] / digest[2:]).write_bytes(forged)


TREE = {
    "model/model.pkl": os.urandom(70_000),
    "model/MLmodel": b"flavors: {}\n",
    "plots/roc.png": b"\x89PNG roc",
    "plots/deep/er/pr.png": b"\x89PNG pr",
    "metrics.json": b'{"auc": 0.91}',
    "empty.txt": b"",
    "modelling.txt": b"a sibling whose name starts like the model folder",
}


def test_log_dir_records_every_file_with_its_digest_and_size(repo, store, run_id, tmp_path):
    entries = repo.log_dir(run_id, make_tree(tmp_path / "src", TREE), artifact_path="out")
    expected = {f"out/{name}": (sha(data), len(data)) for name, data in TREE.items()}
    assert {e.path: (e.digest, e.size) for e in entries} == expected
    assert manifest_rows(store, run_id) == expected
    assert sorted(repo.blobs.digests()) == sorted({sha(d) for d in TREE.values()})


def test_log_file_and_log_bytes_record_one_entry_each(repo, store, run_id, tmp_path):
    data = os.urandom(5000)
    source = make_tree(tmp_path / "src", {"weights.bin": data}) / "weights.bin"
    by_file = repo.log_file(run_id, source, artifact_path="checkpoints/epoch-1")
    by_bytes = repo.log_bytes(run_id, b"note", "notes/readme.txt")
    at_root = repo.log_file(run_id, source)
    assert by_file.path == "checkpoints/epoch-1/weights.bin"
    assert at_root.path == "weights.bin"
    assert manifest_rows(store, run_id) == {
        "checkpoints/epoch-1/weights.bin": (sha(data), 5000),
        "notes/readme.txt": (sha(b"note"), 4),
        "weights.bin": (sha(data), 5000),
    }
    assert by_bytes.digest == sha(b"note")


def test_listing_shows_direct_children_of_any_prefix(repo, run_id, tmp_path):
    repo.log_dir(run_id, make_tree(tmp_path / "src", TREE))

    def listing(path=None):
        return [(f.path, f.is_dir, f.file_size, f.digest) for f in repo.list(run_id, path)]

    def file(name):
        return (name, False, len(TREE[name]), sha(TREE[name]))

    assert listing() == [
        file("empty.txt"),
        file("metrics.json"),
        ("model", True, None, None),
        file("modelling.txt"),
        ("plots", True, None, None),
    ]
    # "model" is a folder prefix: "modelling.txt" is not inside it.
    assert listing("model") == [file("model/MLmodel"), file("model/model.pkl")]
    assert listing("model/") == listing("model")
    assert listing("plots") == [("plots/deep", True, None, None), file("plots/roc.png")]
    assert listing("plots/deep") == [("plots/deep/er", True, None, None)]
    assert listing("plots/deep/er") == [file("plots/deep/er/pr.png")]
    assert listing("metrics.json") == [file("metrics.json")]  # a file lists as itself
    assert listing("nowhere") == []
    assert listing("mode") == []


def test_read_bytes_and_download_reproduce_every_byte(repo, run_id, tmp_path):
    repo.log_dir(run_id, make_tree(tmp_path / "src", TREE))
    for name, data in TREE.items():
        assert repo.read_bytes(run_id, name) == data

    everything = repo.download(run_id, None, tmp_path / "all")
    on_disk = {
        p.relative_to(everything).as_posix(): p.read_bytes()
        for p in everything.rglob("*")
        if p.is_file()
    }
    assert on_disk == TREE

    plots = repo.download(run_id, "plots", tmp_path / "some")
    assert plots == (tmp_path / "some" / "plots").resolve()
    got = {p.relative_to(tmp_path / "some").as_posix() for p in plots.rglob("*") if p.is_file()}
    assert got == {n for n in TREE if n.startswith("plots/")}

    one = repo.download(run_id, "model/model.pkl", tmp_path / "one")
    assert one.read_bytes() == TREE["model/model.pkl"]
    umask = os.umask(0o022)
    os.umask(umask)
    assert one.stat().st_mode & 0o777 == 0o666 & ~umask  # not the temp file's private 0600


def test_a_large_artifact_round_trips_in_many_parts(repo, run_id, tmp_path):
    # Over boto3's 8 MiB multipart threshold: uploaded and downloaded in ranged parts.
    data = os.urandom(17 * 1024 * 1024 + 5)
    entry = repo.log_bytes(run_id, data, "big/weights.bin")
    assert (entry.digest, entry.size) == (sha(data), len(data))
    assert repo.read_bytes(run_id, "big/weights.bin") == data
    out = repo.download(run_id, "big", tmp_path / "dl")
    assert (out / "weights.bin").read_bytes() == data


def test_identical_files_in_two_runs_are_stored_once(repo, store, run_id, blob_uri, tmp_path):
    other = new_run(store, blob_uri, "other")
    repo.log_dir(run_id, make_tree(tmp_path / "a", TREE))
    repo.log_dir(other, make_tree(tmp_path / "b", TREE), artifact_path="copy")
    repo.log_bytes(other, TREE["metrics.json"], "again.json")
    assert sorted(repo.blobs.digests()) == sorted({sha(d) for d in TREE.values()})
    assert repo.read_bytes(other, "copy/model/model.pkl") == TREE["model/model.pkl"]
    assert table_count(store, "artifacts") == 2 * len(TREE) + 1


def test_relogging_a_path_replaces_its_entry(repo, store, run_id):
    repo.log_bytes(run_id, b"version 1", "model.txt")
    repo.log_bytes(run_id, b"version 2!", "model.txt")
    assert manifest_rows(store, run_id) == {"model.txt": (sha(b"version 2!"), 10)}
    assert repo.read_bytes(run_id, "model.txt") == b"version 2!"


def test_the_longest_allowed_path_is_stored_and_read_back(repo, store, run_id):
    path = "/".join(["p" * 99] * (ARTIFACT_PATH_LENGTH // 100)).ljust(ARTIFACT_PATH_LENGTH, "q")
    repo.log_bytes(run_id, b"deep", path)
    assert repo.read_bytes(run_id, path) == b"deep"
    with pytest.raises(InvalidArtifactPath):
        repo.log_bytes(run_id, b"deeper", path + "q")
    assert list(manifest_rows(store, run_id)) == [path]


@pytest.mark.parametrize("where", ["read", "download"])
def test_a_tampered_blob_raises_and_never_returns_the_forged_bytes(repo, run_id, tmp_path, where):
    original = b"the model as trained" * 100
    entry = repo.log_bytes(run_id, original, "model/model.pkl")
    repo.log_bytes(run_id, b"untouched", "model/other.txt")
    # Same length, different bytes: only the digest check can tell.
    forged = original.replace(b"trained", b"forged!")
    assert len(forged) == len(original)
    tamper(repo.blobs, entry.digest, forged)

    if where == "read":
        with pytest.raises(IntegrityError) as caught:
            repo.read_bytes(run_id, "model/model.pkl")
        assert "model/model.pkl" in str(caught.value) and entry.digest in str(caught.value)
    else:
        with pytest.raises(IntegrityError):
            repo.download(run_id, "model", tmp_path / "dl")
        # No file holds the forged bytes, not even a leftover temp file.
        for path in (tmp_path / "dl").rglob("*"):
            if path.is_file():
                assert path.read_bytes() != forged
    assert repo.read_bytes(run_id, "model/other.txt") == b"untouched"


def test_a_truncated_or_vanished_blob_raises_a_perennia_error(repo, run_id, tmp_path):
    truncated = repo.log_bytes(run_id, b"0123456789", "a.txt")
    vanished = repo.log_bytes(run_id, b"gone soon", "b.txt")
    tamper(repo.blobs, truncated.digest, b"01234")
    repo.blobs.delete(vanished.digest)
    with pytest.raises(IntegrityError, match="5 bytes"):
        repo.read_bytes(run_id, "a.txt")
    with pytest.raises(NotFound, match=vanished.digest):
        repo.read_bytes(run_id, "b.txt")
    with pytest.raises((IntegrityError, NotFound)):
        repo.download(run_id, None, tmp_path / "dl")


TRAVERSALS = ["../escape.txt", "a/../../escape.txt", "/etc/passwd", "a\\b.txt", "%2e%2e/x", "C:x"]


@pytest.mark.parametrize("bad", TRAVERSALS)
def test_traversal_paths_are_refused_and_record_or_store_nothing(
    repo, store, run_id, tmp_path, bad
):
    repo.log_bytes(run_id, b"kept", "kept.txt")
    before = (manifest_rows(store, run_id), sorted(repo.blobs.digests()))
    source = make_tree(tmp_path / "src", {"evil.txt": b"evil bytes"}) / "evil.txt"
    with pytest.raises(InvalidArtifactPath):
        repo.log_bytes(run_id, b"evil bytes", bad)
    with pytest.raises(InvalidArtifactPath):
        repo.log_file(run_id, source, artifact_path=bad)
    with pytest.raises(InvalidArtifactPath):
        repo.log_dir(run_id, tmp_path / "src", artifact_path=bad)
    for read in (repo.read_bytes, repo.list):
        with pytest.raises(InvalidArtifactPath):
            read(run_id, bad)
    with pytest.raises(InvalidArtifactPath):
        repo.download(run_id, bad, tmp_path / "dl")
    assert (manifest_rows(store, run_id), sorted(repo.blobs.digests())) == before
    assert not (tmp_path / "escape.txt").exists()


def test_a_folder_with_one_unloggable_name_records_nothing(repo, store, run_id, tmp_path):
    # "#" cannot appear in an artifact path; the whole folder is refused before any upload.
    src = make_tree(tmp_path / "src", {"a.txt": b"a", "b/c.txt": b"c", "b/bad#name.txt": b"x"})
    with pytest.raises(InvalidArtifactPath, match="bad#name"):
        repo.log_dir(run_id, src)
    assert manifest_rows(store, run_id) == {}
    assert list(repo.blobs.digests()) == []


def test_symlinks_in_a_logged_folder_are_skipped(repo, store, run_id, tmp_path):
    secret = make_tree(tmp_path / "outside", {"secret.txt": b"do not upload"})
    src = make_tree(tmp_path / "src", {"real.txt": b"real"})
    (src / "link.txt").symlink_to(secret / "secret.txt")
    (src / "linked-dir").symlink_to(secret, target_is_directory=True)
    repo.log_dir(run_id, src)
    assert manifest_rows(store, run_id) == {"real.txt": (sha(b"real"), 4)}
    assert list(repo.blobs.digests()) == [sha(b"real")]


def test_download_refuses_to_follow_a_symlink_out_of_the_destination(repo, run_id, tmp_path):
    repo.log_bytes(run_id, b"payload", "plots/roc.png")
    outside = tmp_path / "outside"
    outside.mkdir()
    destination = tmp_path / "dl"
    destination.mkdir()
    (destination / "plots").symlink_to(outside, target_is_directory=True)
    with pytest.raises(IntegrityError, match="escapes"):
        repo.download(run_id, None, destination)
    assert list(outside.iterdir()) == []


def test_a_path_cannot_be_both_a_file_and_a_folder(repo, store, run_id, blob_uri, tmp_path):
    repo.log_bytes(run_id, b"file", "model")
    repo.log_bytes(run_id, b"nested", "plots/roc.png")
    before = manifest_rows(store, run_id)
    with pytest.raises(InvalidArtifactPath, match="'model'"):
        repo.log_bytes(run_id, b"inside a file", "model/weights.bin")
    with pytest.raises(InvalidArtifactPath, match="'plots'"):
        repo.log_bytes(run_id, b"over a folder", "plots")
    with pytest.raises(InvalidArtifactPath):
        repo.log_dir(run_id, make_tree(tmp_path / "src", {"x.txt": b"x"}), artifact_path="model")
    assert manifest_rows(store, run_id) == before
    # Another run has its own tree: the same names are free there.
    other = new_run(store, blob_uri, "other")
    repo.log_bytes(other, b"fine", "model/weights.bin")
    out = repo.download(run_id, None, tmp_path / "dl")
    assert (out / "model").read_bytes() == b"file"


@pytest.mark.parametrize("bad", ["text, not bytes", None, 42, ["b"]])
def test_log_bytes_refuses_data_that_is_not_bytes(repo, store, run_id, bad):
    with pytest.raises(InvalidInput, match=type(bad).__name__):
        repo.log_bytes(run_id, bad, "x.bin")
    assert manifest_rows(store, run_id) == {}
    assert list(repo.blobs.digests()) == []


def test_log_bytes_accepts_bytearray_and_memoryview(repo, run_id):
    repo.log_bytes(run_id, bytearray(b"array"), "a.bin")
    repo.log_bytes(run_id, memoryview(b"view"), "v.bin")
    assert (repo.read_bytes(run_id, "a.bin"), repo.read_bytes(run_id, "v.bin")) == (
        b"array",
        b"view",
    )


def test_missing_sources_runs_and_artifacts_are_clear_errors(repo, store, run_id, tmp_path):
    with pytest.raises(InvalidInput, match="not a file"):
        repo.log_file(run_id, tmp_path / "missing.txt")
    with pytest.raises(InvalidInput, match="not a file"):
        repo.log_file(run_id, tmp_path)
    with pytest.raises(InvalidInput, match="not a directory"):
        repo.log_dir(run_id, tmp_path / "missing-dir")
    unknown = "0" * 32
    with pytest.raises(NotFound):
        repo.log_bytes(unknown, b"orphan", "x.txt")
    with pytest.raises(NotFound):
        repo.list(unknown)
    with pytest.raises(NotFound, match="nope.txt"):
        repo.read_bytes(run_id, "nope.txt")
    with pytest.raises(NotFound):
        repo.download(run_id, "nope", tmp_path / "dl")
    assert table_count(store, "artifacts") == 0


def test_garbage_collection_removes_only_old_unreferenced_blobs(repo, store, run_id, blob_uri):
    kept = repo.log_bytes(run_id, b"still referenced", "kept.txt").digest
    shared = repo.log_bytes(run_id, b"shared by both runs", "shared.txt").digest
    doomed = new_run(store, blob_uri, "doomed")
    orphan = repo.log_bytes(doomed, b"only the doomed run", "orphan.txt").digest
    repo.log_bytes(doomed, b"shared by both runs", "shared.txt")
    store.runs.delete(doomed)
    assert (
        repo.delete_unreferenced(grace_seconds=-60) == 0
    )  # a deleted run's files stay until purge

    store.runs.purge_deleted(older_than_ms=int(time.time() * 1000) + 60_000)
    assert repo.delete_unreferenced(grace_seconds=3600) == 0  # young blobs may be mid-log
    assert repo.blobs.exists(orphan)
    assert repo.delete_unreferenced(grace_seconds=-60) == 1
    assert sorted(repo.blobs.digests()) == sorted([kept, shared])
    assert repo.read_bytes(run_id, "shared.txt") == b"shared by both runs"
    assert repo.delete_unreferenced(grace_seconds=-60) == 0


def test_a_blob_stored_before_its_manifest_entry_survives_collection(repo, store, run_id, tmp_path):
    # The window a writer has between put_file and record: the blob is unreferenced but young.
    data = b"uploaded, manifest not written yet"
    source = make_tree(tmp_path / "src", {"pending.bin": data}) / "pending.bin"
    repo.blobs.put_file(sha(data), source)
    assert repo.delete_unreferenced(grace_seconds=3600) == 0
    assert repo.blobs.exists(sha(data))
