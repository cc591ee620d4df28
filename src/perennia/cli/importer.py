"""`perennia import ...`: bring another tool's store into Perennia."""

from __future__ import annotations

import typer

app = typer.Typer(help="Bring another tool's store into Perennia.", no_args_is_help=True)
