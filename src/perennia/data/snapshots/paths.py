"""The rule for a file's path inside a snapshot, checked on write and again on read.

A path is relative, uses "/" between segments and names nothing outside the snapshot's root:
no empty, "." or ".." segment, no leading "/", no backslash (a separator on Windows) and no NUL.
A manifest is data from a blob store, so a hand-made one must not be able to make `fetch_files`
write outside its target; checking on read as well as on write is what guarantees that.
"""

from __future__ import annotations

from pathlib import Path

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
        counted: set[str] = set()
        twice = next(p for p in paths if p in counted or counted.add(p))  # type: ignore[func-returns-value]
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


def inside(root: Path, relative: str) -> Path:
    """Return root/relative, raising InvalidArtifactPath unless its folder resolves inside root."""
    target = root.joinpath(*check_relative_path(relative).split("/"))
    # A folder of an existing target may be a symlink; resolving catches a path that lexically
    # stays inside `root` but lands elsewhere on disk.
    parent = target.parent.resolve()
    if parent != root and root not in parent.parents:
        raise InvalidArtifactPath(
            f"snapshot path {relative!r:.100} resolves outside {root}; remove the symlink on its way"
        )
    return target
