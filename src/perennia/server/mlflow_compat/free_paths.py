"""Files the MLflow artifact proxy keeps at paths outside any run (`mlflow-artifacts:/<path>`).

MLflow's proxy serves any path under its root. Perennia keeps a run's files in its
content-addressed store (see artifacts.py); a path that names no run or logged model is kept as
a plain file under the server's local artifact folder, at that very path, as MLflow's does. Such
paths belong to no experiment, so only administrators use them (everyone, with sign-in off).
Paths are validated like every artifact path, and the store's own folders are out of reach.
"""

from __future__ import annotations

import mimetypes
import os
import shutil
from pathlib import Path
from typing import Any

from perennia.errors import InvalidInput
from perennia.store.artifact_paths import validate_artifact_path

RESERVED = frozenset({"blobs"})  # the content-addressed store's folder under the same root


def folder_of(location: str) -> Path:
    """Return the local folder an artifact location names, or raise InvalidInput if remote."""
    if location.startswith("file://"):
        location = location[len("file://") :]
    if "://" in location:
        raise InvalidInput(
            "paths outside a run need a local artifact folder on the server; "
            f"this server keeps artifacts at {location.split('://')[0]}://"
        )
    return Path(location).expanduser().resolve()


def resolve(root: Path, path: str) -> Path:
    """Return the file or folder `path` names under `root`, once the path is a safe one."""
    inner = validate_artifact_path(path.strip("/"), allow_empty=True)
    first = inner.split("/", 1)[0]
    if first in RESERVED or first.startswith("."):
        raise InvalidInput(f"artifact path {path!r:.80} is reserved for the server's own files")
    target = (root / inner).resolve() if inner else root
    if target != root and root not in target.parents:
        raise InvalidInput(f"artifact path {path!r:.80} leaves the artifact folder")
    return target


def listing(root: Path, path: str) -> list[dict[str, Any]]:
    """Return MLflow's file entries directly under `path` (none for a missing folder)."""
    folder = resolve(root, path)
    if not folder.is_dir():
        return []
    entries = []
    for child in sorted(folder.iterdir(), key=lambda p: p.name):
        if folder == root and (child.name in RESERVED or child.name.startswith(".")):
            continue
        entry: dict[str, Any] = {"path": child.name, "is_dir": child.is_dir()}
        if not child.is_dir():
            entry["file_size"] = child.stat().st_size
        entries.append(entry)
    return entries


def store_file(target: Path, source: Path) -> None:
    """Move the uploaded `source` to `target` (a path `resolve` returned), atomically."""
    if target.is_dir():
        raise InvalidInput(f"artifact {target.name!r:.80} is a folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(f".{target.name}.part")
    shutil.copyfile(source, part)
    os.replace(part, target)


def mime_type(name: str) -> str:
    """Return the Content-Type MLflow serves a file name with (text/plain for extensionless)."""
    guessed, _ = mimetypes.guess_type(name)
    if guessed:
        return guessed
    return "text/plain" if "." not in name else "application/octet-stream"


def download_headers(name: str) -> dict[str, str]:
    """Return the headers every artifact download carries: a file name, and no sniffing."""
    safe = name.replace('"', "").replace("\r", "").replace("\n", "")
    return {
        "Content-Disposition": f'attachment; filename="{safe}"',
        "X-Content-Type-Options": "nosniff",
    }
