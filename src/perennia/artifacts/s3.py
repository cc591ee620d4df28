"""Blobs in S3-compatible storage (AWS, MinIO, moto) through boto3.

The endpoint comes from boto3's own configuration (`AWS_ENDPOINT_URL`, profiles), exactly as
for any other boto3 program; S3 puts are atomic, so no temp-and-rename dance is needed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlparse

from perennia.artifacts.digests import check_digest
from perennia.errors import InvalidInput, NotFound, StoreUnavailable

_MISSING = ("404", "NoSuchKey", "NotFound")  # what S3, MinIO and moto call an absent key


def parse_s3_uri(uri: str, what: str = "artifact URI") -> tuple[str, str]:
    """Return (bucket, prefix) for `s3://bucket/prefix`; `what` names the URI in errors."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise InvalidInput(f"{what} {uri!r} is not of the form s3://bucket/prefix")
    if parsed.query or parsed.fragment or ".." in parsed.path.split("/"):
        raise InvalidInput(f"{what} {uri!r} must not contain '?', '#' or '..'")
    return parsed.netloc, parsed.path.strip("/")


def s3_client(what: str) -> Any:
    """Return a boto3 S3 client; StoreUnavailable naming `what` when boto3 is not installed."""
    try:
        import boto3
    except ImportError:
        raise StoreUnavailable(f"{what} needs boto3: pip install 'perennia[s3]'") from None
    return boto3.client("s3")


def error_code(error: Any) -> str | None:
    """Return the S3 error code of a botocore ClientError ("NoSuchKey", "404", ...)."""
    return error.response.get("Error", {}).get("Code")


class S3BlobStore:
    """The `BlobStore` protocol on an S3 bucket under a key prefix."""

    def __init__(self, uri: str, client=None) -> None:
        self.uri = uri
        self.bucket, self.prefix = parse_s3_uri(uri)
        self.client = client if client is not None else s3_client("S3 artifact storage")

    def _key(self, digest: str) -> str:
        check_digest(digest)
        key = f"blobs/{digest[:2]}/{digest[2:]}"
        return f"{self.prefix}/{key}" if self.prefix else key

    def exists(self, digest: str) -> bool:
        """Return True if a blob with this digest is stored."""
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(digest))
        except ClientError as error:
            if error_code(error) in _MISSING:
                return False
            raise StoreUnavailable(f"cannot reach {self.uri}: {error}") from None
        return True

    def put_file(self, digest: str, source: Path) -> None:
        """Store the file's bytes under `digest` (no-op if already stored)."""
        if self.exists(digest):
            # Refresh LastModified (as the local store refreshes mtime) so garbage collection's
            # grace period protects a blob that is being re-logged, not only freshly written ones.
            from botocore.exceptions import ClientError

            key = self._key(digest)
            try:
                self.client.copy_object(
                    Bucket=self.bucket,
                    Key=key,
                    CopySource={"Bucket": self.bucket, "Key": key},
                    MetadataDirective="REPLACE",
                )
                return
            except ClientError:
                pass  # e.g. over the 5 GB copy limit: upload the bytes again instead
        self.client.upload_file(str(source), self.bucket, self._key(digest))

    def read_into(self, digest: str, target: BinaryIO) -> None:
        """Copy the blob's bytes into `target`; NotFound if it is missing."""
        from botocore.exceptions import ClientError

        try:
            self.client.download_fileobj(self.bucket, self._key(digest), target)
        except ClientError as error:
            if error_code(error) in _MISSING:
                raise NotFound(f"blob {digest} is missing from {self.uri}") from None
            raise StoreUnavailable(f"cannot read {digest} from {self.uri}: {error}") from None

    def delete(self, digest: str) -> None:
        """Remove a blob (no error if it is already gone)."""
        self.client.delete_object(Bucket=self.bucket, Key=self._key(digest))

    def digests(self, older_than: float | None = None) -> Iterator[str]:
        """Yield the digest of every stored blob (only those last written before `older_than`, epoch seconds)."""
        base = f"{self.prefix}/blobs/" if self.prefix else "blobs/"
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=base):
            for item in page.get("Contents", []):
                rest = item["Key"][len(base) :]
                shard, _, tail = rest.partition("/")
                if len(shard) != 2 or not tail:
                    continue
                if older_than is None or item["LastModified"].timestamp() < older_than:
                    yield shard + tail
