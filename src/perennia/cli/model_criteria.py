"""`perennia models criteria set|show|clear`: a model's goal and the gates that judge it."""

from __future__ import annotations

import typer

from perennia.cli.common import use_tracking_uri
from perennia.cli.models import app as models_app
from perennia.cli.output import console, fmt_time, table

app = typer.Typer(
    help="Success criteria: the goal and the default gates of comparisons, approvals, canaries.",
    no_args_is_help=True,
)
models_app.add_typer(app, name="criteria")


def _registry():
    from perennia import registry

    use_tracking_uri()
    return registry


@app.command("set")
def set_criteria(
    name: str = typer.Argument(..., help="Registered model name."),
    goal: str = typer.Option(..., "--goal", help="What the model is for, in words."),
    gate: list[str] = typer.Option(
        ..., "--gate", help='A gate such as "recall_at_fpr_1pct >= 0.6" (repeatable).'
    ),
) -> None:
    """Set (replace) a model's success criteria; every gate is checked before it is stored."""
    criteria = _registry().set_success_criteria(name, goal, gate)
    console.print(f"success criteria of {name}: {len(criteria.gates)} gate(s)")
    for text in criteria.gates:
        console.print(f"  {text}", highlight=False)


@app.command("show")
def show_criteria(name: str = typer.Argument(..., help="Registered model name.")) -> None:
    """Show a model's goal and gates, with each gate's status on the latest version's run."""
    from perennia.errors import NotFound
    from perennia.registry.success_criteria import gate_status
    from perennia.tracking.client import Client

    registry = _registry()
    criteria = registry.get_success_criteria(name)
    if criteria is None:
        console.print(
            f"{name} has no success criteria; set them with `perennia models criteria set`"
        )
        return
    metrics, label = {}, "latest version"
    try:
        latest = registry.get_latest_version(name)
        label = f"v{latest.version}"
        if latest.run_id:
            metrics = Client().get_run(latest.run_id).data.metrics
    except NotFound:
        pass
    console.print(f"[bold]Goal:[/bold] {criteria.goal}", highlight=False)
    by = criteria.updated_by or "unknown"
    console.print(f"set by {by}, {fmt_time(criteria.updated_time)}", style="dim")
    rows = [(text, *gate_status(text, metrics)) for text in criteria.gates]
    console.print(table(f"Success criteria of {name}", ["gate", label, "detail"], rows))


@app.command("clear")
def clear_criteria(name: str = typer.Argument(..., help="Registered model name.")) -> None:
    """Remove a model's success criteria."""
    _registry().clear_success_criteria(name)
    console.print(f"success criteria of {name} cleared")
