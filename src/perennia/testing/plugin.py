"""The pytest plugin behind the store contract: a `store` fixture from a factory, and the fixtures
the contract's tests build on (an experiment, a running run, who a backend records).

Load it with `-p perennia.testing.plugin` and name the factory with
`--perennia-store=package.module:make_store` (a callable taking no arguments and returning an
open `Store`, one fresh, empty store per call), or call `perennia.testing.run_store_contract`.
A conftest that defines its own `store` fixture overrides the plugin's, as this project's does.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

# Set by run_store_contract when the factory is a Python object rather than an import path.
FACTORY: Callable[[], Any] | None = None


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add --perennia-store, the import path of the store factory to test."""
    parser.addoption(
        "--perennia-store",
        default=None,
        help="module:callable returning a fresh, empty, open Store for each test",
    )


def load_factory(path: str) -> Callable[[], Any]:
    """Return the callable named by `module:attribute`."""
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise pytest.UsageError(f"--perennia-store {path!r} must look like package.module:factory")
    return getattr(importlib.import_module(module_name), attribute)


@pytest.fixture
def store(request: pytest.FixtureRequest) -> Iterator[Any]:
    """Return a fresh store from the factory under test, closed after the test."""
    path = request.config.getoption("--perennia-store")
    factory = load_factory(path) if path else FACTORY
    if factory is None:
        raise pytest.UsageError("no store to test: pass --perennia-store=module:factory")
    opened = factory()
    yield opened
    opened.close()


@pytest.fixture
def experiment_id(store) -> str:
    """Return the id of a fresh, active experiment."""
    return store.experiments.create("store-tests")


@pytest.fixture
def run_id(store, experiment_id: str) -> str:
    """Return the id of a fresh RUNNING run in `experiment_id`."""
    return store.runs.create(experiment_id, run_name="subject").info.run_id


@pytest.fixture
def recorded() -> Callable[[str], str]:
    """Return who the backend records for a claimed username (a server records the signed-in
    user instead; its suite overrides this fixture)."""
    return lambda claimed: claimed
