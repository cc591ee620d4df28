"""`perennia import ...`: bring another tool's store into Perennia."""

from __future__ import annotations

import typer

app = typer.Typer(help="Bring another tool's store into Perennia.", no_args_is_help=True)


@app.command("mlflow")
def mlflow_command(
    source: str = typer.Option(
        ...,
        "--from",
        help="MLflow's backend store URI: sqlite:///mlflow.db or postgresql://host/db.",
    ),
    artifacts_from: str | None = typer.Option(
        None,
        "--artifacts-from",
        help="Root holding the artifacts (<experiment>/<run>/artifacts), a folder or s3:// "
        "URI; default: each run's own artifact URI.",
    ),
) -> None:
    """Copy an MLflow tracking store and registry into the current Perennia store; run it again
    to copy only what is new (an interrupted import resumes)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
    from rich.table import Table

    from perennia.cli.common import client
    from perennia.interop.mlflow_import import KINDS, import_mlflow

    console = Console()
    api = client()
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("importing runs", total=None)
        summary = import_mlflow(
            source,
            api.context,
            artifacts_from=artifacts_from,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    table = Table(title=f"Imported from {source}")
    table.add_column("kind")
    table.add_column("copied", justify="right")
    table.add_column("skipped", justify="right")
    for kind in KINDS:
        table.add_row(kind, f"{summary.copied[kind]:,}", f"{summary.skipped[kind]:,}")
    console.print(table)
