"""The folder where uploads are spooled while their digest is checked, swept of abandoned spools.

A worker killed mid-upload leaves its spool behind; spools untouched for `stale_seconds` (an
upload in progress keeps touching its file) are removed when the server starts and, after that,
at most every few minutes as uploads come in. The folder is private to the server's user: a
folder someone else owns, or a symlink, is refused rather than written into.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from perennia.errors import StoreUnavailable

logger = logging.getLogger(__name__)
_SWEEP_EVERY = 300.0
_PREFIX = "upload-"


class UploadSpool:
    """Private temporary folders for uploads, and the sweeping of abandoned ones."""

    def __init__(self, folder: Path, stale_seconds: float) -> None:
        self.folder = Path(folder)
        self.stale_seconds = stale_seconds
        self._last_sweep = 0.0
        self._lock = threading.Lock()
        self._prepare()
        self.sweep()

    def _prepare(self) -> None:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.lstat(self.folder)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
            raise StoreUnavailable(
                f"upload folder {str(self.folder)!r} is not a directory owned by this user; "
                "remove it or set PERENNIA_UPLOAD_DIR to a private folder"
            )
        os.chmod(self.folder, 0o700)

    def sweep(self) -> int:
        """Remove spools untouched for `stale_seconds`; return how many."""
        self._last_sweep = time.monotonic()
        cutoff = time.time() - self.stale_seconds
        removed = 0
        for entry in self.folder.iterdir():
            if entry.name.startswith(_PREFIX) and _newest_mtime(entry) < cutoff:
                shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(
                    missing_ok=True
                )
                removed += 1
        if removed:
            logger.info("removed %d abandoned upload spool(s) from %s", removed, self.folder)
        return removed

    @contextmanager
    def spool(self) -> Iterator[Path]:
        """Yield a fresh private folder for one upload, removed when the upload ends."""
        with self._lock:
            due = time.monotonic() - self._last_sweep > _SWEEP_EVERY
            if due:
                self._last_sweep = time.monotonic()
        if due:
            self.sweep()
        path = Path(tempfile.mkdtemp(prefix=_PREFIX, dir=self.folder))
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)


def _newest_mtime(path: Path) -> float:
    try:
        newest = path.lstat().st_mtime
        if path.is_dir() and not path.is_symlink():
            for child in path.rglob("*"):
                newest = max(newest, child.lstat().st_mtime)
        return newest
    except OSError:
        return 0.0
