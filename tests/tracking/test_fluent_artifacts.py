"""The fluent artifact calls: what goes in comes back byte for byte through `perennia.Client`."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

import perennia
from perennia.errors import InvalidArtifactPath, InvalidInput


def _sha256(data: bytes) -> str:
    """Return the hex sha256 of bytes."""
    return hashlib.sha256(data).hexdigest()


def _tree(root: Path) -> dict[str, bytes]:
    """Return every file under a folder as relative posix path -> bytes."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def source_dir(tmp_path: Path) -> Path:
    """Return a small folder tree with binary and text files."""
    root = tmp_path / "src"
    (root / "nested" / "deeper").mkdir(parents=True)
    (root / "weights.bin").write_bytes(bytes(range(256)) * 40)
    (root / "nested" / "notes.md").write_text("# título\nünïcode ✓\n", encoding="utf-8")
    (root / "nested" / "deeper" / "empty.txt").write_bytes(b"")
    return root


def test_logged_files_and_folders_download_with_identical_bytes(
    tracking: str, source_dir: Path, tmp_path: Path
) -> None:
    with perennia.start_run() as run:
        perennia.log_artifact(source_dir / "weights.bin")
        perennia.log_artifact(source_dir / "weights.bin", artifact_path="copies/v1")
        perennia.log_artifacts(source_dir, artifact_path="tree")
    client = perennia.Client()

    root = {(f.path, f.is_dir) for f in client.list_artifacts(run.run_id)}
    assert root == {("weights.bin", False), ("copies", True), ("tree", True)}
    listed = {f.path: f for f in client.list_artifacts(run.run_id, "tree/nested")}
    notes = (source_dir / "nested" / "notes.md").read_bytes()
    assert listed["tree/nested/notes.md"].file_size == len(notes)
    assert listed["tree/nested/notes.md"].digest == _sha256(notes)
    assert listed["tree/nested/deeper"].is_dir

    out = Path(client.download_artifacts(run.run_id, "tree", tmp_path / "out"))
    assert _tree(out) == _tree(source_dir)
    single = Path(client.download_artifacts(run.run_id, "copies/v1/weights.bin", tmp_path / "one"))
    assert single.read_bytes() == (source_dir / "weights.bin").read_bytes()
    assert (
        client.read_artifact(run.run_id, "weights.bin") == (source_dir / "weights.bin").read_bytes()
    )


def test_log_text_and_log_dict_round_trip(tracking: str, tmp_path: Path) -> None:
    text = "línea 1\nline 2 ✓\n" * 50
    config = {"lr": 0.01, "layers": [64, 32], "name": "mlp", "nested": {"dropout": 0.5}}
    with perennia.start_run() as run:
        perennia.log_text(text, "notes/readme.txt")
        perennia.log_dict(config, "config.json")
        perennia.log_dict(config, "config.yaml")
    client = perennia.Client()
    assert client.read_artifact(run.run_id, "notes/readme.txt") == text.encode("utf-8")
    assert json.loads(client.read_artifact(run.run_id, "config.json")) == config
    yaml = pytest.importorskip("yaml")
    assert yaml.safe_load(client.read_artifact(run.run_id, "config.yaml")) == config
    out = Path(client.download_artifacts(run.run_id, "", tmp_path / "all"))
    assert sorted(_tree(out)) == ["config.json", "config.yaml", "notes/readme.txt"]


def test_log_figure_stores_the_same_image_matplotlib_renders(tracking: str, tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(3, 2))
    axes.plot([0, 1, 2], [2, 0, 1])
    try:
        with perennia.start_run() as run:
            perennia.log_figure(figure, "plots/curve.png", dpi=50)
        # The oracle: the same figure saved the way log_figure documents it.
        reference = tmp_path / "reference.png"
        figure.savefig(reference, dpi=50, bbox_inches="tight")
    finally:
        plt.close(figure)
    stored = perennia.Client().read_artifact(run.run_id, "plots/curve.png")
    assert stored[:8] == b"\x89PNG\r\n\x1a\n"
    assert stored == reference.read_bytes()


def test_traversal_artifact_paths_are_refused_and_store_nothing(
    tracking: str, tmp_path: Path
) -> None:
    (tmp_path / "f.txt").write_text("evil")
    with perennia.start_run() as run:
        perennia.log_text("kept", "kept.txt")
        for bad in ["../escape.txt", "/etc/passwd", "a/../../b.txt", "a//b.txt", "./x", ""]:
            with pytest.raises(InvalidArtifactPath):
                perennia.log_text("evil", bad)
            with pytest.raises(InvalidArtifactPath):
                perennia.log_dict({"evil": True}, bad)
        for bad_dir in ["..", "../..", "/abs", "x/../.."]:
            with pytest.raises(InvalidArtifactPath):
                perennia.log_artifact(tmp_path / "f.txt", artifact_path=bad_dir)
    listed = [f.path for f in perennia.Client().list_artifacts(run.run_id)]
    assert listed == ["kept.txt"]


def test_a_file_cannot_become_a_folder_and_bad_sources_are_refused(
    tracking: str, tmp_path: Path
) -> None:
    with perennia.start_run() as run:
        perennia.log_text("a file", "model")
        with pytest.raises(InvalidArtifactPath):
            perennia.log_text("inside a file", "model/weights.txt")
        with pytest.raises(InvalidInput):
            perennia.log_artifact(tmp_path / "missing.bin")
        with pytest.raises(InvalidInput):
            perennia.log_artifacts(tmp_path / "missing-dir")
        with pytest.raises(InvalidInput):
            perennia.log_figure("not a figure", "plot.png")
    client = perennia.Client()
    assert [f.path for f in client.list_artifacts(run.run_id)] == ["model"]
    assert client.read_artifact(run.run_id, "model") == b"a file"
