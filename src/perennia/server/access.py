"""Who may do what: the request's user, the experiments it touches, and the role that requires.

Runs live in experiments, so every check comes down to the user's role in an experiment:
viewer (read), editor (write), manager (rename, delete, restore). Admins may do everything,
including the store-wide housekeeping endpoints. Native and MLflow-compatible endpoints name
their targets with the same field names, so one resolver serves both.
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from perennia.entities import Role, User
from perennia.errors import NotFound, PerenniaError, PermissionDenied
from perennia.security import TOKEN_PREFIX

OPEN_PATHS = {"/health", "/version", "/openapi.json", "/docs", "/redoc"}
_ADMIN_SUFFIXES = ("/purge", "/mark-stale-killed", "/artifact-digests")
# Webhook URLs are set by administrators only: the server POSTs to them (no SSRF by users).
_ADMIN_PREFIXES = ("/api/v1/webhooks", "/api/v1/webhook-deliveries", "/api/v1/registry-events",
                   "/api/v1/model-versions")  # fmt: skip
_MANAGE = re.compile(
    r"^/api/v1/experiments/\d+(/restore)?$|^/api/2\.0/mlflow/experiments/(delete|update|restore)$"
)
_CREATE_EXPERIMENT = {"/api/v1/experiments", "/api/2.0/mlflow/experiments/create"}
_EXPERIMENT_IN_PATH = re.compile(r"^/api/v1/experiments/(\d+)")
_RUN_IN_PATH = re.compile(r"^/api/v1/runs/([0-9a-f]{32})")
_PROXY_PATH = re.compile(r"^/api/2\.0/mlflow-artifacts/artifacts/(\d+)/([0-9a-f]{32})")
_CACHE_SECONDS = 60.0
# The registry: each request names the registered model it touches.
_NATIVE_MODEL = re.compile(r"^/api/v1/registered-models/([^/]+)(/.*)?$")
_NATIVE_REQUEST = re.compile(r"^/api/v1/approval-requests/(\d{1,18})(/(reviews|cancel))?$")
_MLFLOW_REGISTRY = re.compile(r"^/api/2\.0/mlflow/(registered-models|model-versions)/([a-z-]+)$")
_MLFLOW_MANAGE = {"delete", "rename"}
_LOGGED_MODEL = re.compile(r"^/api/2\.0/mlflow/logged-models/(m-[0-9a-f]{1,64})")
_PROXY_LOGGED = re.compile(r"^/api/2\.0/mlflow-artifacts/artifacts/(\d+)/models/(m-[0-9a-f]{1,64})")
CREATE_MODEL = {"/api/v1/registered-models", "/api/2.0/mlflow/registered-models/create"}


@dataclass(frozen=True)
class Need:
    """What a request needs: a level, and the experiments (or runs) it touches."""

    level: str  # "read", "write", "manage", "admin" or "user" (any signed-in user)
    experiment_ids: tuple[str, ...] = ()
    run_ids: tuple[str, ...] = ()
    experiment_names: tuple[str, ...] = ()
    model_names: tuple[str, ...] = ()
    request_ids: tuple[int, ...] = ()
    logged_model_ids: tuple[str, ...] = ()
    # Runs a new model version names as its source: reading them is enough.
    source_run_ids: tuple[str, ...] = ()


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(str(v) for v in value if isinstance(v, str | int))
    return (str(value),) if isinstance(value, str | int) and str(value) else ()


def need_of(method: str, path: str, query: dict[str, str], body: Any) -> Need:
    """Return what a request needs, from its method, path, query and JSON body."""
    body = body if isinstance(body, dict) else {}
    if path.startswith(_ADMIN_PREFIXES):
        return Need("admin")
    registry = _registry_need(method, path, query, body)
    if registry is not None:
        return registry
    if path.endswith(_ADMIN_SUFFIXES):
        return Need("admin")
    fields = {**query, **body}
    experiments = [*_strings(fields.get("experiment_id")), *_strings(fields.get("experiment_ids"))]
    runs = [*_strings(fields.get("run_id")), *_strings(fields.get("run_uuid")),
            *_strings(fields.get("run_ids"))]  # fmt: skip
    names = [*_strings(query.get("experiment_name")), *_strings(query.get("name"))]
    for pattern, target in ((_EXPERIMENT_IN_PATH, experiments), (_RUN_IN_PATH, runs)):
        match = pattern.match(path)
        if match:
            target.append(match.group(1))
    proxied = _PROXY_PATH.match(path) or _PROXY_PATH.match(
        "/api/2.0/mlflow-artifacts/artifacts/" + query.get("path", "").strip("/")
    )
    if proxied:
        experiments.append(proxied.group(1))
        runs.append(proxied.group(2))
    if path in _CREATE_EXPERIMENT and method == "POST":
        level = "user"
    elif _MANAGE.match(path) and method in ("POST", "PATCH", "DELETE"):
        level = "manage"
    elif method in ("GET", "HEAD") or path.endswith(("/search", "/search-frame")):
        level = "read"
    else:
        level = "write"
    if level == "read" and not (experiments or runs or names):
        level = "user"  # listings: any signed-in user
    return Need(level, tuple(experiments), tuple(runs), tuple(names))


def _registry_need(method: str, path: str, query: dict[str, str], body: dict) -> Need | None:
    """Return what a registry or logged-model request needs, or None for other requests."""
    reading = method in ("GET", "HEAD")
    if path in CREATE_MODEL and method == "POST" or path == "/api/v1/registered-models":
        return Need("user")
    if match := _NATIVE_MODEL.match(path):
        return _native_model_need(method, match.group(1), match.group(2) or "", body)
    if path == "/api/v1/approval-requests":
        return Need("admin")  # every model's requests; a model's own are under its path
    if match := _NATIVE_REQUEST.match(path):
        # Reviewing and cancelling need sight of the model; the store checks the rest (the
        # policy's reviewer role, no self-approval, only the requester cancels).
        return Need("read", request_ids=(int(match.group(1)),))
    if match := _MLFLOW_REGISTRY.match(path):
        return _mlflow_registry_need(reading, match.group(1), match.group(2), query, body)
    if match := _LOGGED_MODEL.match(path):
        return Need("read" if reading else "write", logged_model_ids=(match.group(1),))
    if path.startswith("/api/2.0/mlflow/logged-models"):
        ids = (*_strings(body.get("experiment_id")), *_strings(body.get("experiment_ids")))
        if reading or path.endswith("/search"):
            return Need("read" if ids else "user", ids)
        return Need("write", ids)
    proxied = _PROXY_LOGGED.match(path) or _PROXY_LOGGED.match(
        "/api/2.0/mlflow-artifacts/artifacts/" + query.get("path", "").strip("/")
    )
    if proxied:
        return Need("read" if reading else "write", (proxied.group(1),),
                    logged_model_ids=(proxied.group(2),))  # fmt: skip
    return None


def _native_model_need(method: str, name: str, rest: str, body: dict) -> Need:
    """Return what `/api/v1/registered-models/{name}{rest}` needs."""
    if method in ("GET", "HEAD"):
        return Need("read", model_names=(name,))
    # Managers decide what the model is and what serves: deletion, the owner named on its card,
    # renames, approval policies, roles and rollbacks.
    manage = (
        rest == "" and (method == "DELETE" or body.get("owner") is not None)
        or rest.startswith(("/rename", "/policies", "/roles"))
        or rest.endswith("/rollback")
    )  # fmt: skip
    sources = _strings(body.get("run_id")) if rest == "/versions" else ()
    return Need("manage" if manage else "write", model_names=(name,), source_run_ids=sources)


def _mlflow_registry_need(
    reading: bool, resource: str, verb: str, query: dict[str, str], body: dict
) -> Need:
    """Return what MLflow's `/api/2.0/mlflow/{resource}/{verb}` needs."""
    names = _strings(body.get("name")) or _strings(query.get("name"))
    if verb == "search" or verb == "get-latest-versions" and not names:
        return Need("user")  # listings, filtered by what the user may read
    sources = _strings(body.get("run_id")) if verb == "create" else ()
    if reading or verb in ("get", "get-download-uri", "get-latest-versions"):
        level = "read"
    elif resource == "registered-models" and verb in _MLFLOW_MANAGE:
        level = "manage"
    else:
        level = "write"
    return Need(level, model_names=names, source_run_ids=sources)


def model_reader(request: Any) -> Any:
    """Return a predicate: may the request's user read the registered model with this name?

    Listings answer with only what the user may read (sign-in off, or an admin: everything).
    """
    user = getattr(request.state, "user", None)
    access = getattr(request.state, "access", None)
    if user is None or access is None or user.is_admin:
        return lambda name: True
    return lambda name: access.may_read_model(user, name)


class AccessControl:
    """Authenticates requests and checks their roles against the store."""

    def __init__(self, store: Any, default_role: str | None) -> None:
        self.store = store
        self.default_role = None if default_role in (None, "", "none") else Role(default_role)
        self._cache: dict[str, tuple[float, User]] = {}
        self._lock = threading.Lock()

    def authenticate(self, authorization: str | None) -> User | None:
        """Return the user an Authorization header proves, or None."""
        if not authorization:
            return None
        scheme, _, credentials = authorization.partition(" ")
        scheme = scheme.lower()
        if scheme == "bearer":
            return self.store.access.authenticate_token(credentials.strip())
        if scheme != "basic":
            return None
        try:
            username, _, secret = base64.b64decode(credentials.strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        if secret.startswith(TOKEN_PREFIX):
            user = self.store.access.authenticate_token(secret)
            return user if user is not None and user.username == username else None
        return self._password_user(username, secret)

    def _password_user(self, username: str, password: str) -> User | None:
        # scrypt is slow on purpose; a client sending Basic auth on every call would pay it
        # each time, so a verified pair is remembered briefly (by digest, never in clear).
        key = hashlib.sha256(f"{username}\x00{password}".encode()).hexdigest()
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        user = self.store.access.authenticate_password(username, password)
        if user is not None:
            with self._lock:
                self._cache[key] = (now + _CACHE_SECONDS, user)
        return user

    def authorize(self, user: User, need: Need) -> None:
        """Raise PermissionDenied unless `user` may do what `need` describes."""
        if user.is_admin or need.level == "user":
            return
        if need.level == "admin":
            raise PermissionDenied(f"user {user.username!r} is not an administrator")
        required = {"read": Role.VIEWER, "write": Role.EDITOR, "manage": Role.MANAGER}[need.level]
        models = set(need.model_names)
        for request_id in need.request_ids:
            try:
                models.add(self.store.approvals.get_request(request_id).name)
            except PerenniaError:
                continue  # the endpoint itself answers 404
        for name in models:
            self._check_model(user, name, required)
        for run_id in need.source_run_ids:
            self._check_source_run(user, run_id)
        experiments = set(need.experiment_ids)
        for model_id in need.logged_model_ids:
            try:
                experiments.add(self.store.logged_models.get(model_id).experiment_id)
            except PerenniaError:
                continue
        if models and not experiments and not need.run_ids:
            return
        for run_id in need.run_ids:
            try:
                experiments.add(self.store.runs.get(run_id).info.experiment_id)
            except NotFound:
                continue  # the endpoint itself answers 404
        for name in need.experiment_names:
            found = self.store.experiments.get_by_name(name)
            if found is not None:
                experiments.add(found.experiment_id)
        if not experiments and need.level != "read":
            raise PermissionDenied(f"user {user.username!r} may not {need.level} here")
        for experiment_id in experiments:
            role = self._role(experiment_id, user)
            if role is None or role.rank < required.rank:
                raise PermissionDenied(
                    f"user {user.username!r} needs the {required.value} role in experiment "
                    f"{experiment_id} (has {role.value if role else 'none'})"
                )

    def may_read_model(self, user: User, name: str) -> bool:
        """Return whether the user may read the registered model (admins always may)."""
        return user.is_admin or self._model_role(name, user) is not None

    def _check_source_run(self, user: User, run_id: str) -> None:
        # A version's gates read its source run's metrics, so naming a run needs sight of it.
        try:
            experiment_id = self.store.runs.get(run_id).info.experiment_id
        except PerenniaError:
            return  # the store keeps the id as given; no run, no metrics to read
        role = self._role(experiment_id, user)
        if role is None:
            raise PermissionDenied(
                f"user {user.username!r} cannot read run {run_id!r} (experiment {experiment_id}), "
                "so cannot name it as a model version's source"
            )

    def _check_model(self, user: User, name: str, required: Role) -> None:
        try:
            self.store.registry.get_registered_model(name)
        except PerenniaError:
            return  # the endpoint itself answers 404 (or 400 for a bad name)
        role = self._model_role(name, user)
        if role is None or role.rank < required.rank:
            raise PermissionDenied(
                f"user {user.username!r} needs the {required.value} role on registered model "
                f"{name!r} (has {role.value if role else 'none'})"
            )

    def _model_role(self, name: str, user: User) -> Role | None:
        return self.store.access.model_role_of(name, user.user_id) or self.default_role

    def _role(self, experiment_id: str, user: User) -> Role | None:
        try:
            return self.store.access.role_of(experiment_id, user.user_id) or self.default_role
        except Exception:  # noqa: BLE001 - a malformed id is the endpoint's 400 to give
            return self.default_role
