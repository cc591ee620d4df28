"""Where an MLflow run's artifacts are, and a local folder holding them (a local root as is, an
S3 prefix downloaded through boto3 into a temporary folder)."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlparse

from perennia.errors import InvalidInput


def run_artifact_uri(run: dict, artifacts_from: str | None) -> str | None:
    """Return where the run's artifact files are: its `artifact_uri`, or with `artifacts_from`
    the same layout (`<experiment>/<run>/artifacts`) under that root; None if it has none."""
    uri = run.get("artifact_uri") or ""
    if uri.startswith("mlflow-artifacts:"):
        # Proxied by an MLflow server: the path is relative to the server's --artifacts-destination.
        if not artifacts_from:
            raise InvalidInput(
                f"run {run['run_uuid']!r} keeps its artifacts behind an MLflow server ({uri}); "
                "pass --artifacts-from with that server's --artifacts-destination"
            )
        relative = uri.split(":", 1)[1].lstrip("/")
        return f"{artifacts_from.rstrip('/')}/{relative}"
    if artifacts_from:
        return f"{artifacts_from.rstrip('/')}/{run['experiment_id']}/{run['run_uuid']}/artifacts"
    return uri or None


@contextlib.contextmanager
def local_artifacts(uri: str | None) -> Iterator[Path | None]:
    """Yield a local folder with the files under `uri` (None when there are none)."""
    if not uri:
        yield None
        return
    parsed = urlparse(uri)
    if parsed.scheme == "s3":
        with tempfile.TemporaryDirectory(prefix="perennia-import-") as tmp:
            count = _download_s3(parsed.netloc, parsed.path.lstrip("/"), Path(tmp))
            yield Path(tmp) if count else None
        return
    if parsed.scheme in ("", "file"):
        folder = Path(unquote(parsed.path) if parsed.scheme == "file" else uri)
        yield folder if folder.is_dir() else None
        return
    raise InvalidInput(
        f"artifact location {uri!r} is not a local folder or s3:// URI; copy the artifacts "
        "to one and pass it with --artifacts-from"
    )


def _download_s3(bucket: str, prefix: str, target: Path) -> int:
    """Download every object under the prefix into `target`; return how many files."""
    import boto3

    client = boto3.client("s3")
    prefix = prefix.rstrip("/") + "/"
    count = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            relative = item["Key"][len(prefix) :]
            if not relative or relative.endswith("/"):
                continue  # a folder marker, not a file
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            client.download_file(bucket, item["Key"], str(destination))
            count += 1
    return count
