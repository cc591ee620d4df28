"""A folder of 100,000 small files registered and fetched: Perennia snapshots against DVC.

Perennia: `write_snapshot` into a local folder blob store (hash once, pack small files, upload
in parallel), then `fetch_files` into an empty folder. DVC, on the same files: `dvc add` plus
`dvc push` to a local remote, then `dvc pull` from a clean cache. Each side runs once (the
work is minutes long for DVC); set BENCH_FOLDER_FILES for a smaller folder. DVC is found as
$DVC or the `dvc` command; without it only Perennia's figures and the 60 s target are checked.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from pathlib import Path

from common import Result, emit, fresh_dir, median_seconds

FILES = int(os.environ.get("BENCH_FOLDER_FILES", "100000"))
PER_FOLDER = 1000
TARGET_SECONDS = 60.0


def make_folder(root: Path, files: int = FILES) -> Path:
    """Write `files` random files of 200-2,000 bytes under root/data, 1,000 per subfolder."""
    rng = random.Random(0)
    data = root / "data"
    for i in range(files):
        folder = data / f"part{i // PER_FOLDER:04d}"
        if i % PER_FOLDER == 0:
            folder.mkdir(parents=True)
        (folder / f"item{i:06d}.bin").write_bytes(rng.randbytes(rng.randint(200, 2000)))
    return data


def perennia_seconds(data: Path) -> tuple[float, float]:
    """Return (register, fetch) seconds for Perennia on the folder."""
    from perennia.artifacts.local import LocalBlobStore
    from perennia.data.snapshots import fetch_files, write_snapshot

    blobs = LocalBlobStore(fresh_dir("blobs"))
    snapshots = []
    register = median_seconds(lambda: snapshots.append(write_snapshot(blobs, data)), 1)
    target = fresh_dir("fetch") / "out"
    fetch = median_seconds(lambda: fetch_files(blobs, snapshots[0].digest, target), 1)
    shutil.rmtree(blobs.root, ignore_errors=True)
    shutil.rmtree(target.parent, ignore_errors=True)
    return register, fetch


def dvc_command() -> str | None:
    """Return the dvc executable, or None when DVC is not installed."""
    return os.environ.get("DVC") or shutil.which("dvc")


def dvc_seconds(dvc: str, data: Path) -> tuple[float, float]:
    """Return (add + push, pull from a clean cache) seconds for DVC on a copy of the folder."""
    repo = fresh_dir("dvc")
    remote = fresh_dir("dvc-remote")
    shutil.copytree(data, repo / "data")

    def run(*args: str) -> None:
        subprocess.run([dvc, *args], cwd=repo, check=True, capture_output=True)

    run("init", "--no-scm")
    run("config", "core.analytics", "false")
    run("remote", "add", "-d", "local", str(remote))
    register = median_seconds(lambda: (run("add", "data"), run("push")), 1)
    shutil.rmtree(repo / "data")
    shutil.rmtree(repo / ".dvc" / "cache", ignore_errors=True)
    fetch = median_seconds(lambda: run("pull"), 1)
    shutil.rmtree(repo, ignore_errors=True)
    shutil.rmtree(remote, ignore_errors=True)
    return register, fetch


def main() -> list[Result]:
    """Return the register and fetch comparisons."""
    work = fresh_dir("folder")
    data = make_folder(work)
    ours_register, ours_fetch = perennia_seconds(data)
    dvc = dvc_command()
    theirs = dvc_seconds(dvc, data) if dvc else (float("nan"), float("nan"))
    shutil.rmtree(work, ignore_errors=True)
    note = f"{FILES:,} files of 200-2,000 bytes, one run each"
    target = f"< {TARGET_SECONDS:.0f} s and >= 1x"
    if dvc is None:
        note += "; DVC not installed (pip install dvc), so no anchor"
        target = f"< {TARGET_SECONDS:.0f} s (no anchor)"
    return [
        Result(
            f"folder register ({FILES:,} files)",
            ours_register,
            theirs[0],
            "s",
            "dvc add + dvc push",
            target,
            ours_register < TARGET_SECONDS and not ours_register > theirs[0],
            note,
        ),
        Result(
            f"folder fetch ({FILES:,} files)",
            ours_fetch,
            theirs[1],
            "s",
            "dvc pull, clean cache",
            target,
            ours_fetch < TARGET_SECONDS and not ours_fetch > theirs[1],
            note,
        ),
    ]


if __name__ == "__main__":
    emit(main())
