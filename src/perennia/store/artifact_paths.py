"""Artifact path validation: a path names a file inside a run's artifact tree, never outside it.

Rejected in every spelling MLflow's CVE record shows: `..`, absolute and drive paths, backslashes,
NUL and control characters, percent-encoding (so `%2e%2e` and `%252e` never decode into `..`),
and `#` / `?`, which would split a URI.

The rules belong to the manifest (the store's `artifacts` part), so they live in the store
layer: every backend checks them as the authority, and the artifact repository (tracking) and
the server's routes check them early with the same function.
"""

from __future__ import annotations

import re

from perennia.errors import InvalidArtifactPath
from perennia.store.limits import ARTIFACT_PATH_LENGTH

_PERCENT_ENCODED = re.compile(r"%[0-9A-Fa-f]{2}")
_DRIVE = re.compile(r"^[A-Za-z]:")
_FORBIDDEN = {"\\": "a backslash", "#": "'#'", "?": "'?'", "\x00": "a NUL byte"}


def validate_artifact_path(path: object, *, allow_empty: bool = False) -> str:
    """Return the canonical form (`a/b/c.txt`) of a relative artifact path, else raise InvalidArtifactPath."""
    if not isinstance(path, str):
        raise InvalidArtifactPath(f"artifact path must be a string, got {type(path).__name__}")
    if path in ("", "."):
        if allow_empty:
            return ""
        raise InvalidArtifactPath(f"artifact path {path!r} must not be empty")
    if len(path) > ARTIFACT_PATH_LENGTH:
        raise InvalidArtifactPath(
            f"artifact path {path[:60]!r}... is {len(path)} characters; the limit is {ARTIFACT_PATH_LENGTH}"
        )
    for char, name in _FORBIDDEN.items():
        if char in path:
            raise InvalidArtifactPath(
                f"artifact path {path!r} contains {name}; use plain '/'-separated names"
            )
    if any(ord(c) < 32 or ord(c) == 127 for c in path):
        raise InvalidArtifactPath(f"artifact path {path!r} contains a control character")
    if _PERCENT_ENCODED.search(path):
        raise InvalidArtifactPath(
            f"artifact path {path!r} contains percent-encoding; pass the decoded name"
        )
    if path.startswith("/") or _DRIVE.match(path) or path.startswith("~"):
        raise InvalidArtifactPath(
            f"artifact path {path!r} must be relative to the run, e.g. 'plots/roc.png'"
        )
    parts = path.rstrip("/").split("/")
    for part in parts:
        if part in ("", ".", ".."):
            raise InvalidArtifactPath(
                f"artifact path {path!r} has an empty, '.' or '..' segment; it must stay inside the run"
            )
        if part != part.strip():
            raise InvalidArtifactPath(
                f"artifact path {path!r} has a segment with leading or trailing spaces"
            )
    return "/".join(parts)


def join_artifact_path(directory: str | None, name: str) -> str:
    """Return `directory/name` validated, treating a None or empty directory as the run's root."""
    directory = validate_artifact_path(directory or "", allow_empty=True)
    # The name is checked alone too: "///" would otherwise collapse into the directory itself.
    name = validate_artifact_path(name)
    return validate_artifact_path(f"{directory}/{name}" if directory else name)
