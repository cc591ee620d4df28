"""The ASGI app: the store's protocols over HTTP (native API under /api/v1/) plus /health."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse

from perennia._version import __version__
from perennia.config import Settings
from perennia.server.access import Caller, caller_of
from perennia.server.artifact_access import ArtifactAccess
from perennia.server.errors import install_error_handlers
from perennia.server.middleware import ServerMiddleware
from perennia.server.mlflow_compat import artifacts as mlflow_artifacts
from perennia.server.mlflow_compat import logged_models as mlflow_logged_models
from perennia.server.mlflow_compat import registry as mlflow_registry
from perennia.server.mlflow_compat import registry_search as mlflow_registry_search
from perennia.server.mlflow_compat import traces as mlflow_traces
from perennia.server.mlflow_compat import tracking as mlflow_tracking
from perennia.server.mlflow_compat import ui_calls as mlflow_ui_calls
from perennia.server.routes import (
    alerts,
    automation,
    blobs,
    datasets,
    deployments,
    experiments,
    governance,
    monitor_metrics,
    monitors,
    registry,
    run_data,
    runs,
    webhooks,
)
from perennia.store.base import ServerStore

# Every router the app serves (the security tests walk this list to check each route is guarded).
ROUTERS = tuple(
    module.router
    for module in (
        experiments,
        runs,
        run_data,
        blobs,
        registry,
        governance,
        webhooks,
        deployments,
        datasets,
        monitors,
        alerts,
        monitor_metrics,
        automation,
        mlflow_tracking,
        mlflow_artifacts,
        mlflow_registry,
        mlflow_registry_search,
        mlflow_logged_models,
        mlflow_ui_calls,
        mlflow_traces,
    )
)


def create_app(store: ServerStore | None = None, settings: Settings | None = None) -> Any:
    """Return the ASGI app serving `store` (by default the one the settings or environment name)."""
    settings = settings or Settings.from_env()
    if store is None:
        from perennia.errors import InvalidInput
        from perennia.store import open_store

        opened = open_store(settings.resolved_tracking_uri())
        if not isinstance(opened, ServerStore):
            raise InvalidInput(
                f"the server needs a database to serve, not another server: "
                f"{settings.resolved_tracking_uri()!r}; use a sqlite:/// or postgresql:// URI"
            )
        store = opened
    app = FastAPI(
        title="Perennia",
        version=__version__,
        description="Tracking, evaluation and the model registry over HTTP: the native API and "
        "MLflow's REST API.",
        # Sends registry webhooks, runs scheduled monitors and automation while serving.
        lifespan=automation.lifespan(store, settings, webhooks.lifespan(store, settings)),
        # The interactive pages load their scripts from a CDN; the product must work offline.
        docs_url=None,
        redoc_url=None,
    )
    app.state.store = store
    app.state.artifacts = ArtifactAccess(
        store,
        settings.resolved_artifacts_uri(),
        settings.resolved_upload_dir(),
        settings.upload_stale_seconds,
    )
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)

    @app.get("/health", tags=["server"])
    def health(caller: Caller = Depends(caller_of)) -> JSONResponse:
        """Return 200 while the server can reach its metadata store."""
        caller.open()
        store.experiments.get("0")
        return JSONResponse({"status": "ok"})

    @app.get("/version", tags=["server"])
    def version(caller: Caller = Depends(caller_of)) -> PlainTextResponse:
        """Return the server's version as plain text, as MLflow's server does."""
        caller.open()
        return PlainTextResponse(__version__)

    @app.get("/api/v1/artifact-digests", tags=["server"])
    def digests_in_use(caller: Caller = Depends(caller_of)) -> JSONResponse:
        """Return every blob digest some run still refers to (for garbage collection)."""
        caller.admin()
        return JSONResponse({"digests": sorted(store.artifacts.digests_in_use())})

    served = ServerMiddleware(app, store, settings)
    if settings.access_log:
        from perennia.server.access_log import AccessLog

        return AccessLog(served)
    return served
