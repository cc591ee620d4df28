"""Settings: the one place that reads the environment.

Every other module receives a `Settings` (or values taken from one); none reads `os.environ`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from perennia.errors import InvalidInput

_ENV_PREFIX = "PERENNIA_"


def _env_float(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(_ENV_PREFIX + name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInput(
            f"{_ENV_PREFIX}{name}={raw!r} is not a number; set it to seconds, e.g. 10"
        ) from None
    if value <= 0:
        raise InvalidInput(f"{_ENV_PREFIX}{name}={raw!r} must be positive")
    return value


def _env_int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(_ENV_PREFIX + name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{_ENV_PREFIX}{name}={raw!r} is not an integer") from None
    if value <= 0:
        raise InvalidInput(f"{_ENV_PREFIX}{name}={raw!r} must be positive")
    return value


def _env_bool(env: dict[str, str], name: str, default: bool) -> bool:
    raw = env.get(_ENV_PREFIX + name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise InvalidInput(f"{_ENV_PREFIX}{name}={raw!r} is not a boolean; use true or false")


CHANNEL_SECRET_PREFIX = "PERENNIA_CHANNEL_"


def secret_from_env(name: str) -> str:
    """Return the secret held by environment variable `name` (InvalidInput when it is unset).

    Alert channels name their secrets this way (`secret_env`, `password_env`) so that a monitor's
    stored configuration, readable by every signed-in user, never holds the secret itself. Only
    variables named PERENNIA_CHANNEL_* can be read, so a configuration cannot make the server
    send one of its own credentials (a database URL, a cloud key) to an address it chooses.
    """
    from perennia.errors import InvalidInput

    if not isinstance(name, str) or not name.startswith(CHANNEL_SECRET_PREFIX):
        raise InvalidInput(
            f"channel secrets come from variables named {CHANNEL_SECRET_PREFIX}*, got {name!r:.80}"
        )
    value = os.environ.get(name)
    if not value:
        raise InvalidInput(f"environment variable {name!r} holding a channel secret is not set")
    return value


def nearest_home(start: Path) -> Path:
    """Return the nearest `.perennia` folder in `start` or above it, else `start/.perennia`.

    Like git finding its repository, a command run in a project's subfolder uses the project's
    store instead of silently starting an empty one.
    """
    for folder in (start, *start.parents):
        candidate = folder / ".perennia"
        if candidate.is_dir():
            return candidate if folder != start else Path(".perennia")
    return Path(".perennia")


@dataclass(frozen=True)
class Settings:
    """Everything configurable, resolved once from the environment and explicit arguments."""

    home: Path = field(default_factory=lambda: Path(".perennia"))
    tracking_uri: str | None = None
    artifacts_uri: str | None = None
    # A live run rewrites its heartbeat this often; a run silent for `heartbeat_timeout` is KILLED.
    heartbeat_interval: float = 10.0
    heartbeat_timeout: float = 60.0
    # The background writer flushes when this many points wait, or this many seconds pass.
    writer_batch_size: int = 5_000
    writer_flush_interval: float = 1.0
    synchronous: bool = False
    # The server: require users and tokens, and the role users get in experiments they hold no
    # explicit role in ("viewer", "editor", "manager" or "none").
    server_auth: bool = False
    access_log: bool = False
    # The API token a remote SDK sends to a server that requires sign-in.
    tracking_token: str | None = field(default=None, repr=False)
    auth_default_role: str = "viewer"
    # The server sends registry webhooks from a background thread in each process.
    webhook_dispatch: bool = True
    # The server runs scheduled monitors from a background thread in each process (a lease in
    # the database gives each monitor to one process at a time).
    monitor_scheduling: bool = True
    # The server runs due cron schedules (and the retraining loop's checks) from a background
    # thread in each process, every `automation_interval` seconds; a lease in the database
    # gives each firing to one process.
    automation_scheduling: bool = True
    automation_interval: float = 5.0
    # A remote SDK keeps retrying a request this long (connection errors, 5xx) before it gives up:
    # long enough to ride out a database restart behind the server.
    http_retry_seconds: float = 120.0
    # The background writer holds at most this many queued points, params and tags while the
    # store is unreachable; past it, logging calls raise StoreUnavailable instead of growing.
    writer_max_queued: int = 2_000_000
    # A write's Idempotency-Key is held this long by the attempt that claimed it; a retry after
    # the lease (the first worker died, or its database dropped) may take it over.
    idempotency_lease_seconds: float = 30.0
    # Where the server spools uploads while their digest is checked, and how long a spool file
    # may sit untouched before it counts as abandoned (a worker killed mid-upload) and is removed.
    upload_dir: Path | None = None
    upload_stale_seconds: float = 900.0
    # Failed sign-ins allowed per username and per client address in a minute before the
    # server answers 429 without checking the password.
    signin_max_failures: int = 10
    # `perennia serve` hands its configuration to uvicorn's worker processes as JSON here.
    serve_config: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Return settings read from `env` (default: the process environment)."""
        env = dict(os.environ if env is None else env)
        home = Path(env["PERENNIA_HOME"]) if env.get("PERENNIA_HOME") else nearest_home(Path.cwd())
        return cls(
            home=home,
            tracking_uri=env.get("PERENNIA_TRACKING_URI") or None,
            artifacts_uri=env.get("PERENNIA_ARTIFACTS_URI") or None,
            heartbeat_interval=_env_float(env, "HEARTBEAT_INTERVAL", cls.heartbeat_interval),
            heartbeat_timeout=_env_float(env, "HEARTBEAT_TIMEOUT", cls.heartbeat_timeout),
            writer_batch_size=_env_int(env, "WRITER_BATCH_SIZE", cls.writer_batch_size),
            writer_flush_interval=_env_float(
                env, "WRITER_FLUSH_INTERVAL", cls.writer_flush_interval
            ),
            synchronous=_env_bool(env, "SYNCHRONOUS_LOGGING", cls.synchronous),
            server_auth=_env_bool(env, "SERVER_AUTH", cls.server_auth),
            access_log=_env_bool(env, "SERVER_ACCESS_LOG", cls.access_log),
            tracking_token=env.get("PERENNIA_TRACKING_TOKEN") or None,
            auth_default_role=env.get("PERENNIA_AUTH_DEFAULT_ROLE") or cls.auth_default_role,
            webhook_dispatch=_env_bool(env, "WEBHOOK_DISPATCH", cls.webhook_dispatch),
            monitor_scheduling=_env_bool(env, "MONITOR_SCHEDULING", cls.monitor_scheduling),
            automation_scheduling=_env_bool(
                env, "AUTOMATION_SCHEDULING", cls.automation_scheduling
            ),
            automation_interval=_env_float(env, "AUTOMATION_INTERVAL_S", cls.automation_interval),
            http_retry_seconds=_env_float(env, "HTTP_RETRY_SECONDS", cls.http_retry_seconds),
            writer_max_queued=_env_int(env, "WRITER_MAX_QUEUED", cls.writer_max_queued),
            idempotency_lease_seconds=_env_float(
                env, "IDEMPOTENCY_LEASE_SECONDS", cls.idempotency_lease_seconds
            ),
            upload_dir=Path(env["PERENNIA_UPLOAD_DIR"]) if env.get("PERENNIA_UPLOAD_DIR") else None,
            upload_stale_seconds=_env_float(env, "UPLOAD_STALE_SECONDS", cls.upload_stale_seconds),
            signin_max_failures=_env_int(env, "SIGNIN_MAX_FAILURES", cls.signin_max_failures),
            serve_config=env.get("PERENNIA_SERVE_CONFIG") or None,
        )

    def with_overrides(self, **changes: object) -> Settings:
        """Return a copy with the given fields replaced (None values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def resolved_tracking_uri(self) -> str:
        """Return the metadata store URI, defaulting to SQLite inside `home`."""
        if self.tracking_uri:
            return self.tracking_uri
        return f"sqlite:///{(self.home / 'perennia.db').resolve()}"

    def resolved_upload_dir(self) -> Path:
        """Return the folder the server spools uploads in (one per user of this machine)."""
        if self.upload_dir is not None:
            return self.upload_dir
        import tempfile

        return Path(tempfile.gettempdir()) / f"perennia-uploads-{os.getuid()}"

    def resolved_artifacts_uri(self) -> str:
        """Return the artifact store URI, defaulting to a folder inside `home`."""
        if self.artifacts_uri:
            return self.artifacts_uri
        return str((self.home / "artifacts").resolve())
