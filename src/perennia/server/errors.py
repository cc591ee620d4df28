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
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        body = error_body("INTERNAL_ERROR", "internal server error", "PerenniaError")
        return JSONResponse(body, status_code=500)
