"""Where a run comes from: the script path, the git commit and the user, found without subprocesses."""

from __future__ import annotations

import functools
import getpass
import sys
from pathlib import Path


@functools.cache
def source_name() -> str:
    """Return the absolute path of the running script, or a label for interactive sessions."""
    main = sys.argv[0] if sys.argv else ""
    if main and main not in ("-c", "-m") and Path(main).is_file():
        return str(Path(main).resolve())
    return "<interactive>" if not main or main == "-c" else main


def _find_git_dir(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        candidate = folder / ".git"
        if candidate.is_dir():
            return candidate
        if candidate.is_file():  # a worktree or submodule: "gitdir: <path>"
            text = candidate.read_text(errors="replace").strip()
            if text.startswith("gitdir:"):
                return (folder / text.split(":", 1)[1].strip()).resolve()
    return None


def _resolve_ref(git_dir: Path, ref: str) -> str | None:
    for base in (git_dir, _common_dir(git_dir)):
        loose = base / ref
        if loose.is_file():
            return loose.read_text().strip() or None
        packed = base / "packed-refs"
        if packed.is_file():
            for line in packed.read_text(errors="replace").splitlines():
                sha, _, name = line.partition(" ")
                if name.strip() == ref:
                    return sha
    return None


def _common_dir(git_dir: Path) -> Path:
    common = git_dir / "commondir"
    return (git_dir / common.read_text().strip()).resolve() if common.is_file() else git_dir


@functools.cache
def git_commit(start: str | None = None) -> str | None:
    """Return the commit checked out in the repository around the script (or cwd), if any."""
    try:
        origin = (
            Path(start)
            if start
            else Path(source_name()).parent
            if Path(source_name()).is_file()
            else Path.cwd()
        )
        git_dir = _find_git_dir(origin.resolve())
        if git_dir is None:
            return None
        head = (git_dir / "HEAD").read_text().strip()
        if head.startswith("ref:"):
            return _resolve_ref(git_dir, head[4:].strip())
        return head or None
    except OSError:
        return None


@functools.cache
def current_user() -> str | None:
    """Return the login name of the user running the process."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None
