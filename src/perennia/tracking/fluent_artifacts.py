"""The fluent artifact calls (`perennia.log_artifact`, `log_text`, `log_dict`, `log_figure`, ...).

They write to the active run of `perennia.tracking.fluent`; bytes go to the experiment's blob
store and the manifest to the metadata store, durable when the call returns.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from perennia.errors import InvalidInput
from perennia.tracking.fluent import _context, _run_id


def _repository():
    rid = _run_id()
    return rid, _context().repository_for_run(rid)


def log_artifact(local_path: str | Path, artifact_path: str | None = None) -> None:
    """Store a local file as an artifact of the active run."""
    rid, repository = _repository()
    repository.log_file(rid, local_path, artifact_path)


def log_artifacts(local_dir: str | Path, artifact_path: str | None = None) -> None:
    """Store every file under a local folder as artifacts of the active run."""
    rid, repository = _repository()
    repository.log_dir(rid, local_dir, artifact_path)


def log_text(text: str, artifact_file: str) -> None:
    """Store text as an artifact file of the active run."""
    rid, repository = _repository()
    repository.log_bytes(rid, text.encode("utf-8"), artifact_file)


def log_dict(dictionary: dict[str, Any], artifact_file: str) -> None:
    """Store a dict as a JSON (or, for .yaml/.yml, YAML) artifact file of the active run."""
    if artifact_file.endswith((".yaml", ".yml")):
        try:
            import yaml
        except ImportError:
            raise InvalidInput(
                f"{artifact_file!r}: YAML output needs PyYAML; use a .json name"
            ) from None
        data = yaml.safe_dump(dictionary, sort_keys=True).encode("utf-8")
    else:
        data = json.dumps(dictionary, indent=2, sort_keys=True, default=str).encode("utf-8")
    rid, repository = _repository()
    repository.log_bytes(rid, data, artifact_file)


def log_figure(figure: Any, artifact_file: str, *, dpi: int = 120) -> None:
    """Store a matplotlib figure as an image artifact (format from the file extension)."""
    if not hasattr(figure, "savefig"):
        raise InvalidInput(f"log_figure needs a matplotlib Figure, got {type(figure).__name__}")
    suffix = Path(artifact_file).suffix or ".png"
    with tempfile.TemporaryDirectory(prefix="perennia-") as tmp:
        path = Path(tmp) / f"figure{suffix}"
        figure.savefig(path, dpi=dpi, bbox_inches="tight")
        rid, repository = _repository()
        repository.log_bytes(rid, path.read_bytes(), artifact_file)
