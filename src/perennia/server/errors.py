"""Every failure becomes one JSON body `{"error_code", "message", "error_class"}` and one status.

`error_code` is MLflow's vocabulary (so MLflow clients understand it); `error_class` names the
Perennia exception, so the REST store can raise the very class the SQL store would have.
Unexpected errors answer 500 with a generic message: stack traces stay in the server log.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from perennia.errors import PerenniaError

logger = logging.getLogger(__name__)


def error_body(code: str, message: str, error_class: str) -> dict[str, str]:
    """Return the JSON body every error response carries."""
    return {"error_code": code, "message": message, "error_class": error_class}


def _validation_message(error: RequestValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        where = ".".join(str(p) for p in item.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {item.get('msg', 'invalid')}")
    return "invalid request: " + "; ".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    """Map Perennia errors, request validation errors and crashes to JSON error responses."""

    @app.exception_handler(PerenniaError)
    async def _perennia(_request: Request, error: PerenniaError) -> JSONResponse:
        body = error_body(error.error_code, str(error), type(error).__name__)
        return JSONResponse(body, status_code=error.http_status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, error: RequestValidationError) -> JSONResponse:
        body = error_body("INVALID_PARAMETER_VALUE", _validation_message(error), "InvalidInput")
        return JSONResponse(body, status_code=400)

    @app.exception_handler(HTTPException)
    async def _http(_request: Request, error: HTTPException) -> JSONResponse:
        code = "ENDPOINT_NOT_FOUND" if error.status_code == 404 else "BAD_REQUEST"
        body = error_body(code, str(error.detail), "PerenniaError")
        return JSONResponse(body, status_code=error.status_code)

    @app.exception_handler(Exception)
    async def _crash(request: Request, error: Exception) -> JSONResponse:
        return crash_response(request.method, request.url.path, error)


def crash_response(method: str, path: str, error: BaseException) -> JSONResponse:
    """Return the JSON answer to an unexpected exception (see `failure`)."""
    status, body = failure(method, path, error)
    return JSONResponse(body, status_code=status)


def failure(method: str, path: str, error: BaseException) -> tuple[int, dict[str, str]]:
    """Return the status and body for an unexpected exception: 503 for a database outage, else 500.

    A dropped or restarting database is temporary: 503 tells clients (Perennia's and mlflow's)
    to retry, and nothing was committed. Other crashes are logged with their stack trace, which
    never leaves the server.
    """
    if is_database_outage(error):
        logger.warning("database unavailable on %s %s: %s", method, path, error)
        message = "the metadata database is unavailable; retry shortly"
        return 503, error_body("TEMPORARILY_UNAVAILABLE", message, "StoreUnavailable")
    logger.error("unhandled error on %s %s", method, path, exc_info=error)
    return 500, error_body("INTERNAL_ERROR", "internal server error", "PerenniaError")


def is_database_outage(error: BaseException) -> bool:
    """Return whether `error` means the database could not be reached (or dropped mid-way)."""
    try:
        from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
    except ImportError:  # pragma: no cover - the server always has SQLAlchemy
        return False
    if isinstance(error, OperationalError | InterfaceError):
        return True
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)
