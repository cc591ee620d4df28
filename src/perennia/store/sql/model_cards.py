"""PLACEHOLDER: being written."""

from __future__ import annotations

from typing import Any


class SqlModelCardStore:
    """Placeholder until implemented."""

    def __init__(self, engine_or_http: Any) -> None:
        self._backend = engine_or_http
