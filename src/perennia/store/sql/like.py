"""Case-sensitive LIKE on every engine: SQLite's LIKE ignores ASCII case, so it compiles to GLOB."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

_GLOB_ESCAPES = {"%": "*", "_": "?", "*": "[*]", "?": "[?]", "[": "[[]"}


def like_to_glob(pattern: str) -> str:
    """Return the GLOB pattern matching exactly what the LIKE pattern matches, case-sensitively."""
    return "".join(_GLOB_ESCAPES.get(char, char) for char in pattern)


class _CaseSensitiveLike(FunctionElement):
    type = Boolean()
    name = "case_sensitive_like"
    inherit_cache = True


@compiles(_CaseSensitiveLike)
def _compile_like(element: _CaseSensitiveLike, compiler: Any, **kw: Any) -> str:
    column, pattern, _glob = element.clauses
    return compiler.process(column.like(pattern), **kw)


@compiles(_CaseSensitiveLike, "sqlite")
def _compile_glob(element: _CaseSensitiveLike, compiler: Any, **kw: Any) -> str:
    column, _pattern, glob = element.clauses
    return compiler.process(column.op("GLOB")(glob), **kw)


def case_sensitive_like(column: Any, pattern: str) -> Any:
    """Return a SQL condition `column LIKE pattern` that is case-sensitive on every backend."""
    return _CaseSensitiveLike(column, literal(pattern), literal(like_to_glob(pattern)))
