"""`perennia server`: serve the metadata store over HTTP with uvicorn."""

from __future__ import annotations

import ipaddress
import os
from typing import TYPE_CHECKING

import typer

from perennia.cli.output import console
from perennia.config import Settings
from perennia.errors import InvalidInput

if TYPE_CHECKING:
    from fastapi import FastAPI

    from perennia.store.base import ServerStore


def is_loopback(host: str) -> bool:
    """Return True when `host` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _start_up(uri: str, settings: Settings, workers: int) -> tuple[ServerStore, FastAPI | None]:
    """Return the opened store (schema created or migrated once, before any worker starts) and,
    for one worker, the app serving it (None for several: each worker builds its own)."""
    import gc

    # Start-up allocates what lives as long as the server (modules, routes, tables): collecting
    # meanwhile walks that heap again and again (a tenth of start-up), so the collector waits
    # until the app is built and then leaves it frozen. No gc.collect() first: it would cost
    # as much as it saves, for a few hundred start-up objects kept.
    gc.disable()
    try:
        from perennia.store import open_store

        store = open_store(uri)
        if workers > 1:
            return store, None
        from perennia.server.app import create_app

        app = create_app(store, settings)
        gc.freeze()
        return store, app
    finally:
        gc.enable()


def server(
    backend_store_uri: str | None = typer.Option(
        None, "--backend-store-uri", help="Metadata store (default: the embedded SQLite store)."
    ),
    artifacts_uri: str | None = typer.Option(
        None, "--artifacts-uri", help="Artifact folder or s3://bucket/prefix."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(5000, "--port", min=1, max=65535, help="Port to listen on."),
    workers: int = typer.Option(1, "--workers", min=1, max=64, help="Worker processes."),
    auth: bool = typer.Option(
        False, "--auth", help="Require users and tokens (see `perennia users`, `perennia tokens`)."
    ),
    insecure: bool = typer.Option(
        False, "--insecure", help="Allow a non-loopback address without authentication."
    ),
    access_log: bool = typer.Option(
        False, "--access-log", help="Print one Common Log Format line per request to stderr."
    ),
) -> None:
    """Serve experiments, runs, artifacts and the registry over HTTP (native API and MLflow's)."""
    settings = Settings.from_env().with_overrides(
        tracking_uri=backend_store_uri,
        artifacts_uri=artifacts_uri,
        server_auth=auth or None,
        access_log=access_log or None,
    )
    if not is_loopback(host) and not settings.server_auth and not insecure:
        raise InvalidInput(
            f"--host {host} is reachable from other machines and authentication is off; "
            "pass --auth, bind to 127.0.0.1, or pass --insecure if a trusted proxy guards the port"
        )
    uri = settings.resolved_tracking_uri()
    if uri.startswith(("http://", "https://")):
        raise InvalidInput(f"--backend-store-uri {uri!r} is a server; give a database URI")
    store, app = _start_up(uri, settings, workers)
    import uvicorn

    console.print(
        f"perennia server on [bold]http://{host}:{port}[/bold] "
        f"({workers} worker{'s' if workers > 1 else ''}), store {uri}, "
        f"authentication {'on' if settings.server_auth else 'off'}"
    )
    options = {"host": host, "port": port, "log_level": "warning", "access_log": False}
    if app is not None:
        uvicorn.run(app, **options)
        return
    store.close()
    # Worker processes rebuild the app from the environment: the app holds no other state.
    os.environ["PERENNIA_TRACKING_URI"] = uri
    os.environ["PERENNIA_ARTIFACTS_URI"] = settings.resolved_artifacts_uri()
    os.environ["PERENNIA_SERVER_AUTH"] = "true" if settings.server_auth else "false"
    os.environ["PERENNIA_SERVER_ACCESS_LOG"] = "true" if settings.access_log else "false"
    uvicorn.run("perennia.server.app:create_app", factory=True, workers=workers, **options)
