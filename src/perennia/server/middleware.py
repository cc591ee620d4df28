"""The ASGI layer in front of every route: limits, sign-in, idempotent writes, audit, failures.

Written as plain ASGI (not BaseHTTPMiddleware) so that artifact uploads stream through untouched.
It decides *who* is asking, never *what* they may do: each route asks its `Caller` with the
arguments it parsed (perennia.server.access). What it guarantees around every route:

- a JSON body over the size or nesting limit is refused before any route parses it;
- sign-in (401, or 429 after too many failures) when the server requires it;
- a route that answers success without having asked its Caller is turned into a 500 (fail
  closed), so a new endpoint cannot forget its access rule and leak;
- a write carrying an Idempotency-Key runs in one transaction with the key's stored answer;
- every failure answers JSON with a status, even an exception escaping a route;
- every write, refused and failed ones too, is in the audit log before the answer leaves.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from itertools import accumulate
from typing import Any

from starlette.concurrency import run_in_threadpool

from perennia.clock import now_ms
from perennia.config import Settings
from perennia.entities import AuditEntry, Role
from perennia.errors import Conflict, InvalidInput, PerenniaError, TooLarge
from perennia.server.access import OPEN_PATHS, Caller
from perennia.server.errors import error_body, failure
from perennia.server.signin import SignIn
from perennia.store.base import ServerStore
from perennia.store.sql.engine import join, leave

logger = logging.getLogger(__name__)

MAX_JSON_BODY = 64 * 1024 * 1024
MAX_JSON_DEPTH = 64
_STREAMED = ("/api/2.0/mlflow-artifacts/artifacts/",)
_MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
_KEY = re.compile(r"[A-Za-z0-9_\-]{8,128}")
_JSON_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\x02\x02")  # opening -> 1, closing -> 2
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[{]}"))


def _is_streamed(path: str) -> bool:
    # Uploads stream through to their route untouched; they name their target in the path.
    return path.startswith(_STREAMED) or ("/blobs/" in path and path.startswith("/api/v1/runs/"))


def json_depth_exceeds(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Return whether a JSON text nests arrays and objects deeper than `limit`."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False  # cannot nest deeper than it has brackets (the common, cheap case)
    # Strings may hold brackets: drop them, keep only the brackets, and track the running depth
    # in C (accumulate) rather than a Python loop over every token of a large batch.
    brackets = _JSON_STRINGS.sub(b"", body).translate(_STEPS, _NOT_BRACKETS)
    return max(accumulate(b if b == 1 else -1 for b in brackets), default=0) > limit


def _json_response(status: int, body: dict[str, str], headers=()) -> list[dict[str, Any]]:
    payload = json.dumps(body).encode()
    start = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
            *headers,
        ],
    }
    return [start, {"type": "http.response.body", "body": payload}]


def _error_response(error: PerenniaError, headers=()) -> list[dict[str, Any]]:
    body = error_body(error.error_code, str(error), type(error).__name__)
    return _json_response(error.http_status, body, headers)


class ServerMiddleware:
    """Guards an ASGI app: limits, sign-in, idempotency, audit, and JSON for every failure."""

    def __init__(self, app, store: ServerStore, settings: Settings) -> None:
        self.app = app
        self.store = store
        self.auth = settings.server_auth
        role = settings.auth_default_role
        self.default_role = None if role in (None, "", "none") else Role(role)
        self.signin = SignIn(store, settings.signin_max_failures)
        self.lease_ms = int(settings.idempotency_lease_seconds * 1000)
        engine = getattr(store, "engine", None)
        # SQLite has one writer: a write holding it across thread hops (an idempotent unit)
        # while other writes wait in every worker thread would stall, so writes queue here.
        sqlite = engine is not None and engine.dialect.name == "sqlite"
        self._write_turn = asyncio.Lock() if sqlite else None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"].startswith("//"):  # `//x` is `/x` (MLflow's server merges them too)
            scope = dict(scope, path="/" + scope["path"].lstrip("/"))
        method, path = scope["method"], scope["path"]
        mutating, streamed = method in _MUTATING, _is_streamed(path)
        body = b""
        if mutating and not streamed:
            body = await self._read_body(receive)
            refusal = self._body_refusal(body)
            if refusal is not None:
                await self._audit(None, method, path, None, refusal.http_status)
                await _send_all(send, _error_response(refusal))
                return
            receive = _replay(body)
        user = None
        if self.auth and path not in OPEN_PATHS:
            try:
                user = await run_in_threadpool(self.signin.authenticate, *_credentials(scope))
            except PerenniaError as error:  # too many failed sign-ins
                await self._audit(None, method, path, None, error.http_status)
                await _send_all(send, _error_response(error))
                return
            if user is None:
                await self._audit(None, method, path, None, 401)
                await _send_all(
                    send,
                    _json_response(
                        401,
                        error_body(
                            "UNAUTHENTICATED",
                            "sign in: send a token as 'Authorization: Bearer <token>' or use "
                            "HTTP Basic auth",
                            "PermissionDenied",
                        ),
                        [(b"www-authenticate", b'Basic realm="perennia"')],
                    ),
                )
                return
        caller = Caller(user, self.store, self.default_role, enforced=self.auth)
        if path in OPEN_PATHS:
            caller.open()  # the API's own description (FastAPI's routes, not ours)
        state = scope.setdefault("state", {})
        state["caller"], state["user"] = caller, user
        if mutating and not streamed and self._write_turn is not None:
            async with self._write_turn:
                await self._handle(scope, receive, send, caller, body)
        else:
            await self._handle(scope, receive, send, caller, body)

    def _body_refusal(self, body: bytes | None) -> PerenniaError | None:
        if body is None:
            return TooLarge(f"request body exceeds {MAX_JSON_BODY} bytes")
        if json_depth_exceeds(body):
            return InvalidInput(
                f"request body nests arrays and objects deeper than {MAX_JSON_DEPTH} levels"
            )
        return None

    async def _handle(self, scope, receive, send, caller: Caller, body: bytes) -> None:
        method, path = scope["method"], scope["path"]
        mutating = method in _MUTATING and not _is_streamed(path)
        unit = None
        if mutating:
            claimed = await self._claim(scope, caller, body)
            if isinstance(claimed, list):  # answered from the key's record, or refused
                await self._audit(caller, method, path, caller.target, claimed[0]["status"])
                await _send_all(send, claimed)
                return
            if claimed is not None:
                try:
                    unit = await run_in_threadpool(
                        self.store.idempotency.open_unit, claimed[0], caller.username, claimed[1]
                    )
                except Exception as error:  # noqa: BLE001 - database down: answer, the lease frees the key
                    await _send_all(send, _failure(method, path, error))
                    return
        joined = join(unit.unit) if unit is not None else None
        try:
            status, messages = await self._run(
                scope, receive, send, caller, buffer=unit is not None
            )
        finally:
            if joined is not None:
                leave(joined)
        if unit is not None:
            status, messages = await self._settle(unit, scope, caller, status, messages)
        if method in _MUTATING:
            await self._audit(caller, method, path, caller.target, status)
        await _send_all(send, messages)

    async def _run(self, scope, receive, send, caller: Caller, *, buffer: bool):
        """Run the app; return its status and the messages still to send.

        A read streams straight through; a write's last body message is held back so that its
        audit entry is stored before the client sees the answer; a buffered write (one with an
        Idempotency-Key) is held whole until its transaction commits.
        """
        held: list[dict] = []
        state = {"status": 500, "started": False, "blocked": False, "done": False}
        write = scope["method"] in _MUTATING

        async def guarded_send(message) -> None:
            if state["blocked"]:
                return
            if message["type"] == "http.response.start":
                state["started"], state["status"] = True, message["status"]
                if self.auth and message["status"] < 400 and not caller.decided:
                    # Fail closed: this route answered without asking its Caller.
                    logger.error(
                        "route %s %s answered without an access decision",
                        scope["method"],
                        scope["path"],
                    )
                    state["blocked"], state["status"] = True, 500
                    held[:] = _json_response(
                        500,
                        error_body(
                            "INTERNAL_ERROR", "this endpoint has no access rule", "PerenniaError"
                        ),
                    )
                    return
            last = message["type"] == "http.response.body" and not message.get("more_body")
            if buffer or (write and last):
                held.append(message)
            else:
                await send(message)
            state["done"] = state["done"] or last

        try:
            await self.app(scope, receive, guarded_send)
        except Exception as error:  # noqa: BLE001 - every failure answers JSON, never a dropped connection
            if not state["started"] or (buffer and not state["done"] and not state["blocked"]):
                messages = _failure(scope["method"], scope["path"], error)
                return messages[0]["status"], messages
            if not state["done"] and not state["blocked"]:
                held.append({"type": "http.response.body", "body": b""})  # end what began
        return state["status"], held

    async def _claim(self, scope, caller: Caller, body: bytes) -> Any:
        """Return (key, claim token) for a claimed key, None without a key, or messages to send.

        A retry of a finished write is answered with the stored response; a retry while the
        first attempt holds a live lease gets 503 (the client backs off and tries again).
        """
        raw = dict(scope.get("headers") or []).get(b"idempotency-key")
        if raw is None or getattr(self.store, "idempotency", None) is None:
            return None
        key = raw.decode("latin-1")
        if not _KEY.fullmatch(key):
            return _json_response(
                400,
                error_body(
                    "INVALID_PARAMETER_VALUE",
                    "Idempotency-Key must be 8-128 letters, digits, - or _",
                    "InvalidInput",
                ),
            )
        request = hashlib.sha256(
            b"\0".join(
                (
                    scope["method"].encode(),
                    scope["path"].encode(),
                    scope.get("query_string", b""),
                    body,
                )
            )
        ).hexdigest()
        try:
            claim = await run_in_threadpool(
                self.store.idempotency.claim, key, caller.username, request, self.lease_ms
            )
        except Conflict as error:
            return _json_response(
                503,
                error_body("TEMPORARILY_UNAVAILABLE", str(error), "Conflict"),
                [(b"retry-after", b"1")],
            )
        except PerenniaError as error:
            return _error_response(error)
        except Exception as error:  # noqa: BLE001 - database down: 503, the client retries
            return _failure(scope["method"], scope["path"], error)
        if claim.replay is None:
            return key, claim.token
        status, stored = claim.replay
        payload = (stored or "").encode()
        return [
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    (b"idempotent-replayed", b"true"),
                ],
            },
            {"type": "http.response.body", "body": payload},
        ]

    async def _settle(self, unit, scope, caller: Caller, status: int, messages):
        """Commit the write with its key's answer, or undo it; return the status and messages."""
        if status < 500:
            answer = b"".join(m.get("body", b"") for m in messages[1:])
            try:
                await run_in_threadpool(unit.commit, status, answer)
                return status, messages
            except Conflict as error:  # the lease ran out and a retry took the key over
                return 503, _json_response(
                    503, error_body("TEMPORARILY_UNAVAILABLE", str(error), "Conflict")
                )
            except Exception as error:  # noqa: BLE001 - the commit failed: nothing was written
                failed = _failure(scope["method"], scope["path"], error)
                return failed[0]["status"], failed
        try:
            await run_in_threadpool(unit.rollback)
            await run_in_threadpool(
                self.store.idempotency.release, unit.key, caller.username, unit.token
            )
        except Exception:  # noqa: BLE001 - the database is gone; the lease frees the key
            logger.warning("could not release Idempotency-Key %s; its lease will", unit.key)
        return status, messages

    async def _read_body(self, receive) -> bytes | None:
        chunks, size = [], 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_JSON_BODY:
                return None
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)

    async def _audit(self, caller: Caller | None, method, path, target, status: int) -> None:
        # Refused and failed writes are recorded too: they are what an audit is most often
        # read for. A database that is down cannot take the entry; the answer says so (503).
        if method not in _MUTATING:
            return
        username = caller.username if caller is not None else None
        entry = AuditEntry(now_ms(), username, method, path, target, status)
        try:
            await run_in_threadpool(self.store.audit.record, entry)
        except Exception:  # noqa: BLE001
            logger.warning("could not write the audit entry for %s %s (%s)", method, path, status)


def _failure(method: str, path: str, error: BaseException) -> list[dict[str, Any]]:
    """Return the JSON answer to an exception: 503 for a database outage, else 500."""
    return _json_response(*failure(method, path, error))


async def _send_all(send, messages: list[dict[str, Any]]) -> None:
    for message in messages:
        await send(message)


def _credentials(scope) -> tuple[str | None, str | None]:
    headers = dict(scope.get("headers") or [])
    authorization = headers.get(b"authorization", b"").decode("latin-1") or None
    client = scope.get("client")
    return authorization, client[0] if client else None


def _replay(body: bytes):
    sent = False

    async def receive():
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
