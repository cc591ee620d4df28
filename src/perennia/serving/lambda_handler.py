"""A serverless entry point: `handler(event, context)` for AWS Lambda-style HTTP events.

The event (API Gateway REST "v1" or HTTP API "v2" payload, or a Lambda function URL) becomes
an ASGI request to the very same app `perennia serve` runs, so both protocols, the signature
checks and the prediction log behave exactly as on a server. The app starts once per
container (the cold start) and its event loop is kept for later invocations.

Configure it like `perennia serve`: `PERENNIA_SERVE_CONFIG` holds the JSON of a `ServeConfig`
(`ServeConfig(model_uri="/var/task/model", log_location="s3://bucket/predictions").to_json()`).
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any
from urllib.parse import urlencode

_runtime: LambdaRuntime | None = None


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Return the HTTP response (API Gateway proxy shape) to one Lambda event."""
    global _runtime
    if _runtime is None:
        from perennia.serving.app import create_app
        from perennia.serving.config import ServeConfig

        _runtime = LambdaRuntime(create_app(ServeConfig.from_env()))
    return _runtime.invoke(event)


class LambdaRuntime:
    """An ASGI app kept started across invocations, called once per event."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self._shutdown = asyncio.Event()
        self._lifespan: asyncio.Task | None = None
        self.loop.run_until_complete(self._start())

    async def _start(self) -> None:
        started: asyncio.Future = asyncio.get_running_loop().create_future()
        messages = [{"type": "lifespan.startup"}]

        async def receive() -> dict[str, Any]:
            if messages:
                return messages.pop()
            await self._shutdown.wait()
            return {"type": "lifespan.shutdown"}

        async def send(message: dict[str, Any]) -> None:
            kind = message["type"]
            if kind == "lifespan.startup.complete" and not started.done():
                started.set_result(None)
            elif kind == "lifespan.startup.failed" and not started.done():
                started.set_exception(RuntimeError(message.get("message", "startup failed")))

        self._lifespan = asyncio.ensure_future(self.app({"type": "lifespan"}, receive, send))
        await started

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        """Return the response to one event."""
        return self.loop.run_until_complete(self._call(event))

    async def _call(self, event: dict[str, Any]) -> dict[str, Any]:
        scope, body = _scope(event)
        sent = False
        status, headers, chunks = 500, [], []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status, headers = message["status"], message.get("headers", [])
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        return _response(status, headers, b"".join(chunks))

    def close(self) -> None:
        """Stop the app (flushing its prediction log) and the loop."""
        self._shutdown.set()
        if self._lifespan is not None:
            self.loop.run_until_complete(self._lifespan)
        self.loop.close()


def _scope(event: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    http = event.get("requestContext", {}).get("http")
    if http is not None:  # HTTP API v2 / function URL
        method, path = http["method"], event.get("rawPath", "/")
        query = (event.get("rawQueryString") or "").encode()
    else:  # REST API v1
        method, path = event["httpMethod"], event.get("path", "/")
        query = urlencode(event.get("queryStringParameters") or {}).encode()
    body = event.get("body") or ""
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
    headers = [
        (k.lower().encode("latin-1"), str(v).encode("latin-1"))
        for k, v in (event.get("headers") or {}).items()
    ]
    if not any(k == b"content-length" for k, _ in headers):
        headers.append((b"content-length", str(len(raw)).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method.upper(),
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": headers,
        "client": ("lambda", 0),
        "server": ("lambda", 443),
    }
    return scope, raw


def _response(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> dict[str, Any]:
    decoded = {k.decode("latin-1"): v.decode("latin-1") for k, v in headers}
    content_type = decoded.get("content-type", "")
    text = content_type.startswith(("application/json", "text/"))
    return {
        "statusCode": status,
        "headers": decoded,
        "body": body.decode() if text else base64.b64encode(body).decode(),
        "isBase64Encoded": not text,
    }
