"""`perennia gc`: the housekeeping command."""

from __future__ import annotations

import re

import typer

from perennia.cli.common import client
from perennia.cli.output import console
from perennia.errors import InvalidInput

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT_SECONDS = {"": 86400, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """Return seconds for `30d`, `12h`, `15m`, `90s` or a bare number of days."""
    match = _DURATION.match(text)
    if match is None:
        raise InvalidInput(f"--older-than {text!r} is not a duration; use e.g. 30d, 12h, 15m or 0")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def gc(
    older_than: str = typer.Option(
        "30d", "--older-than", help="Only purge trash older than this (30d, 12h, 0 = all)."
    ),
    blob_grace: str = typer.Option(
        "1h", "--blob-grace", help="Keep unreferenced blobs younger than this."
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do it without asking first."),
) -> None:
    """Mark runs whose process died KILLED, purge trashed runs and experiments, delete orphan blobs."""
    from perennia.tracking.gc import collect_garbage, purge_preview

    api = client()
    runs, experiments = purge_preview(api.context, parse_duration(older_than))
    console.print(
        f"perennia gc will mark runs whose process died KILLED, purge [bold]{runs}[/bold] runs "
        f"and [bold]{experiments}[/bold] experiments trashed more than {older_than} ago (for "
        f"good), and delete stored files no run refers to (older than {blob_grace})."
    )
    if not yes:
        typer.confirm("Go ahead?", abort=True)
    with console.status("collecting garbage...") as status:
        report = collect_garbage(
            api.context,
            parse_duration(older_than),
            parse_duration(blob_grace),
            progress=lambda message: status.update(message),
        )
    console.print(
        f"marked [bold]{len(report.killed_runs)}[/bold] stale runs KILLED, purged [bold]{report.purged_runs}[/bold] runs "
        f"and [bold]{report.purged_experiments}[/bold] experiments, deleted [bold]{report.deleted_blobs}[/bold] blobs"
        f" and [bold]{report.expired_keys}[/bold] expired idempotency keys"
    )
