"""Where the prediction log's files live: a local folder or an S3 prefix, written atomically.

Both sinks speak in keys relative to the location (`predictions/deployment=a/date=.../part-...`).
A local part is written to a hidden temp file in its own folder (`.part-....parquet.<hex>.tmp`),
synced, then renamed over its final name, so a reader sees a whole file or none; S3 puts are
atomic already. Readers list only `part-*.parquet` names, so temp files left by a killed writer
are never read (DuckDB's `*.parquet` glob and Spark's hidden-file rule skip them too).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any, Protocol

from perennia.artifacts.s3 import error_code, parse_s3_uri, s3_client
from perennia.data.predlog_format import FORMAT_KEY, FORMAT_VERSION, is_part
from perennia.errors import InvalidInput, NotFound, StoreUnavailable


class Sink(Protocol):
    """The few file operations the prediction log needs."""

    location: str

    def write_table(self, key: str, table: Any) -> None:
        """Write `table` as one Parquet file at `key`, atomically."""

    def children(self, prefix: str) -> list[str]:
        """Return the names of the folders directly under `prefix`."""

    def parts(self, prefix: str) -> list[str]:
        """Return the names of the finished part files directly under `prefix`."""

    def open(self, key: str) -> Any:
        """Return something `pyarrow.parquet.ParquetFile` can read for `key`."""


def open_sink(location: str, client: Any = None) -> Sink:
    """Return the sink for a folder path, `file:///path` or `s3://bucket/prefix`."""
    if not isinstance(location, str) or not location:
        raise InvalidInput(
            f"prediction log location {location!r} must be a folder path or s3://bucket/prefix"
        )
    if location.startswith("s3://"):
        return S3Sink(location, client)
    if location.startswith("file://"):
        location = location[len("file://") :]
    if "://" in location:
        raise InvalidInput(
            f"prediction log location {location!r} is not supported;"
            " use a folder path, file:///path or s3://bucket/prefix"
        )
    return LocalSink(location)


def write_parquet(table: Any, target: Any) -> None:
    """Write `table` to a path or file object as Parquet with the format's marker."""
    import pyarrow.parquet as pq

    metadata = dict(table.schema.metadata or {})
    metadata[FORMAT_KEY] = FORMAT_VERSION
    pq.write_table(table.replace_schema_metadata(metadata), target, compression="zstd")


class LocalSink:
    """Part files in a local (or mounted) folder."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()
        self.location = str(self.root)

    def write_table(self, key: str, table: Any) -> None:
        """Write `table` to `<root>/<key>` through a synced temp file and a rename."""
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.tmp"
        try:
            with open(temp, "wb") as handle:
                write_parquet(table, handle)
                handle.flush()
                # Without the sync a power cut after the rename can leave a named, empty file.
                os.fsync(handle.fileno())
            os.replace(temp, path)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise

    def children(self, prefix: str) -> list[str]:
        """Return the names of the folders directly under `<root>/<prefix>` (none if absent)."""
        try:
            with os.scandir(self.root / prefix) as entries:
                return sorted(e.name for e in entries if e.is_dir())
        except (FileNotFoundError, NotADirectoryError):
            return []

    def parts(self, prefix: str) -> list[str]:
        """Return the names of the finished part files directly under `<root>/<prefix>`."""
        try:
            with os.scandir(self.root / prefix) as entries:
                return sorted(e.name for e in entries if is_part(e.name) and e.is_file())
        except (FileNotFoundError, NotADirectoryError):
            return []

    def open(self, key: str) -> Any:
        """Return the file's path (pyarrow then reads only the columns asked for)."""
        return str(self.root / key)


class S3Sink:
    """Part files under a key prefix of an S3 bucket (boto3; endpoint from boto3's config)."""

    def __init__(self, location: str, client: Any = None) -> None:
        self.location = location
        self.bucket, self.prefix = parse_s3_uri(location, "prediction log location")
        self.client = client if client is not None else s3_client("an S3 prediction log")

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def write_table(self, key: str, table: Any) -> None:
        """Upload `table` as one object (a single PUT is atomic: readers see all or nothing)."""
        import pyarrow as pa

        buffer = pa.BufferOutputStream()
        write_parquet(table, buffer)
        body = buffer.getvalue().to_pybytes()
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=body)

    def _listing(self, prefix: str) -> tuple[list[str], list[str]]:
        """Return (folder names, object names) directly under `prefix`."""
        from botocore.exceptions import ClientError

        base = self._key(prefix).rstrip("/") + "/"
        folders: list[str] = []
        objects: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=base, Delimiter="/"):
                for item in page.get("CommonPrefixes", []):
                    folders.append(item["Prefix"][len(base) :].rstrip("/"))
                for item in page.get("Contents", []):
                    objects.append(item["Key"][len(base) :])
        except ClientError as error:
            if error_code(error) == "NoSuchBucket":
                raise NotFound(
                    f"bucket {self.bucket!r} of {self.location} does not exist"
                ) from None
            raise StoreUnavailable(f"cannot list {self.location}/{prefix}: {error}") from None
        return sorted(folders), sorted(objects)

    def children(self, prefix: str) -> list[str]:
        """Return the names of the 'folders' (common prefixes) directly under `prefix`."""
        return self._listing(prefix)[0]

    def parts(self, prefix: str) -> list[str]:
        """Return the names of the part objects directly under `prefix`."""
        return [name for name in self._listing(prefix)[1] if is_part(name)]

    def open(self, key: str) -> Any:
        """Return the object's bytes as an Arrow buffer reader."""
        import pyarrow as pa
        from botocore.exceptions import ClientError

        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except ClientError as error:
            raise StoreUnavailable(f"cannot read {self.location}/{key}: {error}") from None
        return pa.BufferReader(body)
