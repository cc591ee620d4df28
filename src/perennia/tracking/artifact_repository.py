"""`ArtifactRepository`: a run's artifact tree, with bytes in a `BlobStore` and paths in the manifest.

Writes hash first, store the blob (once per digest), then record the manifest entry; reads
verify the digest while copying and refuse bytes that changed since they were logged.

It joins the two sibling layers below it, the blob stores (`perennia.artifacts`) and the
metadata store's manifest (`store.artifacts`), which is why it lives in tracking, above both.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from perennia.artifacts.base import BlobStore
from perennia.artifacts.digests import HashingWriter, sha256_file
from perennia.artifacts.local import FILE_MODE
from perennia.entities import ArtifactEntry, FileInfo
from perennia.errors import IntegrityError, InvalidArtifactPath, InvalidInput, NotFound
from perennia.store.artifact_paths import join_artifact_path, validate_artifact_path
from perennia.store.base import ArtifactIndex


class ArtifactRepository:
    """Log, list and download the artifacts of runs."""

    def __init__(self, blobs: BlobStore, index: ArtifactIndex) -> None:
        self.blobs = blobs
        self.index = index

    def log_file(
        self, run_id: str, local_path: str | Path, artifact_path: str | None = None
    ) -> ArtifactEntry:
        """Store one local file under `artifact_path/<file name>` and return its manifest entry."""
        source = Path(local_path)
        if not source.is_file():
            raise InvalidInput(
                f"{str(source)!r} is not a file; pass a file path (or use log_artifacts for a folder)"
            )
        path = join_artifact_path(artifact_path, source.name)
        self._check_tree(run_id, [path])
        entry = self._store(source, path)
        self.index.record(run_id, [entry])
        return entry

    def log_dir(
        self, run_id: str, local_dir: str | Path, artifact_path: str | None = None
    ) -> list[ArtifactEntry]:
        """Store every file under a local folder, keeping its layout, and return the entries."""
        root = Path(local_dir)
        if not root.is_dir():
            raise InvalidInput(f"{str(root)!r} is not a directory")
        files: list[tuple[Path, str]] = []
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            dirnames.sort()
            for name in sorted(filenames):
                source = Path(dirpath) / name
                if source.is_symlink():
                    continue  # a link could point anywhere on the machine; only real files are logged
                relative = source.relative_to(root).as_posix()
                files.append((source, join_artifact_path(artifact_path, relative)))
        # Every path is checked before any blob is written, so a bad name stores nothing.
        if files:
            self._check_tree(run_id, [path for _, path in files])
        entries = [self._store(source, path) for source, path in files]
        if entries:
            self.index.record(run_id, entries)
        return entries

    def log_bytes(self, run_id: str, data: bytes, artifact_file: str) -> ArtifactEntry:
        """Store bytes as the artifact file `artifact_file` and return its entry."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise InvalidInput(
                f"log_bytes needs bytes, got {type(data).__name__}; encode text first"
            )
        path = validate_artifact_path(artifact_file)
        self._check_tree(run_id, [path])
        fd, tmp = tempfile.mkstemp(prefix="perennia-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            entry = self._store(Path(tmp), path)
        finally:
            Path(tmp).unlink(missing_ok=True)
        self.index.record(run_id, [entry])
        return entry

    def _check_tree(self, run_id: str, paths: list[str]) -> None:
        """Raise InvalidArtifactPath if a new path would be a file and a directory at once."""
        # Only the subtrees the new paths live in can clash, so only those are read.
        existing = {
            entry.path
            for top in {p.split("/", 1)[0] for p in paths}
            for entry in self.index.list(run_id, top)
        }
        files = existing | set(paths)
        directories = {f.rsplit("/", i)[0] for f in files for i in range(1, f.count("/") + 1)}
        for path in paths:
            parts = path.split("/")
            parents = ["/".join(parts[:i]) for i in range(1, len(parts))]
            clash = next((parent for parent in parents if parent in files), None)
            if clash is not None:
                raise InvalidArtifactPath(
                    f"artifact path {path!r} would be inside {clash!r}, which is a file of run {run_id!r}"
                )
            if path in directories:
                raise InvalidArtifactPath(
                    f"artifact path {path!r} is a directory of run {run_id!r}; pick another name"
                )

    def _store(self, source: Path, path: str) -> ArtifactEntry:
        digest, size = sha256_file(source)
        self.blobs.put_file(digest, source)
        return ArtifactEntry(path, digest, size)

    def list(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        """Return the files and directories directly under `path` (the run's root by default)."""
        prefix = validate_artifact_path(path or "", allow_empty=True)
        entries = self.index.list(run_id, prefix)
        if len(entries) == 1 and entries[0].path == prefix:
            entry = entries[0]
            return [FileInfo(entry.path, False, entry.size, entry.digest)]
        start = len(prefix) + 1 if prefix else 0
        seen_dirs: set[str] = set()
        result: list[FileInfo] = []
        for entry in entries:
            rest = entry.path[start:]
            head, sep, _ = rest.partition("/")
            child = f"{prefix}/{head}" if prefix else head
            if sep:
                if child not in seen_dirs:
                    seen_dirs.add(child)
                    result.append(FileInfo(child, True))
            else:
                result.append(FileInfo(child, False, entry.size, entry.digest))
        return result

    def read_bytes(self, run_id: str, path: str) -> bytes:
        """Return one artifact's bytes after checking them against the recorded digest."""
        entry = self.index.get(run_id, validate_artifact_path(path))
        with tempfile.TemporaryFile() as handle:
            self._copy_verified(run_id, entry, handle)
            handle.seek(0)
            return handle.read()

    def download(self, run_id: str, path: str | None, dst_dir: str | Path) -> Path:
        """Download a file or a whole directory of artifacts into `dst_dir`; return the local path."""
        prefix = validate_artifact_path(path or "", allow_empty=True)
        entries = self.index.list(run_id, prefix)
        if not entries:
            raise NotFound(f"run {run_id!r} has no artifact at {prefix or '/'!r}")
        destination = Path(dst_dir).resolve()
        for entry in entries:
            target = (destination / entry.path).resolve()
            if not target.is_relative_to(
                destination
            ):  # defence in depth: paths are validated on write
                raise IntegrityError(f"manifest path {entry.path!r} escapes the download folder")
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as handle:
                    self._copy_verified(run_id, entry, handle)
                os.chmod(tmp, FILE_MODE)  # mkstemp's 0600 is for the temp file, not the download
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return destination / prefix if prefix else destination

    def _copy_verified(self, run_id: str, entry: ArtifactEntry, handle) -> None:
        writer = HashingWriter(handle)
        self.blobs.read_into(entry.digest, writer)
        actual = writer.hexdigest()
        if actual != entry.digest or writer.size != entry.size:
            raise IntegrityError(
                f"artifact {entry.path!r} of run {run_id!r} is corrupted: expected sha256 {entry.digest} "
                f"({entry.size} bytes), read {actual} ({writer.size} bytes)"
            )

    def delete_unreferenced(self, grace_seconds: float = 3600.0) -> int:
        """Delete blobs no manifest refers to any more; return how many.

        Blobs younger than the grace period are kept: a writer stores the blob before it records
        the manifest entry, and that window must not look like garbage.
        """
        in_use = self.index.digests_in_use()
        removed = 0
        for digest in list(self.blobs.digests(older_than=time.time() - grace_seconds)):
            if digest not in in_use:
                self.blobs.delete(digest)
                removed += 1
        return removed
