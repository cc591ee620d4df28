"""Blob storage: content-addressed bytes in a local folder or S3 (the manifest is the store's part)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from perennia.errors import InvalidInput

if TYPE_CHECKING:
    from perennia.artifacts.base import BlobStore


def open_blob_store(uri: str) -> BlobStore:
    """Return the blob store for `s3://bucket/prefix`, `file:///path` or a plain folder path."""
    if uri.startswith("s3://"):
        from perennia.artifacts.s3 import S3BlobStore

        return S3BlobStore(uri)
    if uri.startswith("file://"):
        uri = uri[len("file://") :]
    if "://" in uri or uri.startswith(("http:", "https:")):
        raise InvalidInput(
            f"artifact URI {uri!r} is not supported; use a folder path, file:///path or s3://bucket/prefix"
        )
    from perennia.artifacts.local import LocalBlobStore

    return LocalBlobStore(uri)
