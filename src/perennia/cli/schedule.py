"""`perennia schedule ...`: Cron schedules that run pipelines (the server, or `perennia scheduler`, fires them)."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Cron schedules that run pipelines (the server, or `perennia scheduler`, fires them).",
    no_args_is_help=True,
)
