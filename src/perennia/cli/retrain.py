"""`perennia retrain ...`: Retraining policies and the retrainings they start."""

from __future__ import annotations

import typer

app = typer.Typer(help="Retraining policies and the retrainings they start.", no_args_is_help=True)
