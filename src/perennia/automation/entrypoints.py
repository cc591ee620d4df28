"""Entrypoints: the text ("package.module:attribute" or "path/to/file.py:attribute") that names
the pipeline a schedule or a retraining policy runs, and its resolution to the Python object.

Schedules and policies are stored, and may be run by another process (a server replica, `perennia
scheduler`), so they name their target the way uvicorn and Prefect deployments do rather than
holding the object itself.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

from perennia.errors import InvalidInput

_ATTRIBUTE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def check_entrypoint(text: Any, field: str = "pipeline") -> str:
    """Return `text` when it has the shape of an entrypoint, or raise InvalidInput naming `field`."""
    example = "'my_project.pipelines:training' or 'pipelines/train.py:training'"
    if not isinstance(text, str) or ":" not in text:
        raise InvalidInput(f"{field} must be an entrypoint such as {example}, got {text!r}")
    where, _, attribute = text.rpartition(":")
    if not _ATTRIBUTE.fullmatch(attribute):
        raise InvalidInput(f"{field} {text!r}: after ':' comes an attribute name, as in {example}")
    if not where.endswith(".py") and not _MODULE.fullmatch(where):
        raise InvalidInput(
            f"{field} {text!r}: before ':' comes a module or a .py file, as in {example}"
        )
    return text


def normalise_entrypoint(text: Any, field: str = "pipeline") -> str:
    """Return the entrypoint to store: its .py path made absolute, so every process finds it.

    A schedule or policy is checked where it is created but run by a server replica or
    `perennia scheduler`, whose working folder may differ: a relative path would name another
    file there, or none.
    """
    where, _, attribute = check_entrypoint(text, field).rpartition(":")
    if not where.endswith(".py"):
        return text
    return f"{Path(where).expanduser().resolve()}:{attribute}"


def load_entrypoint(text: str, field: str = "pipeline") -> Any:
    """Return the object an entrypoint names, or raise InvalidInput saying what is missing."""
    where, _, attribute = check_entrypoint(text, field).rpartition(":")
    module = (
        _load_file(where, text, field) if where.endswith(".py") else _import(where, text, field)
    )
    target: Any = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise InvalidInput(
                f"{field} {text!r}: {where} has no attribute {attribute!r}; check the name"
            )
        target = getattr(target, part)
    return target


def _import(module_name: str, text: str, field: str) -> Any:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise InvalidInput(
            f"{field} {text!r}: no module {exc.name!r} on this process's path; install the "
            "project or name a .py file instead"
        ) from exc


def _load_file(path_text: str, text: str, field: str) -> Any:
    path = Path(path_text).expanduser().resolve()
    if not path.is_file():
        raise InvalidInput(f"{field} {text!r}: no file {path}")
    name = f"perennia_entrypoint_{abs(hash(str(path)))}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise InvalidInput(f"{field} {text!r}: {path} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look the module up by name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module
