"""Checks on what names the registry's entities: model names, aliases, version numbers, tags.

Shared by the SQL store and the REST client (which checks before building a URL), so both
refuse the same inputs with the same messages.
"""

from __future__ import annotations

import re
from typing import Any

from perennia.errors import InvalidInput
from perennia.store.limits import KEY_LENGTH, NAME_LENGTH

ANY = object()  # set_alias without a compare-and-set expectation
_ALIAS = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,255}$")


def check_model_name(name: Any) -> str:
    """Return a valid registered model name, or raise InvalidInput."""
    if not isinstance(name, str) or not name.strip() or len(name) > NAME_LENGTH or "\x00" in name:
        raise InvalidInput(
            f"registered model name must be 1-{NAME_LENGTH} characters of text, got {name!r:.80}"
        )
    if "/" in name or "@" in name:
        # Both would make models:/<name>/<version> and models:/<name>@<alias> ambiguous.
        raise InvalidInput(f"registered model name may not contain '/' or '@', got {name!r:.80}")
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
    if isinstance(version, str) and version.isdigit():
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
