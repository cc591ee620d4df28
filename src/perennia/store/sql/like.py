"""LIKE with one meaning on every engine: case-sensitive, with backslash as the escape character.

SQLite's LIKE ignores ASCII case, so it compiles to GLOB. PostgreSQL escapes with a backslash by
default and SQLite has no escape at all; both are told `ESCAPE '\\'` so `\\%`, `\\_` and `\\\\`
match a literal %, _ and backslash everywhere.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from perennia.errors import InvalidFilter

ESCAPE = "\\"
_GLOB_WILDCARDS = {"%": "*", "_": "?"}
_GLOB_LITERALS = {"*": "[*]", "?": "[?]", "[": "[[]"}


def check_like_pattern(pattern: str) -> str:
    """Return `pattern`, or raise InvalidFilter if it ends with a lone escape character."""
    trailing = len(pattern) - len(pattern.rstrip(ESCAPE))
    if trailing % 2:
        raise InvalidFilter(
            f"LIKE pattern {pattern!r} ends with a lone '\\'; write '\\\\' for a literal backslash"
        )
    return pattern


def like_to_glob(pattern: str) -> str:
    """Return the GLOB pattern matching exactly what the LIKE pattern matches, case-sensitively."""
    out: list[str] = []
    chars = iter(check_like_pattern(pattern))
    for char in chars:
        if char == ESCAPE:
            char = next(chars)
            out.append(_GLOB_LITERALS.get(char, char))
        else:
            out.append(_GLOB_WILDCARDS.get(char) or _GLOB_LITERALS.get(char, char))
    return "".join(out)


class _CaseSensitiveLike(FunctionElement):
    type = Boolean()
    name = "case_sensitive_like"
    inherit_cache = True


@compiles(_CaseSensitiveLike)
def _compile_like(element: _CaseSensitiveLike, compiler: Any, **kw: Any) -> str:
    column, pattern, _glob = element.clauses
    return compiler.process(column.like(pattern, escape=ESCAPE), **kw)


@compiles(_CaseSensitiveLike, "sqlite")
def _compile_glob(element: _CaseSensitiveLike, compiler: Any, **kw: Any) -> str:
    column, _pattern, glob = element.clauses
    return compiler.process(column.op("GLOB")(glob), **kw)


def case_sensitive_like(column: Any, pattern: str) -> Any:
    """Return a SQL condition `column LIKE pattern` that is case-sensitive on every backend."""
    return _CaseSensitiveLike(column, literal(pattern), literal(like_to_glob(pattern)))


def case_insensitive_like(column: Any, pattern: str) -> Any:
    """Return a SQL condition `column ILIKE pattern`, folding case with the engine's lower()."""
    from sqlalchemy import func

    return func.lower(column).like(func.lower(literal(check_like_pattern(pattern))), escape=ESCAPE)
