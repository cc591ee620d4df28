"""`perennia schedule ...`: cron schedules that run pipelines (the server, or `perennia
scheduler`, fires them), and `perennia scheduler`, a scheduler of its own in the foreground.

    perennia schedule create nightly my_project.pipelines:training --cron "0 3 * * *" \\
        --param rows=10000
    perennia schedule list
    perennia schedule run-now nightly
    perennia scheduler --interval 5
"""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.markup import escape

from perennia.cli.common import parse_params, use_tracking_uri
from perennia.cli.output import console, fmt_status, fmt_time, key_values, table
from perennia.errors import InvalidInput

app = typer.Typer(
    help="Cron schedules that run pipelines (the server, or `perennia scheduler`, fires them).",
    no_args_is_help=True,
)


def _schedules() -> Any:
    from perennia.automation import schedules

    use_tracking_uri()
    return schedules


@app.command("create")
def create(
    name: str = typer.Argument(..., help="The schedule's name."),
    entrypoint: str = typer.Argument(
        ..., help="What it runs: 'package.module:pipeline' or 'path/file.py:pipeline'."
    ),
    cron: str = typer.Option(
        ..., "--cron", help="A cron expression in UTC; a 6th field is seconds."
    ),
    param: list[str] = typer.Option(None, "--param", help="key=value for the target (repeatable)."),
    description: str = typer.Option("", "--description"),
    disabled: bool = typer.Option(False, "--disabled", help="Store it without firing it yet."),
) -> None:
    """Create a schedule; the target is resolved now, so a typo fails here."""
    schedule = _schedules().create_schedule(
        name,
        entrypoint,
        cron,
        parse_params(param),
        description=description,
        enabled=not disabled,
    )
    when = fmt_time(schedule.next_run_ms) if schedule.next_run_ms else "never (disabled)"
    console.print(f"schedule {escape(schedule.name)} created; next firing {when}", highlight=False)


@app.command("list")
def list_schedules() -> None:
    """List schedules with their next firing and how the last one went."""
    rows = [
        (
            escape(s.name),
            escape(s.cron),
            escape(s.target),
            fmt_time(s.next_run_ms) if s.enabled else "disabled",
            fmt_time(s.last_run_ms) if s.last_run_ms else "never",
            fmt_status(s.last_status) if s.last_status else "",
        )
        for s in _schedules().list_schedules()
    ]
    console.print(
        table(None, ["name", "cron", "target", "next", "last", "status"], rows, no_wrap=1)
    )


@app.command("show")
def show(name: str = typer.Argument(...)) -> None:
    """Show one schedule."""
    s = _schedules().get_schedule(name)
    facts = {
        "target": s.target,
        "cron": s.cron,
        "params": json.dumps(s.params),
        "enabled": str(s.enabled),
        "next firing": fmt_time(s.next_run_ms) if s.next_run_ms else "none",
        "last firing": fmt_time(s.last_run_ms) if s.last_run_ms else "never",
        "last status": s.last_status or "",
        "last error": s.last_error or "",
        "last run": s.last_run_id or "",
        "leased to": s.lease_owner or "",
        "created by": s.created_by or "",
        "description": s.description,
    }
    console.print(key_values(escape(s.name), {k: escape(v) for k, v in facts.items()}, sort=False))


@app.command("delete")
def delete(name: str = typer.Argument(...)) -> None:
    """Delete a schedule."""
    _schedules().delete_schedule(name)
    console.print(f"schedule {escape(name)} deleted", highlight=False)


@app.command("run-now")
def run_now(name: str = typer.Argument(...)) -> None:
    """Run a schedule's target once, here and now (its timing is untouched)."""
    firing = _schedules().run_schedule_now(name)
    where = f" (run {firing.run_id})" if firing.run_id else ""
    console.print(f"{escape(name)}: {fmt_status(firing.status)}{escape(where)}", highlight=False)
    if firing.error:
        console.print(escape(firing.error), highlight=False)
    raise typer.Exit(0 if firing.status == "FINISHED" else 1)


def scheduler(
    interval: float | None = typer.Option(
        None,
        "--interval",
        help="Seconds between checks (default: $PERENNIA_AUTOMATION_INTERVAL_S).",
    ),
) -> None:
    """Fire due schedules and check retraining policies, in the foreground until Ctrl-C."""
    import threading

    from perennia.automation.retraining import check_due_policies
    from perennia.automation.scheduler import AutomationScheduler
    from perennia.config import Settings
    from perennia.data.session import current_store

    use_tracking_uri()
    every = interval if interval is not None else Settings.from_env().automation_interval
    if every <= 0:
        raise InvalidInput(f"--interval must be positive seconds, got {every}")
    running = AutomationScheduler(
        current_store(), interval=every, jobs=[check_due_policies]
    ).start()
    console.print(
        f"scheduler {running.owner} firing due schedules and checking retraining policies every "
        f"{every:g} s "
        "(Ctrl-C stops)"
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        console.print("stopping after the current firing")
    finally:
        running.stop()
