"""Paging over the store while the adapter checks what the store cannot (ILIKE, tag conditions).

Store page tokens stand for offsets (perennia.store.paging), so the next token can point just
past the last item taken, however many the adapter's own conditions skipped.
"""

from __future__ import annotations

from typing import Any

from perennia.store.paging import decode_page_token, encode_page_token


def scan(fetch: Any, keep: Any, size: int, token: str | None) -> tuple[list[Any], str | None]:
    """Return up to `size` items `keep` accepts, reading the store's pages, and the next token."""
    offset = decode_page_token(token)
    found: list[Any] = []
    while True:
        page = fetch(size, encode_page_token(offset) if offset else None)
        for index, item in enumerate(page.items):
            if keep(item):
                found.append(item)
            if len(found) == size:
                more = index + 1 < len(page.items) or page.next_page_token is not None
                return found, encode_page_token(offset + index + 1) if more else None
        if page.next_page_token is None or not page.items:
            return found, None
        offset += len(page.items)
