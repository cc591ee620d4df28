"""`perennia experiments list|create|delete|restore`."""

from __future__ import annotations

import typer

from perennia.cli.common import client, resolve_experiment
from perennia.cli.output import console, fmt_time, table
from perennia.entities import ViewType

app = typer.Typer(help="Create, list, delete and restore experiments.", no_args_is_help=True)


@app.command("list")
def list_experiments(
    deleted: bool = typer.Option(False, "--deleted", help="Show experiments in the trash instead."),
    all_: bool = typer.Option(False, "--all", help="Show active and deleted experiments."),
) -> None:
    """List experiments."""
    view = ViewType.ALL if all_ else ViewType.DELETED_ONLY if deleted else ViewType.ACTIVE_ONLY
    api = client()
    experiments, token = [], None
    while True:
        page = api.search_experiments(view, 1000, page_token=token)
        experiments.extend(page.items)
        token = page.next_page_token
        if token is None:
            break
    rows = [
        (
            e.experiment_id,
            e.name,
            e.lifecycle_stage,
            fmt_time(e.creation_time),
            e.artifact_location or "",
        )
        for e in experiments
    ]
    console.print(
        table(
            f"Experiments ({len(rows)})",
            ["id", "name", "stage", "created (UTC)", "artifacts"],
            rows,
        )
    )


@app.command("create")
def create(
    name: str = typer.Argument(..., help="A unique experiment name."),
    artifact_location: str | None = typer.Option(
        None, help="Folder or s3://bucket/prefix for artifact bytes."
    ),
) -> None:
    """Create an experiment and print its id."""
    experiment_id = client().create_experiment(name, artifact_location)
    console.print(f"created experiment [bold]{name}[/bold] with id [bold]{experiment_id}[/bold]")


@app.command("delete")
def delete(name_or_id: str = typer.Argument(..., help="Experiment name or id.")) -> None:
    """Move an experiment and its runs to the trash (`perennia gc` purges it)."""
    api = client()
    experiment = resolve_experiment(api, name_or_id)
    api.delete_experiment(experiment.experiment_id)
    console.print(f"deleted experiment [bold]{experiment.name}[/bold] ({experiment.experiment_id})")


@app.command("restore")
def restore(name_or_id: str = typer.Argument(..., help="Experiment name or id.")) -> None:
    """Take an experiment and its runs out of the trash."""
    api = client()
    experiment = resolve_experiment(api, name_or_id)
    api.restore_experiment(experiment.experiment_id)
    console.print(
        f"restored experiment [bold]{experiment.name}[/bold] ({experiment.experiment_id})"
    )
