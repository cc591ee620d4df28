"""Model URIs: a local folder, `runs:/<run_id>/<path>`, and `models:/name/version|latest|@alias`.

A `models:/` URI is resolved by reading the store's versions and aliases directly: the registry SDK
(`perennia.registry`) sits above this package and builds on it, never the other way round.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from perennia.errors import InvalidInput

if TYPE_CHECKING:
    from perennia.entities import ModelVersion
    from perennia.store.base import Store

_RUNS = re.compile(r"^runs:/(?P<run>[0-9a-f]{32})/(?P<path>.+)$")
_MODELS = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<version>\d+|latest)|@(?P<alias>[^/]+))$")


@dataclass(frozen=True)
class ModelInfo:
    """Where `log_model` put a package: its run, path, URI, manifest digest and flavor."""

    run_id: str
    artifact_path: str
    model_uri: str
    digest: str
    flavor: str
    signature: dict[str, Any] | None
    registered_version: int | None = None


def local_folder(
    uri: str | Path, dst_path: str | Path | None = None, *, client: Any = None
) -> tuple[Path, str | None]:
    """Return (a local folder holding the package, the manifest digest it must have or None).

    `client` (a tracking Client) is the store `models:/` and `runs:/` URIs are read from;
    by default, the process's own.
    """
    text = str(uri)
    expected = None
    if client is None and text.startswith(("models:/", "runs:/")):
        from perennia.tracking.client import Client

        client = Client()
    if text.startswith("models:/"):
        version = resolve_models_uri(client.store, text)
        text, expected = version.source, version.digest
    match = _RUNS.match(text)
    if match:
        target = Path(dst_path) if dst_path else Path(tempfile.mkdtemp(prefix="perennia-model-"))
        local = client.download_artifacts(match["run"], match["path"], target)
        return Path(local), expected
    if text.startswith("runs:/"):
        raise InvalidInput(f"{text!r} is not runs:/<32-hex run id>/<artifact path>")
    if "://" in text:
        raise InvalidInput(f"{text!r}: load models from a folder, runs:/ or models:/ URIs")
    return Path(text), expected


def resolve_models_uri(store: Store, uri: str) -> ModelVersion:
    """Return the version `models:/name/version`, `models:/name/latest` or `models:/name@alias` names."""
    match = _MODELS.match(uri)
    if not match:
        raise InvalidInput(
            f"{uri!r:.120} is not models:/<name>/<version>, models:/<name>/latest or "
            "models:/<name>@<alias>"
        )
    name = match["name"]
    if match["alias"]:
        return store.aliases.get_version_by_alias(name, match["alias"])
    if match["version"] == "latest":
        return store.versions.get_latest_version(name)
    return store.versions.get_model_version(name, int(match["version"]))
