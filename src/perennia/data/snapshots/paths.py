"""The rule for a file's path inside a snapshot, checked on write and again on read.

A path is relative, uses "/" between segments and names nothing outside the snapshot's root:
no empty, "." or ".." segment, no leading "/", no backslash (a separator on Windows) and no NUL.
A manifest is data from a blob store, so a hand-made one must not be able to make `fetch_files`
write outside its target; checking on read as well as on write is what guarantees that.
(`fetch_files` also resolves each target folder, so a symlink already in the target cannot
redirect a write.)

Not `store.artifact_paths`: an artifact path travels in URLs, so that rule also refuses `%`,
`#`, `?` and more. A dataset folder's files keep whatever names they have ("50% off.csv"); the
only thing that matters here is that no name leaves the snapshot's root.
"""

from __future__ import annotations

from collections import Counter

from perennia.errors import InvalidArtifactPath

MAX_PATH_LENGTH = 4096


def check_relative_path(path: object) -> str:
    """Return `path` if it is a safe relative "/"-separated path, else raise InvalidArtifactPath."""
    if not isinstance(path, str) or not path or len(path) > MAX_PATH_LENGTH:
        raise InvalidArtifactPath(
            f"snapshot path {path!r:.100} is not accepted; use a non-empty relative path string"
        )
    if path.startswith("/") or "\\" in path or "\x00" in path:
        raise InvalidArtifactPath(
            f"snapshot path {path!r:.100} is not accepted; use a relative path with '/' separators,"
            " without a leading '/', backslashes or NUL"
        )
    wrapped = f"/{path}/"
    if "//" in wrapped or "/./" in wrapped or "/../" in wrapped:
        raise InvalidArtifactPath(
            f"snapshot path {path!r:.100} is not accepted; empty, '.' and '..' segments"
            " could leave the snapshot's folder"
        )
    return path


def check_path_set(paths: list[str]) -> None:
    """Raise InvalidArtifactPath if a path repeats or is also a folder of another path."""
    seen = set(paths)
    if len(seen) != len(paths):
        twice = next(path for path, count in Counter(paths).items() if count > 1)
        raise InvalidArtifactPath(f"snapshot lists the path {twice!r:.100} twice")
    folders: set[str] = set()
    for parent in {p.rpartition("/")[0] for p in paths}:
        while parent and parent not in folders:
            folders.add(parent)
            parent = parent.rpartition("/")[0]
    clash = sorted(folders & seen)
    if clash:
        raise InvalidArtifactPath(
            f"snapshot path {clash[0]!r:.100} is both a file and a folder of other files"
        )
