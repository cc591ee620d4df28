"""Loading what a server serves: a model URI, or a registered version, digest-checked.

`models:/` URIs are resolved against the store the server was given (not the process's
default), the package is fetched through that store's artifact repository, and every file's
sha256 is checked against the version's manifest digest before a byte of the model is read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class LoadOptions:
    """How packages may be loaded: the store to resolve against and what to trust."""

    tracking_uri: str | None = None
    allow_pickle: bool = False
    trusted_types: tuple[str, ...] = ()


@dataclass(frozen=True)
class LoadedVersion:
    """A verified model and where it came from (registered name and version, when known)."""

    model: Any  # LoadedModel
    name: str
    version: int | None


def client_for(options: LoadOptions) -> Any:
    """Return the tracking Client the loader resolves URIs and downloads packages with."""
    from perennia.tracking.client import Client

    return Client(tracking_uri=options.tracking_uri)


def load_uri(uri: str, options: LoadOptions) -> LoadedVersion:
    """Return the model at a folder, `runs:/` or `models:/` URI, every file digest-checked."""
    from perennia.models.uri import local_folder, resolve_models_uri

    text = str(uri)
    client = client_for(options)
    name, version, expected = _default_name(text), None, None
    if text.startswith("models:/"):  # resolved here: the name and version are wanted too
        registered = resolve_models_uri(client.store, text)
        name, version = registered.name, registered.version
        text, expected = registered.source, registered.digest
    folder, _ = local_folder(text, _download_to(text), client=client)
    return LoadedVersion(_load_folder(folder, expected, options), name, version)


def load_version(name: str, version: int, options: LoadOptions) -> LoadedVersion:
    """Return registered version `version` of model `name`, digest-checked."""
    return load_uri(f"models:/{name}/{int(version)}", options)


def _download_to(uri: str) -> Path | None:
    import tempfile

    if uri.startswith(("models:/", "runs:/")):
        return Path(tempfile.mkdtemp(prefix="perennia-serve-"))
    return None


def _load_folder(folder: Path, expected: str | None, options: LoadOptions) -> Any:
    from perennia.models.package import load_folder

    return load_folder(
        folder,
        allow_pickle=options.allow_pickle,
        trusted_types=list(options.trusted_types),
        expected_digest=expected,
    )


def _default_name(uri: str) -> str:
    # A folder or run artifact has no registered name: the last path segment stands in.
    tail = uri.rstrip("/").rsplit("/", 1)[-1] or "model"
    return re.sub(r"[^A-Za-z0-9_.-]", "-", tail)[:100] or "model"
