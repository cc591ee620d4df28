"""One HTTP session to the server: idempotent retries with backoff, server errors as Perennia errors.

A JSON error body names the exception class the server raised (`error_class`), so a 404 on a
run becomes the same `NotFound` the SQL store raises, and callers cannot tell the two apart.
"""

from __future__ import annotations

import logging
import random
import socket
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from perennia import errors
from perennia.errors import PerenniaError, StoreUnavailable

logger = logging.getLogger(__name__)

_BY_STATUS = {
    400: errors.InvalidInput,
    401: errors.PermissionDenied,
    403: errors.PermissionDenied,
    404: errors.NotFound,
    409: errors.Conflict,
}
RETRY_STATUSES = {500, 502, 503, 504}
_WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def error_from_response(response: httpx.Response) -> PerenniaError:
    """Return the Perennia error a failed response stands for."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    message = body.get("message") or f"HTTP {response.status_code} from {response.request.url}"
    cls = getattr(errors, str(body.get("error_class")), None)
    if not (isinstance(cls, type) and issubclass(cls, PerenniaError)) or cls is PerenniaError:
        cls = _BY_STATUS.get(response.status_code, StoreUnavailable)
    return cls(message)


class HttpSession:
    """JSON requests to one server, retried on connection errors and 5xx answers."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        retries: int = 5,
        backoff: float = 0.1,
        timeout: float = 60.0,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.base_url = base_url.rstrip("/")
        self.retries = retries
        self.backoff = backoff
        # Without TCP_NODELAY a large batch (headers and body sent as two writes) waits for the
        # server's delayed ACK: about 40 ms per request, which would dominate remote ingest.
        transport = httpx.HTTPTransport(
            retries=0, socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
        )
        self.client = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
        )

    def request(
        self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        """Return the decoded JSON answer; raise the matching PerenniaError on failure."""
        response = self.send(method, path, json=json, params=params)
        return response.json() if response.content else None

    def send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        content: Callable[[], Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Return a successful response; `content` makes a fresh body for each attempt.

        Every attempt of one write carries the same Idempotency-Key, so a retry after a lost
        reply is answered from the server's record instead of being applied twice.
        """
        if method in _WRITES and content is None:
            headers = {"Idempotency-Key": uuid.uuid4().hex, **(headers or {})}
        attempt = 0
        while True:
            try:
                response = self.client.request(
                    method, path, json=json, params=params, headers=headers,
                    content=content() if content is not None else None,
                )  # fmt: skip
            except httpx.TransportError as error:
                if attempt >= self.retries:
                    raise StoreUnavailable(
                        f"cannot reach the tracking server at {self.base_url}: {error}"
                    ) from None
            else:
                if response.status_code < 400:
                    return response
                if response.status_code not in RETRY_STATUSES or attempt >= self.retries:
                    raise error_from_response(response)
            attempt += 1
            # Exponential backoff with jitter, so many clients do not retry in step.
            delay = self.backoff * (2 ** (attempt - 1)) * (0.5 + random.random())
            logger.warning("retrying %s %s in %.2fs (attempt %d)", method, path, delay, attempt)
            time.sleep(delay)

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()
