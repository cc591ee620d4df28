"""What every route module shares: the store handle and entity responses."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from perennia.entities import to_dict
from perennia.store.base import Store


def store_of(request: Request) -> Store:
    """Return the store this app serves."""
    return request.app.state.store


def entity(value: Any, status_code: int = 200) -> JSONResponse:
    """Return a JSON response holding an entity (or a structure of them)."""
    return JSONResponse(to_dict(value), status_code=status_code)
