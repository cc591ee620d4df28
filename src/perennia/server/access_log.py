"""An access log in the Common Log Format, one line per request, with the signed-in user."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

logger = logging.getLogger("perennia.access")


def common_log_line(
    scope: dict[str, Any], status: int, size: int, when: float | None = None
) -> str:
    """Return the Common Log Format line of one answered request."""
    client = scope.get("client")
    host = client[0] if client else "-"
    user = (scope.get("state") or {}).get("user")
    name = getattr(user, "username", None) or "-"
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(when))
    target = scope.get("raw_path") or scope["path"].encode()
    if scope.get("query_string"):
        target += b"?" + scope["query_string"]
    # Quotes and control characters in a hostile path must not forge a second log line.
    request = (
        f"{scope['method']} {target.decode('latin-1')} HTTP/{scope.get('http_version', '1.1')}"
    )
    request = request.replace('"', "%22").encode("unicode_escape").decode("ascii")
    return f'{host} - {name} [{stamp}] "{request}" {status} {size if size else "-"}'


class AccessLog:
    """ASGI middleware writing one Common Log Format line per HTTP request to `perennia.access`."""

    def __init__(self, app: Any) -> None:
        self.app = app
        if not logger.handlers:  # the server owns its process: print to stderr like uvicorn
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("%(message)s"))
            logger.addHandler(handler)
            logger.setLevel(logging.INFO)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        answer = {"status": 500, "size": 0}

        async def counting(message) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
            elif message["type"] == "http.response.body":
                answer["size"] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, counting)
        finally:
            logger.info(common_log_line(scope, answer["status"], answer["size"]))
