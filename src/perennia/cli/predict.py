"""`perennia predict`: score a file with a model, in chunks, to Parquet or CSV.

The model is a package URI (`models:/fraud@champion`, `models:/fraud/3`, `runs:/<id>/model`) or
a package folder, digest-checked before it loads; nothing unpickles unless --allow-pickle is
given. Memory stays at about two chunks whatever the input's size, and the output file appears
only when every row is scored.
"""

from __future__ import annotations

from pathlib import Path

import typer

from perennia.cli.output import console, err_console


def predict(
    model_uri: str = typer.Argument(
        ..., help="models:/NAME@ALIAS, models:/NAME/VERSION, runs:/ID/PATH or a package folder."
    ),
    input_path: Path = typer.Option(..., "--input", "-i", help="Parquet or CSV file to score."),
    output_path: Path = typer.Option(
        ..., "--output", "-o", help="Where to write the scored rows (.parquet or .csv)."
    ),
    chunk_rows: int = typer.Option(50_000, "--chunk-rows", help="Rows predicted at a time."),
    proba: bool = typer.Option(
        False, "--proba", help="Write class probabilities (proba_<class>) instead of labels."
    ),
    keep: list[str] = typer.Option(
        None, "--keep", help="Input column to copy to the output (repeatable; default: all)."
    ),
    columns: list[str] = typer.Option(
        None, "--column", help="Input column the model reads (repeatable; default: its own)."
    ),
    output_format: str = typer.Option(
        None, "--format", help="parquet or csv (default: from the output's suffix)."
    ),
    allow_pickle: bool = typer.Option(
        False, "--allow-pickle", help="Let a pickle-based package load (runs its author's code)."
    ),
    trust: list[str] = typer.Option(
        None, "--trust", help="Type a skops file may load beyond skops' defaults (repeatable)."
    ),
) -> None:
    """Score a Parquet or CSV file with a model, in chunks, into a new Parquet or CSV file."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from perennia.cli.common import use_tracking_uri
    from perennia.models.batch import predict_file

    use_tracking_uri()
    with Progress(
        TextColumn("[bold]scoring[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task("rows", total=None)

        def advance(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        # The file checks (type, existence, output folder) run before the model downloads.
        summary = predict_file(
            model_uri,
            input_path,
            output_path,
            chunk_rows=chunk_rows,
            columns=list(columns) if columns else None,
            keep=list(keep) if keep else None,
            proba=proba,
            output_format=output_format,
            progress=advance,
            allow_pickle=allow_pickle,
            trusted_types=list(trust or []),
        )
    rate = summary.rows / summary.seconds if summary.seconds > 0 else float("inf")
    console.print(
        f"Scored {summary.rows:,} rows in {summary.chunks} chunk(s), {summary.seconds:.1f}s "
        f"({rate:,.0f} rows/s) -> {summary.output}"
    )
