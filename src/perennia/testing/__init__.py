"""Test kits that ship with Perennia, as Optuna ships `optuna.testing`.

`perennia.testing.store_contract` is the whole store contract: every behaviour a `Store`
backend must have (experiments, runs, metrics, params, tags, inputs, artifacts, search and
paging, the registry, model cards), written once against the `store` fixture. This project runs
it on SQLite, PostgreSQL and the REST store against a live server; a third-party backend runs it
with one call:

    from perennia.testing import run_store_contract
    raise SystemExit(run_store_contract(lambda: MyStore(...)))

or from pytest: `pytest --pyargs perennia.testing.store_contract -p perennia.testing.plugin
--perennia-store=my_package.backend:make_store`. It needs the `dev` extra (pytest, hypothesis).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

CONTRACT_PACKAGE = "perennia.testing.store_contract"


def run_store_contract(factory: Callable[[], Any], *pytest_args: str) -> int:
    """Return pytest's exit status after running the store contract against `factory`.

    `factory()` must return a fresh, empty, open store each time it is called; extra arguments
    go to pytest (e.g. "-k", "registry", "-x").
    """
    import pytest

    from perennia.testing import plugin

    if any(arg == "-n" or arg.startswith(("-n=", "--numprocesses")) for arg in pytest_args):
        # Worker processes cannot receive a Python object: name the factory instead.
        raise ValueError(
            "run_store_contract runs in one process; for pytest-xdist use pytest --pyargs "
            "perennia.testing.store_contract -p perennia.testing.plugin "
            "--perennia-store=module:factory"
        )
    plugin.FACTORY = factory
    try:
        arguments = ["--pyargs", CONTRACT_PACKAGE, "-p", "no:cacheprovider", *pytest_args]
        # The plugin module is already imported (it holds the factory): no rewriting to warn of.
        arguments += ["-W", "ignore::pytest.PytestAssertRewriteWarning"]
        return int(pytest.main(arguments, plugins=[plugin]))
    finally:
        plugin.FACTORY = None
