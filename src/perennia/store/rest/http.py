"""One HTTP session to the server: idempotent retries with backoff, server errors as Perennia errors.

A JSON error body names the exception class the server raised (`error_class`), so a 404 on a
run becomes the same `NotFound` the SQL store raises, and callers cannot tell the two apart.
Connection errors and 5xx answers are retried until a deadline (`retry_seconds`), long enough
to ride out a database restart behind the server; then the call raises `StoreUnavailable`.
"""

from __future__ import annotations

import functools
import logging
import random
import socket
import ssl
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
# "Try again later" answers: whatever class the body names (the server answers 503 "Conflict"
# while another attempt of the same write runs), the caller must treat them as transient.
_UNAVAILABLE_STATUSES = {502, 503, 504}
_WRITES = {"POST", "PUT", "PATCH", "DELETE"}
DEFAULT_RETRY_SECONDS = 120.0
# A cap on one sleep between attempts: once the database is back, clients resume within seconds.
MAX_RETRY_SLEEP = 4.0


def error_from_response(response: httpx.Response, *, note: str = "") -> PerenniaError:
    """Return the Perennia error a failed response stands for (`note` is appended to its message)."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    message = body.get("message") or f"HTTP {response.status_code} from {response.request.url}"
    cls = getattr(errors, str(body.get("error_class")), None)
    if not (isinstance(cls, type) and issubclass(cls, PerenniaError)) or cls is PerenniaError:
        cls = _BY_STATUS.get(response.status_code, StoreUnavailable)
    if response.status_code in _UNAVAILABLE_STATUSES and not issubclass(cls, StoreUnavailable):
        cls = StoreUnavailable
    return cls(message + note)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """Return one TLS context for every client of this process: loading the system's
    certificates costs some 50 ms, which every store opened (every CLI call) paid again."""
    return httpx.create_ssl_context()  # what httpx builds by default (certifi, SSL_CERT_FILE)


class HttpSession:
    """JSON requests to one server, retried on connection errors and 5xx answers until a deadline.

    `retry_seconds` (default 120) bounds the time from the first attempt to the last; sleeps
    between attempts grow from `backoff` and are capped at a few seconds. `retries`, when given,
    also caps the number of retries.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        retries: int | None = None,
        backoff: float = 0.1,
        timeout: float = 60.0,
        retry_seconds: float | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.base_url = base_url.rstrip("/")
        self.retries = retries
        self.retry_seconds = DEFAULT_RETRY_SECONDS if retry_seconds is None else retry_seconds
        self.backoff = backoff
        self.max_sleep = MAX_RETRY_SLEEP
        # Without TCP_NODELAY a large batch (headers and body sent as two writes) waits for the
        # server's delayed ACK: about 40 ms per request, which would dominate remote ingest.
        transport = httpx.HTTPTransport(
            verify=_tls_context(),
            retries=0,
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
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
        started = time.monotonic()
        deadline = started + self.retry_seconds
        attempt = 0
        while True:
            failure: httpx.TransportError | None = None
            response: httpx.Response | None = None
            try:
                response = self.client.request(
                    method,
                    path,
                    json=json,
                    params=params,
                    headers=headers,
                    content=content() if content is not None else None,
                )
            except httpx.TransportError as error:
                failure = error
            else:
                if response.status_code < 400:
                    if attempt:
                        logger.info("%s %s succeeded after %d retries", method, path, attempt)
                    return response
                if response.status_code not in RETRY_STATUSES:
                    raise error_from_response(response)
            now = time.monotonic()
            if now >= deadline or (self.retries is not None and attempt >= self.retries):
                raise self._give_up(failure, response, attempt, now - started)
            attempt += 1
            delay = min(self._delay(attempt), deadline - now)
            reason = failure if response is None else f"HTTP {response.status_code}"
            # The first retry is worth a warning; the rest of an outage would flood the log.
            log = logger.warning if attempt == 1 else logger.debug
            log("retrying %s %s for up to %.0fs: %s", method, path, deadline - now, reason)
            time.sleep(delay)

    def _delay(self, attempt: int) -> float:
        """Return the sleep before retry `attempt` (1-based): capped exponential, with jitter."""
        # Jitter spreads the retries of many clients, so a recovering server is not hit in step.
        ceiling = min(self.max_sleep, self.backoff * 2 ** min(attempt - 1, 32))
        return ceiling * (0.5 + random.random() / 2)

    def _give_up(
        self,
        failure: httpx.TransportError | None,
        response: httpx.Response | None,
        attempt: int,
        elapsed: float,
    ) -> PerenniaError:
        """Return the error a call raises once its retries are spent."""
        note = f" (gave up after {attempt} retries over {elapsed:.1f}s)" if attempt else ""
        if response is None:
            return StoreUnavailable(
                f"cannot reach the tracking server at {self.base_url}: {failure}{note}; "
                "PERENNIA_HTTP_RETRY_SECONDS sets how long requests are retried"
            )
        return error_from_response(response, note=note)

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()
