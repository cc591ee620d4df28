"""`perennia pipeline ...`: Pipelines of cached steps: run, resume, cancel, show."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Pipelines of cached steps: run, resume, cancel, show.", no_args_is_help=True
)
