"""`perennia serve`: the inference server for one model or one deployment."""

from __future__ import annotations

import os
import signal
import tempfile

import typer

from perennia.cli.common import state
from perennia.cli.output import console
from perennia.cli.server import is_loopback
from perennia.config import Settings
from perennia.errors import InvalidInput


def serve(
    model_uri: str | None = typer.Argument(
        None, help="A package folder, runs:/<run id>/<path>, models:/name/3 or models:/name@alias."
    ),
    deployment: str | None = typer.Option(
        None, "--deployment", "-d", help="Serve a stored deployment (and follow its changes)."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8080, "--port", min=1, max=65535, help="Port to listen on."),
    workers: int = typer.Option(1, "--workers", min=1, max=64, help="Worker processes."),
    log: bool = typer.Option(True, "--log/--no-log", help="Record every prediction (Parquet)."),
    log_location: str | None = typer.Option(
        None, "--log-location", help="Prediction log folder or s3://bucket/prefix."
    ),
    batching: bool = typer.Option(
        True, "--batching/--no-batching", help="Merge concurrent requests into one predict call."
    ),
    max_batch_size: int | None = typer.Option(
        None, "--max-batch-size", min=1, max=10_000, help="Rows in one predict call."
    ),
    max_wait_ms: float | None = typer.Option(
        None, "--max-wait-ms", min=0.0, max=10_000.0, help="Longest wait for a batch to fill."
    ),
    auth: bool = typer.Option(False, "--auth", help="Require a bearer token (`perennia tokens`)."),
    insecure: bool = typer.Option(
        False, "--insecure", help="Allow a non-loopback address without --auth."
    ),
    allow_pickle: bool = typer.Option(False, "--allow-pickle", help="Load pickled models."),
    trust: list[str] = typer.Option([], "--trust", help="A type skops may load (repeatable)."),
    max_body_mb: float = typer.Option(32.0, "--max-body-mb", min=0.001, max=2048.0),
) -> None:
    """Serve a model over MLflow's /invocations and the Open Inference Protocol (v2)."""
    from perennia.data.predlog import default_location
    from perennia.serving.config import ServeConfig

    if not is_loopback(host) and not auth and not insecure:
        raise InvalidInput(
            f"--host {host} is reachable from other machines and --auth is off; pass --auth, "
            "bind to 127.0.0.1, or pass --insecure if the network in front is trusted"
        )
    settings = Settings.from_env().with_overrides(tracking_uri=state.tracking_uri)
    config = ServeConfig(
        model_uri=model_uri,
        deployment=deployment,
        tracking_uri=state.tracking_uri,
        allow_pickle=allow_pickle,
        trusted_types=tuple(trust),
        log_location=(log_location or default_location(settings)) if log else None,
        auth=auth,
        max_body_bytes=int(max_body_mb * 1024 * 1024),
        batching=_batching(batching, max_batch_size, max_wait_ms),
    )
    _run(config, host, port, workers)


def _batching(enabled: bool, max_batch_size: int | None, max_wait_ms: float | None):
    from perennia.entities import BatchingConfig

    if enabled and max_batch_size is None and max_wait_ms is None:
        return None  # the deployment's own settings (or the defaults) apply
    default = BatchingConfig()
    return BatchingConfig(
        enabled,
        default.max_batch_size if max_batch_size is None else max_batch_size,
        default.max_wait_ms if max_wait_ms is None else max_wait_ms,
    )


def _run(config, host: str, port: int, workers: int) -> None:
    import uvicorn

    what = config.model_uri or f"deployment {config.deployment}"
    console.print(
        f"perennia serve {what} on [bold]http://{host}:{port}[/bold] "
        f"({workers} worker{'s' if workers > 1 else ''}); prediction log: "
        f"{config.log_location or 'off'}"
    )
    # Workers are separate processes: they read the configuration from the environment, and
    # Prometheus counters from every worker meet in one folder.
    os.environ["PERENNIA_SERVE_CONFIG"] = config.to_json()
    if workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="perennia-metrics-")
    # After a graceful shutdown uvicorn raises the SIGTERM it caught again, so the process
    # would end "killed by SIGTERM"; supervisors should see a clean stop as exit status 0.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    uvicorn.run(
        "perennia.serving.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=30,
    )


def _exit_cleanly(signum: int, frame: object) -> None:
    """Stop the process with exit status 0 (the handler of a SIGTERM after shutdown)."""
    raise SystemExit(0)
