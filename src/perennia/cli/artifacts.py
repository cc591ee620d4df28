"""`perennia artifacts list|get`."""

from __future__ import annotations

from pathlib import Path

import typer

from perennia.cli.common import client, resolve_run_id
from perennia.cli.output import console, table

app = typer.Typer(help="List and download run artifacts (digest-checked).", no_args_is_help=True)


@app.command("list")
def list_artifacts(
    run_id: str = typer.Argument(..., help="The run id (or a unique prefix)."),
    path: str = typer.Argument("", help="A folder inside the run's artifacts."),
) -> None:
    """List the files and folders at one level of a run's artifact tree."""
    api = client()
    run_id = resolve_run_id(api, run_id)
    entries = api.list_artifacts(run_id, path or None)
    rows = [
        (
            f"{e.path}/" if e.is_dir else e.path,
            "" if e.is_dir else str(e.file_size),
            (e.digest or "")[:12],
        )
        for e in entries
    ]
    console.print(
        table(
            f"Artifacts of run {run_id[:8]}" + (f" under {path}/" if path else ""),
            ["path", "bytes", "sha256"],
            rows,
        )
    )


@app.command("get")
def get(
    run_id: str = typer.Argument(..., help="The run id (or a unique prefix)."),
    path: str = typer.Argument(
        "", help="A file or folder inside the run's artifacts (default: all)."
    ),
    dest: Path = typer.Option(Path("."), "--dest", "-d", help="Where to put the files."),
) -> None:
    """Download artifacts, verifying every file's sha256."""
    api = client()
    run_id = resolve_run_id(api, run_id)
    with console.status("downloading and verifying..."):
        local = api.download_artifacts(run_id, path, dest)
    console.print(f"downloaded to [bold]{local}[/bold]")
