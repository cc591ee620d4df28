"""`perennia import mlflow`: an MLflow store built by the real mlflow client, imported, and read
back through the mlflow client from both sides (its own database, and a live `perennia server`
on the imported store): everything compares equal, twice, and after an interruption."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from perennia.config import Settings
from perennia.entities import RunTag, ViewType
from perennia.errors import Conflict, InvalidInput
from perennia.interop.mlflow_import import COMPLETE_TAG, ImportSummary, import_mlflow
from perennia.tracking.context import TrackingContext
from tests.interop.mlflow_snapshot import snapshot
from tests.interop.mlflow_source_store import build_mlflow_store

pytest.importorskip("mlflow")


@pytest.fixture(scope="session")
def mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, dict]:
    """Return (database URI, artifact root, snapshot) of the MLflow store, built once for the
    whole session (the first worker builds it under a lock, the other reads it)."""
    import fcntl
    import pickle

    shared = tmp_path_factory.getbasetemp().parent / "mlflow-source"
    shared.mkdir(exist_ok=True)
    with (shared / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        built = shared / "built.pickle"
        if not built.exists():
            uri, artifacts = build_mlflow_store(shared / "store")
            built.write_bytes(pickle.dumps((uri, artifacts, snapshot(uri))))
        return pickle.loads(built.read_bytes())


def _context(store, artifacts: Path) -> TrackingContext:
    """Return a tracking context writing into `store`, blobs under `artifacts`."""
    settings = Settings.from_env().with_overrides(
        tracking_uri=store.uri, artifacts_uri=str(artifacts)
    )
    return TrackingContext(settings, store=store)


def _import(store, artifacts: Path, source: str, **options) -> ImportSummary:
    context = _context(store, artifacts)
    try:
        return import_mlflow(source, context, **options)
    finally:
        context.close()


def test_an_imported_store_reads_the_same_through_the_mlflow_client(
    mlflow_store, live_server, tmp_path: Path
):
    source, _artifacts, expected = mlflow_store
    url, backing = live_server
    first = _import(backing, tmp_path / "server-artifacts", source)
    assert first.copied["runs"] == len(expected["runs"]) == 6
    assert first.copied["model versions"] == 2 and first.copied["aliases"] == 1
    assert snapshot(url) == expected

    second = _import(backing, tmp_path / "server-artifacts", source)
    assert sum(second.copied.values()) == 0
    assert second.skipped["runs"] == 6 and second.skipped["model versions"] == 2
    assert snapshot(url) == expected


def test_the_comparison_sees_a_difference(mlflow_store, live_server, tmp_path: Path):
    source, _artifacts, expected = mlflow_store
    url, backing = live_server
    _import(backing, tmp_path / "server-artifacts", source)
    run_id = next(r for r, v in expected["runs"].items() if v["info"][0] == "parent")
    backing.tags.set(run_id, [RunTag("owner", "someone else")])
    assert snapshot(url) != expected


def test_an_import_killed_midway_resumes_and_compares_equal(
    mlflow_store, live_server, tmp_path: Path
):
    source, _artifacts, expected = mlflow_store
    url, backing = live_server
    script = (
        "import os, signal\n"
        "from perennia.tracking.client import Client\n"
        "from perennia.interop.mlflow_import import import_mlflow\n"
        "def die(done, total):\n"
        "    if done == 2:\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        f"api = Client({backing.uri!r}, {str(tmp_path / 'server-artifacts')!r})\n"
        f"import_mlflow({source!r}, api.context, progress=die)\n"
    )
    env = {**os.environ, "PERENNIA_HOME": str(tmp_path / "home")}
    env.pop("PERENNIA_TRACKING_URI", None)
    done = subprocess.run([sys.executable, "-c", script], env=env, cwd=Path.cwd(), timeout=120)
    assert done.returncode == -signal.SIGKILL
    partial = backing.runs.search([], max_results=100, view_type=ViewType.ALL).items
    assert 2 <= len(partial) < 6

    resumed = _import(backing, tmp_path / "server-artifacts", source)
    assert resumed.skipped["runs"] == 2 and resumed.copied["runs"] == 4
    assert snapshot(url) == expected


def test_a_run_left_half_copied_is_copied_again_whole(
    mlflow_store, sql_store_uri: str, tmp_path: Path
):
    from sqlalchemy import delete

    from perennia.store import open_store
    from perennia.store.sql import schema as s

    source, _artifacts, expected = mlflow_store
    store = open_store(sql_store_uri)
    try:
        _import(store, tmp_path / "blobs", source)
        run_id = next(r for r, v in expected["runs"].items() if v["info"][0] == "parent")
        # What a kill between the run's rows and its completion mark leaves: no mark, some points.
        with store.engine.begin() as conn:
            conn.execute(
                delete(s.tags).where(s.tags.c.key == COMPLETE_TAG, s.tags.c.run_uuid == run_id)
            )
            conn.execute(
                delete(s.metrics).where(s.metrics.c.run_uuid == run_id, s.metrics.c.step > 1)
            )
        again = _import(store, tmp_path / "blobs", source)
        assert again.copied["runs"] == 1 and again.skipped["runs"] == 5
        history = [(m.step, m.value) for m in store.metrics.history(run_id, "loss")]
        assert history == [(step, 1.0 / (step + 1)) for step in range(5)]
        assert store.runs.get(run_id).data.tags[COMPLETE_TAG] == "true"
        # Experiment ids were given explicitly: new experiments still get fresh ones.
        assert int(store.experiments.create("after-import")) > 2
    finally:
        store.close()


def test_artifacts_are_read_from_s3(mlflow_store, s3_bucket: str, sqlite_uri: str, tmp_path: Path):
    import boto3

    from perennia.store import open_store

    source, artifacts, expected = mlflow_store
    root = Path(artifacts.removeprefix("file://"))
    s3 = boto3.client("s3")
    for path in root.rglob("*"):
        if path.is_file():
            s3.upload_file(str(path), s3_bucket, f"mlruns/{path.relative_to(root).as_posix()}")
    store = open_store(sqlite_uri)
    try:
        summary = _import(
            store, tmp_path / "blobs", source, artifacts_from=f"s3://{s3_bucket}/mlruns"
        )
        assert summary.copied["artifact files"] == 3
        run_id = next(r for r, v in expected["runs"].items() if v["info"][0] == "parent")
        files = {p: v for p, v in expected["runs"][run_id]["artifacts"].items() if v is not None}
        manifest = {e.path: e.size for e in store.artifacts.list(run_id)}
        assert manifest == {p: size for p, (size, _bytes) in files.items()}
    finally:
        store.close()


def test_bad_sources_get_one_line_errors(mlflow_store, sqlite_uri: str, tmp_path: Path):
    from perennia.store import open_store

    store = open_store(sqlite_uri)
    try:
        with pytest.raises(InvalidInput, match="not an MLflow tracking database"):
            _import(store, tmp_path / "blobs", sqlite_uri)  # Perennia's own database
        with pytest.raises(InvalidInput, match="not a database URI"):
            _import(store, tmp_path / "blobs", str(tmp_path / "mlruns"))
        with pytest.raises(InvalidInput, match="cannot open the database"):
            _import(store, tmp_path / "blobs", "postgresql://127.0.0.1:1/nothing")
        store.experiments.create("elsewhere")
        store.experiments.create("fraud")  # id 2 here, id 1 in MLflow
        with pytest.raises(Conflict, match="collides with Perennia"):
            _import(store, tmp_path / "blobs", mlflow_store[0])
    finally:
        store.close()


def test_the_cli_prints_a_summary_and_one_line_errors(mlflow_store, tmp_path: Path, sqlite_uri):
    env = {
        **os.environ,
        "PERENNIA_HOME": str(tmp_path / "home"),
        "PERENNIA_TRACKING_URI": sqlite_uri,
        "PERENNIA_ARTIFACTS_URI": str(tmp_path / "blobs"),
        "COLUMNS": "120",
    }
    command = [sys.executable, "-m", "perennia.cli.main", "import", "mlflow", "--from"]
    ok = subprocess.run([*command, mlflow_store[0]], env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "metric points" in ok.stdout and "copied" in ok.stdout
    bad = subprocess.run([*command, sqlite_uri], env=env, capture_output=True, text=True)
    assert bad.returncode == 1
    assert len(bad.stderr.strip().splitlines()) == 1 and "not an MLflow" in bad.stderr
