"""Model URIs: a local folder, `runs:/<run_id>/<path>`, and `models:/name/version|latest|@alias`."""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perennia.errors import InvalidInput

_RUNS = re.compile(r"^runs:/(?P<run>[0-9a-f]{32})/(?P<path>.+)$")


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


def local_folder(uri: str | Path, dst_path: str | Path | None = None) -> tuple[Path, str | None]:
    """Return (a local folder holding the package, the manifest digest it must have or None)."""
    text = str(uri)
    expected = None
    if text.startswith("models:/"):
        from perennia.registry import resolve

        version = resolve(text)
        text, expected = version.source, version.digest
    match = _RUNS.match(text)
    if match:
        from perennia.tracking.client import Client

        target = Path(dst_path) if dst_path else Path(tempfile.mkdtemp(prefix="perennia-model-"))
        local = Client().download_artifacts(match["run"], match["path"], target)
        return Path(local), expected
    if text.startswith("runs:/"):
        raise InvalidInput(f"{text!r} is not runs:/<32-hex run id>/<artifact path>")
    if "://" in text:
        raise InvalidInput(f"{text!r}: load models from a folder, runs:/ or models:/ URIs")
    return Path(text), expected
