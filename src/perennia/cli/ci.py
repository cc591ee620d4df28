"""`perennia ci ...`: Checks for a model's pull request: data contract, evaluation, gates, card, summary."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Checks for a model's pull request: data contract, evaluation, gates, card, summary.",
    no_args_is_help=True,
)
