"""Page tokens and result-size checks shared by every backend.

Most listings page by offset. Run search pages by keyset: its token holds the last row's sort
key (the order-by values, then start time and run id as tiebreakers), so the next page starts
right after that row whatever was added or deleted in between, and costs the same at any depth.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from perennia.errors import InvalidInput

# Tokens this module writes are about 30 characters; anything much longer is not one of them.
MAX_TOKEN_LENGTH = 512
# A keyset token carries the last row's order-by values, which may be long param or tag values.
MAX_KEYSET_TOKEN_LENGTH = 65_536


@dataclass(frozen=True)
class Keyset:
    """Where a keyset page starts: after the row whose sort key is `after`, in `phase`."""

    phase: int
    after: tuple[str | int | float | None, ...]


def encode_page_token(offset: int) -> str:
    """Return an opaque token for the page that starts at `offset`."""
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_page_token(token: str | None) -> int:
    """Return the offset a page token stands for (0 for None); InvalidInput if it is malformed."""
    if not token:
        return 0
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidInput(
            f"page_token must be a string of at most {MAX_TOKEN_LENGTH} characters; pass the "
            "token a previous page returned"
        )
    try:
        payload = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset = payload["offset"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError, RecursionError):
        raise InvalidInput(
            f"page_token {token[:40]!r} is malformed; pass the token a previous page returned"
        ) from None
    # Beyond 2**53 no store holds that many rows, and SQL's 64-bit OFFSET would overflow.
    if not isinstance(offset, int) or isinstance(offset, bool) or not 0 <= offset < 2**53:
        raise InvalidInput(
            f"page_token {token[:40]!r} is malformed; pass the token a previous page returned"
        )
    return offset


def check_max_results(max_results: object, limit: int) -> int:
    """Return `max_results` if it is an int between 1 and `limit`, else raise InvalidInput."""
    if (
        isinstance(max_results, bool)
        or not isinstance(max_results, int)
        or not 1 <= max_results <= limit
    ):
        raise InvalidInput(
            f"max_results must be an integer between 1 and {limit}, got {max_results!r}"
        )
    return max_results


def encode_keyset_token(phase: int, after: tuple | list) -> str:
    """Return an opaque token for the page after the row whose sort key is `after`."""
    payload = json.dumps({"phase": phase, "after": list(after)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode()


def _malformed(token: str) -> InvalidInput:
    return InvalidInput(
        f"page_token {token[:40]!r} is malformed; pass the token a previous page returned"
    )


def decode_search_token(token: str | None) -> int | Keyset:
    """Return the offset (old tokens, 0 for None) or the Keyset a search page token stands for."""
    if not token:
        return 0
    if not isinstance(token, str) or len(token) > MAX_KEYSET_TOKEN_LENGTH:
        raise InvalidInput(
            f"page_token must be a string of at most {MAX_KEYSET_TOKEN_LENGTH} characters; pass "
            "the token a previous page returned"
        )
    try:
        payload = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError, RecursionError):
        raise _malformed(token) from None
    if not isinstance(payload, dict) or "after" not in payload:
        return decode_page_token(token)
    phase, after = payload.get("phase"), payload["after"]
    if (
        not isinstance(phase, int)
        or isinstance(phase, bool)
        or phase not in (0, 1)
        or not isinstance(after, list)
        or not after
        or not all(v is None or type(v) in (str, int, float) for v in after)
    ):
        raise _malformed(token)
    return Keyset(phase, tuple(after))
