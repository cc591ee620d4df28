"""A model package as one byte string, for engines that ship it to their workers (Spark, Ray).

A worker may not see the driver's files or the tracking store, so the driver packs the package
it verified into a tar held in memory, the engine ships the bytes (a Spark broadcast, a Ray
object), and each worker unpacks them once, checks them against the manifest digest the driver
read, and keeps the loaded model for every later batch of its process.
"""

from __future__ import annotations

import atexit
import io
import shutil
import tarfile
import tempfile
import threading
from pathlib import Path
from typing import Any

from perennia.errors import IntegrityError

_LOADED: dict[tuple[str, bool, tuple[str, ...]], Any] = {}
_LOCK = threading.Lock()


def pack(folder: str | Path) -> bytes:
    """Return the package folder's files as an uncompressed tar (model files rarely shrink)."""
    folder = Path(folder)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                archive.add(file, arcname=file.relative_to(folder).as_posix(), recursive=False)
    return buffer.getvalue()


def unpack(data: bytes, target: str | Path) -> Path:
    """Return `target` after extracting the package tar into it; regular files only."""
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r") as archive:
        for member in archive.getmembers():
            if not member.isfile() or member.name.startswith("/") or ".." in member.name.split("/"):
                raise IntegrityError(
                    f"shipped model archive holds {member.name!r}, which is not a plain file "
                    "inside the package; refusing it"
                )
        # The "data" filter refuses links, device files and paths outside the target again.
        archive.extractall(target, filter="data")
    return target


def load_packed(
    data: bytes,
    digest: str,
    *,
    allow_pickle: bool = False,
    trusted_types: list[str] | None = None,
) -> Any:
    """Return the LoadedModel in a packed package, unpacked and verified once per process."""
    key = (digest, allow_pickle, tuple(sorted(trusted_types or [])))
    with _LOCK:
        model = _LOADED.get(key)
        if model is None:
            from perennia.models.package import load_folder

            folder = Path(tempfile.mkdtemp(prefix="perennia-shipped-"))
            atexit.register(shutil.rmtree, folder, True)
            unpack(data, folder)
            model = load_folder(
                folder,
                allow_pickle=allow_pickle,
                trusted_types=list(trusted_types or []),
                expected_digest=digest,
            )
            _LOADED[key] = model
    return model


def packed_package(uri: str | Path) -> tuple[bytes, str]:
    """Return (the package at `uri` packed, its manifest digest), verified before packing."""
    from perennia.models.package import package_digest, verify
    from perennia.models.uri import local_folder

    with tempfile.TemporaryDirectory(prefix="perennia-pack-") as tmp:
        folder, expected = local_folder(uri, Path(tmp) / "package")
        data = pack(folder)
        # Verify what is shipped, not the folder: a file changed after packing cannot slip in.
        shipped = unpack(data, Path(tmp) / "shipped")
        verify(shipped, expected)
        return data, package_digest(shipped)
