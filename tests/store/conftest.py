"""Fixtures shared by the metadata-store tests (the `store` fixture lives in tests/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture
def experiment_id(store) -> str:
    """Return the id of a fresh, active experiment."""
    return store.experiments.create("store-tests")


@pytest.fixture
def run_id(store, experiment_id: str) -> str:
    """Return the id of a fresh RUNNING run in `experiment_id`."""
    return store.runs.create(experiment_id, run_name="subject").info.run_id
