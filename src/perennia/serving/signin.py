"""Sign-in for the inference server: one check in front of every route but the probes.

With `--auth`, a request must carry `Authorization: Bearer <token>` of a live token of the
store's users. Load balancers, Kubernetes and Prometheus call the probes and `/metrics`
without credentials, so those stay open; everything else (a route added later included) is
refused with 401 before any handler runs.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from perennia.errors import PerenniaError

OPEN_PATHS = frozenset(
    {"/ping", "/health", "/version", "/v2", "/v2/health/live", "/v2/health/ready", "/metrics"}
)
_MODEL_READY = re.compile(r"^/v2/models/[^/]+(?:/versions/[^/]+)?/ready$")


def is_open(path: str) -> bool:
    """Return True for the probe paths that answer without credentials."""
    return path in OPEN_PATHS or _MODEL_READY.match(path) is not None


class SignInMiddleware:
    """ASGI middleware refusing unauthenticated calls to every route but the probes."""

    def __init__(self, app: Any, state: Any) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or is_open(scope["path"]):
            await self.app(scope, receive, send)
            return
        authorization = _header(scope, b"authorization")
        try:
            if self.state.token_cached(authorization):
                self.state.authenticate(authorization)
            else:  # the store is asked: off the event loop
                await asyncio.to_thread(self.state.authenticate, authorization)
        except PerenniaError as error:
            await _refuse(scope["path"], send, error)
            return
        await self.app(scope, receive, send)


def _header(scope: dict, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


async def _refuse(path: str, send: Any, error: PerenniaError) -> None:
    from perennia.serving.protocols import mlflow_scoring, open_inference

    # Each protocol's own error shape: OIP's {"error": ...}, MLflow's error_code/message.
    if path.startswith("/v2"):
        body = open_inference.error_body(str(error))
    else:
        body = mlflow_scoring.error_body(error)
    headers = [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")]
    await send({"type": "http.response.start", "status": error.http_status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
