"""MLflow's tracing endpoints, answered with a clear refusal: traces are not stored yet.

`@mlflow.trace` and `mlflow.search_traces()` call `/api/3.0/mlflow/traces...` (older clients
`/api/2.0/mlflow/traces...`, OTLP exporters `/v1/traces`). Rather than a bare 404 that the
client turns into a warning and silently drops traces, every one of them answers 501 with
error code NOT_IMPLEMENTED and a message saying so; the client raises or logs that message.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from perennia.server.access import Caller, caller_of
from perennia.server.errors import error_body

router = APIRouter(include_in_schema=False)
MESSAGE = (
    "perennia server does not store MLflow traces yet; tracing calls (@mlflow.trace, "
    "mlflow.search_traces) are refused. Log runs, metrics, artifacts and models instead."
)
_METHODS = ["GET", "POST", "PATCH", "DELETE", "PUT"]
_PATHS = (
    "/api/3.0/mlflow/traces",
    "/api/3.0/mlflow/traces/{rest:path}",
    "/api/2.0/mlflow/traces",
    "/api/2.0/mlflow/traces/{rest:path}",
    "/v1/traces",
)


def refuse_traces(caller: Caller = Depends(caller_of)) -> JSONResponse:
    """Answer 501 NOT_IMPLEMENTED: this server keeps no traces."""
    caller.signed_in()
    return JSONResponse(error_body("NOT_IMPLEMENTED", MESSAGE, "NotImplemented"), status_code=501)


for _path in _PATHS:
    router.add_api_route(_path, refuse_traces, methods=_METHODS)
