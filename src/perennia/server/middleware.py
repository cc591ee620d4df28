"""The ASGI layer in front of every route: body size limit, authentication, roles, audit log.

Written as plain ASGI (not BaseHTTPMiddleware) so that artifact uploads stream through untouched
and the JSON body, read once here to find the request's targets, is replayed to the route.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool

from perennia.clock import now_ms
from perennia.entities import AuditEntry, Role
from perennia.errors import Conflict, PerenniaError
from perennia.server.access import CREATE_MODEL, OPEN_PATHS, AccessControl, need_of
from perennia.server.errors import error_body

MAX_JSON_BODY = 64 * 1024 * 1024
_STREAMED = ("/api/2.0/mlflow-artifacts/artifacts/",)


def _is_streamed(path: str) -> bool:
    # Uploads stream through to their route untouched; they name their target in the path.
    return path.startswith(_STREAMED) or ("/blobs/" in path and path.startswith("/api/v1/runs/"))


_MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
_KEY = re.compile(r"[A-Za-z0-9_\-]{8,128}")
_ANSWERED = object()  # the idempotency check answered the request itself
_CREATE_EXPERIMENT = {"/api/v1/experiments", "/api/2.0/mlflow/experiments/create"}


async def _answer(send, status: int, body: dict[str, str], headers=()) -> None:
    payload = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(payload)).encode()), *headers]})  # fmt: skip
    await send({"type": "http.response.body", "body": payload})


class ServerMiddleware:
    """Guards an ASGI app: limits, then (when enabled) who is asking and whether they may."""

    def __init__(self, app, store: Any, *, auth: bool, default_role: str | None) -> None:
        self.app = app
        self.store = store
        self.auth = auth
        self.access = AccessControl(store, default_role)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        streamed = _is_streamed(path)
        body = b""
        if method in _MUTATING and not streamed:
            body = await self._read_body(receive)
            if body is None:
                await _answer(send, 413, error_body("REQUEST_LIMIT_EXCEEDED",
                              f"request body exceeds {MAX_JSON_BODY} bytes", "InvalidInput"))  # fmt: skip
                return
            receive = _replay(body)
        user = None
        if self.auth and path not in OPEN_PATHS:
            headers = dict(scope.get("headers") or [])
            authorization = headers.get(b"authorization", b"").decode("latin-1") or None
            user = await run_in_threadpool(self.access.authenticate, authorization)
            if user is None:
                await self._audit_refusal(None, method, path, body, 401)
                await _answer(send, 401, error_body("UNAUTHENTICATED",
                              "sign in: send a token as 'Authorization: Bearer <token>' or use "
                              "HTTP Basic auth", "PermissionDenied"),
                              [(b"www-authenticate", b'Basic realm="perennia"')])  # fmt: skip
                return
            query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
            need = need_of(method, path, query, _json_or_none(body))
            try:
                await run_in_threadpool(self.access.authorize, user, need)
            except PerenniaError as error:
                await self._audit_refusal(user, method, path, body, error.http_status)
                await _answer(send, error.http_status,
                              error_body(error.error_code, str(error), type(error).__name__))  # fmt: skip
                return
        # Routes read the signed-in user (None when authentication is off) from request.state.
        scope.setdefault("state", {})["user"] = user
        scope["state"]["access"] = self.access  # listings filter by what the user may read
        key = None
        if method in _MUTATING and not streamed:
            key = await self._idempotency(scope, send, user, body)
            if key is _ANSWERED:
                return
        audit = None
        if method in _MUTATING:

            async def audit(status: int, captured: bytes) -> None:
                await run_in_threadpool(
                    self._after_write, user, method, path, body, status, captured
                )
                if key is not None:
                    await run_in_threadpool(self.store.idempotency.finish, key,
                                            _name(user), status, captured)  # fmt: skip

        capture = path in _CREATE_EXPERIMENT or key is not None
        await self._forward(scope, receive, send, capture, audit)

    async def _idempotency(self, scope, send, user, body: bytes) -> Any:
        """Return the request's claimed Idempotency-Key, None without one, or _ANSWERED.

        A retry of a finished write is answered here with the stored response; a retry while
        the first attempt still runs gets 503 (the client backs off and tries again).
        """
        raw = dict(scope.get("headers") or []).get(b"idempotency-key")
        if raw is None or getattr(self.store, "idempotency", None) is None:
            return None
        key = raw.decode("latin-1")
        if not _KEY.fullmatch(key):
            await _answer(send, 400, error_body("INVALID_PARAMETER_VALUE", "Idempotency-Key must "
                          "be 8-128 letters, digits, - or _", "InvalidInput"))  # fmt: skip
            return _ANSWERED
        request = hashlib.sha256(b"\0".join(
            (scope["method"].encode(), scope["path"].encode(), scope.get("query_string", b""), body)
        )).hexdigest()  # fmt: skip
        try:
            claim = await run_in_threadpool(self.store.idempotency.claim, key, _name(user), request)
        except Conflict as error:
            await _answer(send, 503, error_body("TEMPORARILY_UNAVAILABLE", str(error), "Conflict"))
            return _ANSWERED
        except PerenniaError as error:
            await _answer(send, error.http_status,
                          error_body(error.error_code, str(error), type(error).__name__))  # fmt: skip
            return _ANSWERED
        if claim.replay is None:
            return key
        status, stored = claim.replay
        payload = (stored or "").encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(payload)).encode()),
                                (b"idempotent-replayed", b"true")]})  # fmt: skip
        await send({"type": "http.response.body", "body": payload})
        return _ANSWERED

    async def _audit_refusal(self, user, method: str, path: str, body: bytes, status: int) -> None:
        # Refused writes are recorded too: they are what an audit is most often read for.
        if method in _MUTATING:
            await run_in_threadpool(self._after_write, user, method, path, body, status, b"")

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

    async def _forward(self, scope, receive, send, capture: bool, audit) -> None:
        """Run the app; a write's last body message waits until its audit entry is stored."""
        status = 500
        captured: list[bytes] = []
        held = None

        async def watching_send(message) -> None:
            nonlocal status, held
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                if capture:
                    captured.append(message.get("body", b""))
                if audit is not None and not message.get("more_body"):
                    held = message
                    return
            await send(message)

        await self.app(scope, receive, watching_send)
        if audit is not None:
            await audit(status, b"".join(captured))
            if held is not None:
                await send(held)

    def _after_write(self, user, method, path, body, status, captured) -> None:
        target = _target(path, _json_or_none(body))
        if path in _CREATE_EXPERIMENT and status < 300:
            created = _json_or_none(captured) or {}
            target = str(created.get("experiment_id") or target or "")
            if user is not None and not user.is_admin and target:
                self.store.access.set_role(target, user.username, Role.MANAGER)
        if path in CREATE_MODEL and status < 300:
            # Whoever registers a model manages it, as whoever creates an experiment does.
            name = (_json_or_none(body) or {}).get("name")
            target = str(name)[:64] if isinstance(name, str) else target
            if user is not None and not user.is_admin and isinstance(name, str):
                self.store.access.set_model_role(name, user.username, Role.MANAGER)
        self.store.audit.record(
            AuditEntry(now_ms(), user.username if user else None, method, path, target, status)
        )


def _name(user: Any) -> str | None:
    return None if user is None else user.username


def _replay(body: bytes):
    sent = False

    async def receive():
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError):
        return None


def _target(path: str, body: Any) -> str | None:
    body = body if isinstance(body, dict) else {}
    for key in ("run_id", "run_uuid", "experiment_id", "name"):
        if isinstance(body.get(key), str | int):
            return str(body[key])[:64]
    tail = path.rstrip("/").rsplit("/", 1)[-1]
    return tail[:64] if tail and (tail.isdigit() or len(tail) == 32) else None
