"""Checks on what names the registry's entities: model names, aliases, version numbers, tags.

Shared by the SQL store and the REST client (which checks before building a URL), so both
refuse the same inputs with the same messages.
"""

from __future__ import annotations

import re
from typing import Any

from perennia.errors import InvalidInput
from perennia.store.limits import KEY_LENGTH, NAME_LENGTH
from perennia.store.validation import validate_order

ANY = object()  # set_alias without a compare-and-set expectation
_ALIAS = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,255}$")


def check_model_name(name: Any) -> str:
    """Return a valid registered model name, or raise InvalidInput."""
    if not isinstance(name, str) or not name.strip() or len(name) > NAME_LENGTH or "\x00" in name:
        raise InvalidInput(
            f"registered model name must be 1-{NAME_LENGTH} characters of text, got {name!r:.80}"
        )
    if name != name.strip() or any(ord(c) < 32 or ord(c) == 127 for c in name):
        # Look-alike names ("fraud " beside "fraud") are how one model poses as another.
        raise InvalidInput(
            f"registered model name may not start or end with spaces nor hold control "
            f"characters, got {name!r:.80}"
        )
    if "/" in name or "@" in name:
        # Both would make models:/<name>/<version> and models:/<name>@<alias> ambiguous.
        raise InvalidInput(f"registered model name may not contain '/' or '@', got {name!r:.80}")
    if "\\" in name or set(name) == {"."}:
        # Names become URL path segments and folder names (model cards): "." and "..", or a
        # backslash (a separator on Windows), would read as paths there.
        raise InvalidInput(
            f"registered model name may not be '.' or '..' nor contain '\\', got {name!r:.80}"
        )
    return name


def check_alias(alias: Any) -> str:
    """Return a valid alias (letters, digits, _ and -; not 'latest' nor like 'v3'), or raise."""
    if not isinstance(alias, str) or not _ALIAS.match(alias):
        raise InvalidInput(
            f"alias {alias!r:.80} must start with a letter or _ and hold only letters, digits, _ "
            "and -, e.g. 'champion'"
        )
    if alias.lower() == "latest" or re.fullmatch(r"[vV]\d+", alias):
        raise InvalidInput(f"alias {alias!r} is reserved (it reads as a version); pick another")
    return alias


def check_version(version: Any) -> int:
    """Return a version number (1 to 2**31-1) from an int or digits, or raise InvalidInput."""
    if isinstance(version, str) and version.isascii() and version.isdigit():  # not "²"
        version = int(version)
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version < 2**31:
        raise InvalidInput(f"version must be a positive integer, got {version!r:.40}")
    return version


def check_tag(key: Any, value: Any) -> tuple[str, str]:
    """Return a valid (key, value) tag pair, or raise InvalidInput naming the problem."""
    if not isinstance(key, str) or not key or len(key) > KEY_LENGTH or "\x00" in key:
        raise InvalidInput(f"tag key must be 1-{KEY_LENGTH} characters, got {key!r:.80}")
    if not isinstance(value, str) or "\x00" in value or len(value) > 65_536:
        raise InvalidInput(f"tag {key!r} value must be text up to 65,536 characters")
    return key, value


def check_text(value: Any, field: str, limit: int = 65_536, *, optional: bool = False) -> Any:
    """Return `value` if it is text fit to store (no NUL, at most `limit` characters), or raise."""
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be text, got {type(value).__name__}")
    if "\x00" in value:
        raise InvalidInput(f"{field} may not contain NUL characters")
    if len(value) > limit:
        raise InvalidInput(f"{field} is {len(value):,} characters; the limit is {limit:,}")
    return value


def check_run_id(run_id: Any) -> str | None:
    """Return a run id (up to 32 letters, digits, - or _) or None, or raise InvalidInput."""
    if run_id is None:
        return None
    if not isinstance(run_id, str) or not re.fullmatch(r"[A-Za-z0-9_\-]{1,32}", run_id):
        raise InvalidInput(f"run_id must be a run's id (32 hex characters), got {run_id!r:.60}")
    return run_id


def check_digest(digest: Any) -> str | None:
    """Return a sha256 hex digest or None, or raise InvalidInput."""
    if digest is None:
        return None
    if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise InvalidInput(
            f"digest must be 64 lowercase hex characters (sha256), got {digest!r:.80}"
        )
    return digest


def check_status(status: Any) -> str:
    """Return a version status (READY, PENDING_REGISTRATION, FAILED_REGISTRATION), or raise."""
    from perennia.entities import VersionStatus

    try:
        return VersionStatus(status).value
    except ValueError:
        known = ", ".join(v.value for v in VersionStatus)
        raise InvalidInput(f"status must be one of {known}, got {status!r:.40}") from None


VERSION_ORDER_FIELDS = ("name", "version", "creation_time", "last_updated_time")


def check_version_order(order_by: Any) -> list[tuple[str, bool]]:
    """Return (field, descending) pairs to order versions by, or raise InvalidInput."""
    return validate_order(order_by, VERSION_ORDER_FIELDS)
