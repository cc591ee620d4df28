"""What a step's cache key follows besides its inputs: its code and its params, by content.

The code hash covers the function's source, its compiled code (bytecode, constants and names,
nested functions and comprehensions included), the values its closure captured, the simple
module-level constants it reads (numbers, strings, bools, None, and tuples or frozensets of
them) and, one level down, the same-module functions it calls. A param is hashed by its content:
tables, arrays, JSON and dataset versions as outputs are; models and other objects by the sha256
of their pickle (written, never loaded). Whatever cannot be hashed so raises Uncacheable: the
step then runs every time, and the reason is recorded on its run.
"""

from __future__ import annotations

import inspect
import os
import textwrap
import types
from collections.abc import Callable
from typing import Any

from perennia.automation.pipeline.hashing import canonical_json, sha256_text
from perennia.automation.pipeline.outputs import UnstorableOutput, classify, value_hash

_SIMPLE = (type(None), bool, int, float, complex, str, bytes)


class Uncacheable(Exception):
    """A value or function the cache key cannot follow by content (the message says which)."""


def param_hash(value: Any) -> str:
    """Return a param's content hash (UnstorableOutput: no kind stores it; Uncacheable: no hash)."""
    kind = classify(value)
    if kind != "model":
        return value_hash(value, kind)
    from perennia.automation.pipeline.transport import content_digest

    digest = content_digest(value)
    if digest is None:
        raise Uncacheable(f"a {type(value).__qualname__} that cannot be pickled to hash it")
    return f"object:{type(value).__module__}.{type(value).__qualname__}:{digest}"


def code_hash(fn: Callable[..., Any]) -> str:
    """Return the hash of what `fn` runs (see the module docstring), or raise Uncacheable."""
    return sha256_text("code", *_function_parts(fn, depth=0, seen=set()))


def _function_parts(fn: Any, depth: int, seen: set[int]) -> list[str]:
    seen.add(id(fn))
    code = fn.__code__
    parts = [_source(fn), _code_text(code)]
    for index, cell in enumerate(fn.__closure__ or ()):
        try:
            content = cell.cell_contents
        except ValueError:  # a cell not filled yet
            content = _EMPTY
        label = code.co_freevars[index]
        parts.append(f"closure {label}=" + _captured(content, label, depth, seen))
    module = getattr(fn, "__module__", None)
    names = getattr(fn, "__globals__", {})
    for name in sorted(set(_global_names(code))):
        if name not in names:
            continue
        value = names[name]
        inner = getattr(value, "fn", value)  # a Step called as a helper: its function
        if inspect.isfunction(inner) and inner.__module__ == module and id(inner) not in seen:
            if depth == 0:
                parts.append(f"helper {name}=" + "|".join(_function_parts(inner, 1, seen)))
        elif _simple(value):
            parts.append(f"global {name}=" + _const_text(value))
    return parts


def _captured(value: Any, label: str, depth: int, seen: set[int]) -> str:
    if value is _EMPTY:
        return "<empty>"
    inner = getattr(value, "fn", value)
    if inspect.isfunction(inner):
        if id(inner) in seen or depth > 2:
            return f"function {inner.__qualname__}"
        return "function " + "|".join(_function_parts(inner, depth + 1, seen))
    if _simple(value):
        return _const_text(value)
    if isinstance(value, os.PathLike):
        return f"path {os.fspath(value)}"
    if isinstance(value, types.ModuleType):
        return f"module {value.__name__}"
    if isinstance(value, (type, types.BuiltinFunctionType)):
        return f"{type(value).__name__} {value.__module__}.{value.__qualname__}"
    try:
        return param_hash(value)
    except (Uncacheable, UnstorableOutput) as exc:
        raise Uncacheable(f"captured variable {label!r} is {exc}") from None


def _simple(value: Any) -> bool:
    if isinstance(value, _SIMPLE):
        return True
    return isinstance(value, (tuple, frozenset)) and all(_simple(v) for v in value)


def _code_text(code: types.CodeType) -> str:
    consts = [_code_text(c) if inspect.iscode(c) else _const_text(c) for c in code.co_consts]
    return canonical_json([code.co_code.hex(), list(code.co_names), consts])


def _const_text(value: Any) -> str:
    if isinstance(value, frozenset):
        return "frozenset(" + ",".join(sorted(_const_text(v) for v in value)) + ")"
    if isinstance(value, tuple):
        return "(" + ",".join(_const_text(v) for v in value) + ")"
    return f"{type(value).__name__}:{value!r}"


def _global_names(code: types.CodeType) -> list[str]:
    names = list(code.co_names)
    for const in code.co_consts:
        if inspect.iscode(const):  # comprehensions and nested functions
            names.extend(_global_names(const))
    return names


def _source(fn: Callable[..., Any]) -> str:
    try:
        return textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):
        return "<no source>"  # a REPL function: its compiled code still counts


_EMPTY = object()
