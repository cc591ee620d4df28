"""`perennia pipeline ...`: Pipelines of cached steps: run, resume, cancel, show.

perennia pipeline run my_project.pipelines:training --param C=0.5 --param data=train@3
perennia pipeline run pipelines/train.py:training --executor process --no-cache
perennia pipeline run my_project.pipelines:training --resume 3f2a9c...
perennia pipeline show 3f2a9c...
perennia pipeline cancel 3f2a9c...
"""

from __future__ import annotations

from typing import Any

import typer
from rich.markup import escape

from perennia.cli.common import client, parse_params, resolve_run_id, use_tracking_uri
from perennia.cli.output import console, fmt_status, table
from perennia.errors import InvalidInput

app = typer.Typer(
    help="Pipelines of cached steps: run, resume, cancel, show.", no_args_is_help=True
)


def _steps_table(result: Any) -> Any:
    rows = []
    for item in result.steps.values():
        duration = item.duration
        rows.append(
            (
                escape(item.name),
                fmt_status(item.status),
                item.cached_from or "",
                "" if duration is None else f"{duration:.2f} s",
                str(item.attempts or ""),
                item.run_id or "",
                escape((item.error or "").splitlines()[0] if item.error else ""),
            )
        )
    columns = ["step", "status", "cached from", "duration", "attempts", "run id", "error"]
    return table(None, columns, rows, no_wrap=2)


def _print_result(result: Any) -> None:
    if result.steps:
        console.print(_steps_table(result))
    console.print(
        f"pipeline {escape(result.pipeline)} run {result.run_id}: {fmt_status(result.status)}",
        highlight=False,
    )
    if result.error:
        console.print(escape(result.error), highlight=False)


@app.command("run")
def run(
    entrypoint: str = typer.Argument(
        ..., help="The pipeline: 'package.module:name' or 'path/to/file.py:name'."
    ),
    param: list[str] = typer.Option(None, "--param", "-p", help="name=value (repeatable)."),
    executor: str = typer.Option("local", "--executor", help="local, process or ray."),
    resume: str | None = typer.Option(None, "--resume", help="Resume this earlier run id."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Run every step, reuse nothing."),
    experiment: str | None = typer.Option(None, "--experiment", help="Experiment name."),
    max_workers: int | None = typer.Option(None, "--max-workers", help="Steps at once."),
    ray_address: str | None = typer.Option(None, "--ray-address", help="A Ray cluster."),
) -> None:
    """Run a pipeline and print its steps; exit 1 unless every step finished."""
    from perennia.automation.entrypoints import load_entrypoint
    from perennia.automation.pipeline import Pipeline

    use_tracking_uri()
    target = load_entrypoint(entrypoint, "pipeline")
    if not isinstance(target, Pipeline):
        raise InvalidInput(
            f"{entrypoint!r} is a {type(target).__name__}, not a Pipeline; name the "
            "Pipeline(...) object"
        )
    if resume is not None:
        resume = resolve_run_id(client(), resume)
    result = target.run(
        parse_params(param),
        executor=executor,
        resume=resume,
        experiment=experiment,
        cache=not no_cache,
        max_workers=max_workers,
        ray_address=ray_address,
        on_start=lambda run_id: console.print(
            f"pipeline {escape(target.name)} run {run_id} started "
            f"(cancel: perennia pipeline cancel {run_id})",
            highlight=False,
        ),
    )
    _print_result(result)
    if result.status != "FINISHED":
        raise typer.Exit(1)


@app.command("show")
def show(
    run_id: str = typer.Argument(..., help="The pipeline run id (or a unique prefix)."),
) -> None:
    """Show a pipeline run's steps: status, cached from, duration, run ids."""
    from perennia.automation.pipeline import get_run

    use_tracking_uri()
    _print_result(get_run(resolve_run_id(client(), run_id)))


@app.command("cancel")
def cancel(
    run_id: str = typer.Argument(..., help="The pipeline run id (or a unique prefix)."),
) -> None:
    """Ask a running pipeline to stop; steps not started yet are recorded CANCELLED."""
    from perennia.automation.pipeline import cancel as cancel_run

    use_tracking_uri()
    full = resolve_run_id(client(), run_id)
    cancel_run(full)
    console.print(f"cancellation requested for pipeline run {full}", highlight=False)
