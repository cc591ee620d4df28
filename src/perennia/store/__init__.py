"""The metadata store: protocols in `base`, backends chosen by URI through `open_store`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from perennia.errors import InvalidInput

if TYPE_CHECKING:
    from perennia.store.base import Store


def open_store(uri: str, *, token: str | None = None, retry_seconds: float | None = None) -> Store:
    """Return the store for a URI: `sqlite:///path.db`, `postgresql+psycopg://...` or `http://host:port`.

    `token` and `retry_seconds` (how long requests are retried) apply to a server's URI only.
    """
    from perennia.store.sql.engine import is_sql_uri

    if is_sql_uri(uri):
        from perennia.store.sql.store import SqlStore

        return SqlStore(uri)
    if uri.startswith(("http://", "https://")):
        from perennia.store.rest.store import RestStore

        return RestStore(uri, token=token, retry_seconds=retry_seconds)
    raise InvalidInput(
        f"tracking URI {uri!r} is not supported; use sqlite:///path.db or postgresql+psycopg://user@host/db"
    )
