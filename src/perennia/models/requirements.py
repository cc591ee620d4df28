"""Pinned requirements of a model: the distributions its classes come from, at their versions."""

from __future__ import annotations

from typing import Any

# Always needed to load any package: arrays, and the format each flavor writes.
BASE = ("numpy",)


def model_modules(model: Any) -> set[str]:
    """Return the top-level modules of the model's class and of every nested estimator."""
    seen: set[str] = set()
    stack, visited = [model], set()
    while stack:
        obj = stack.pop()
        if id(obj) in visited:
            continue
        visited.add(id(obj))
        seen.add(type(obj).__module__.split(".")[0])
        get_params = getattr(obj, "get_params", None)
        if callable(get_params):
            try:
                params = get_params(deep=False)
            except TypeError:
                params = {}
            stack.extend(_estimators(params.values()))
    return seen - {"builtins", "__main__"}


_owners_cache: dict[str, list[str]] | None = None
# Modules a scan found no distribution for (the standard library, the user's own code): were
# they counted as "missing", every model using one would pay for a scan again.
_unowned: set[str] = set()


def _owners(modules: set[str]) -> dict[str, list[str]]:
    """Return importlib's module -> distributions map, scanned once per process.

    Scanning every installed distribution costs most of a second; it is redone only when a
    module the model needs is neither in the map nor known to belong to no distribution (a
    package installed since the last scan).
    """
    global _owners_cache
    from importlib.metadata import packages_distributions

    if _owners_cache is None or modules - _owners_cache.keys() - _unowned:
        _owners_cache = packages_distributions()
        _unowned.update(modules)
        _unowned.difference_update(_owners_cache)
    return _owners_cache


def pinned_requirements(model: Any, extra: tuple[str, ...] = ()) -> list[str]:
    """Return sorted `name==version` lines for what loading the model imports."""
    from importlib.metadata import PackageNotFoundError, version

    modules = model_modules(model)
    owners = _owners(modules)
    names: set[str] = set(BASE) | set(extra)
    for module in modules:
        names.update(owners.get(module, []))
    pinned = []
    for name in sorted(names, key=str.lower):
        try:
            pinned.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            continue
    return pinned


def _estimators(values: Any) -> list[Any]:
    """Return the estimator-like objects among parameter values (steps, transformers, ...)."""
    found = []
    for value in values:
        if isinstance(value, list | tuple):
            found.extend(_estimators(value))
        elif hasattr(value, "get_params") or callable(getattr(value, "predict", None)):
            found.append(value)
    return found
