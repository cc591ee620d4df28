"""Fixtures of the store tests: the contract's own (the `store` fixture lives in tests/conftest.py,
parametrized over SQLite, PostgreSQL and REST), and who each backend records as the author."""

from __future__ import annotations

import pytest

from perennia.testing.plugin import experiment_id, run_id  # noqa: F401 - fixtures, used by name


@pytest.fixture
def recorded(store_uri: str):
    """Return who a backend records for a claimed username: over REST, the signed-in user."""
    signed_in = "suite-admin" if store_uri.startswith("http") else None
    return lambda claimed: signed_in or claimed
