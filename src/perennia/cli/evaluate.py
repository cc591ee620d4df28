"""`perennia evaluate run|compare`: evaluate a model file or a predictions column; gate a candidate.

A model is given as `column:NAME` (predictions already in the data file), a package URI
(`models:/fraud@champion`, `runs:/<id>/model`, digest-checked) or the path of a scikit-learn
model saved with skops; nothing loads with pickle, scikit-learn's own types are trusted and others
must be named with --trust. `compare` exits with status 1 when any gate fails, so it can sit in a
CI pipeline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from perennia.cli.output import console, table
from perennia.errors import InvalidInput

app = typer.Typer(
    help="Evaluate models and gate a candidate against a baseline.", no_args_is_help=True
)

_TASK = typer.Option("binary", "--task", help="binary, multiclass or regression.")
_DATA = typer.Option(..., "--data", help="CSV or Parquet file with features and targets.")
_TARGET = typer.Option(..., "--target", help="Column holding the true values.")
_SENSITIVE = typer.Option(None, "--sensitive", help="Sensitive feature column (repeatable).")
_TRUST = typer.Option(None, "--trust", help="Type a skops file may load beyond skops' defaults.")
_HTML = typer.Option(None, "--html", help="Write the self-contained HTML report here.")
_JSON = typer.Option(None, "--json", help="Write the result as JSON here.")


def read_table(path: Path) -> Any:
    """Return the data file as a pandas DataFrame (CSV, Parquet or JSON lines)."""
    import pandas as pd

    if not path.is_file():
        raise InvalidInput(f"--data {str(path)!r} is not a file")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path)
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if suffix in (".jsonl", ".json"):
        return pd.read_json(path, lines=suffix == ".jsonl")
    raise InvalidInput(f"--data must be .csv, .parquet or .jsonl, got {path.name!r}")


def load_model(spec: str, trust: list[str] | None) -> Any:
    """Return a predictions column name (`column:NAME`), or the model a package URI
    (`models:/name@alias`, `models:/name/3`, `runs:/<id>/model`) or a skops file holds."""
    if spec.startswith("column:"):
        return spec.removeprefix("column:")
    if spec.startswith(("models:/", "runs:/")):
        from perennia.cli.common import use_tracking_uri
        from perennia.models import load

        use_tracking_uri()
        return load(spec, trusted_types=list(trust or []))
    path = Path(spec)
    if not path.is_file():
        raise InvalidInput(
            f"model {spec!r} is neither column:NAME, a models:/ or runs:/ URI, nor a file; "
            "pass one of those"
        )
    if path.suffix != ".skops":
        raise InvalidInput(
            f"model {spec!r}: only skops files load here (no pickle); save with skops.io.dump"
        )
    import skops.io

    from perennia.models.flavors.sklearn import refused_types

    untrusted = skops.io.get_untrusted_types(file=path)
    refused = refused_types(untrusted, trust)  # scikit-learn's own types load, as in a package
    if refused:
        raise InvalidInput(
            f"model {spec!r} contains types outside skops' trusted set: {refused}; "
            "re-run with --trust TYPE for each if you trust the file"
        )
    return skops.io.load(path, trusted=untrusted)


@app.command("run")
def run(
    model: str = typer.Option(
        ..., "--model", help="column:NAME, models:/NAME@ALIAS, runs:/ID/model or a .skops file."
    ),
    data: Path = _DATA,
    target: str = _TARGET,
    task: str = _TASK,
    sensitive: list[str] = _SENSITIVE,
    slice_: list[str] = typer.Option(None, "--slice", help="Column to slice metrics by."),
    threshold: float = typer.Option(0.5, "--threshold", help="Decision threshold (binary)."),
    bootstrap: int = typer.Option(0, "--bootstrap", help="Resamples for confidence intervals."),
    trust: list[str] = _TRUST,
    html: Path = _HTML,
    json_path: Path = _JSON,
) -> None:
    """Evaluate one model on a data file and print its metrics."""
    from perennia.evaluate import evaluate

    frame = read_table(data)
    result = evaluate(
        load_model(model, trust),
        frame,
        targets=target,
        task=task,
        sensitive_features=sensitive or None,
        slices=slice_ or None,
        threshold=threshold,
        bootstrap=bootstrap,
        dataset_name=data.stem.replace("/", "_") or "eval",
        log=False,
    )
    rows = []
    for name, value in result.metrics.items():
        low_high = result.intervals.get(name)
        interval = f"[{low_high[0]:.4f}, {low_high[1]:.4f}]" if low_high else ""
        rows.append((name, value, interval))
    console.print(
        table(f"{result.model_name} on {data.name}", ["metric", "value", "interval"], rows)
    )
    _write(result, html, json_path)


@app.command("compare")
def compare(
    candidate: str = typer.Option(
        ..., "--candidate", help="column:NAME, models:/NAME@ALIAS, runs:/ID/model or a .skops file."
    ),
    baseline: str = typer.Option(
        ..., "--baseline", help="column:NAME, models:/NAME@ALIAS, runs:/ID/model or a .skops file."
    ),
    data: Path = _DATA,
    target: str = _TARGET,
    gate: list[str] = typer.Option(
        None,
        "--gate",
        help='A gate such as "roc_auc >= baseline - 0.005" (repeatable); default: the '
        "success criteria of the registered model (models:/NAME...) compared.",
    ),
    task: str = _TASK,
    sensitive: list[str] = _SENSITIVE,
    threshold: float = typer.Option(0.5, "--threshold", help="Decision threshold (binary)."),
    resamples: int = typer.Option(1000, "--resamples", help="Paired bootstrap resamples."),
    significance: bool = typer.Option(
        False, "--require-significance", help="Judge gates on the pessimistic CI bound."
    ),
    trust: list[str] = _TRUST,
    html: Path = _HTML,
    json_path: Path = _JSON,
) -> None:
    """Compare a candidate with a baseline; exit status 1 when a gate fails.

    Without --gate the gates are the success criteria of the registered model named by the
    candidate (or else the baseline) as models:/NAME/... or models:/NAME@ALIAS.
    """
    from perennia.evaluate import compare as run_compare

    gate = default_gates(gate, candidate, baseline)
    frame = read_table(data)
    result = run_compare(
        load_model(candidate, trust),
        load_model(baseline, trust),
        frame,
        target,
        gates=gate,
        task=task,
        sensitive_features=sensitive or None,
        threshold=threshold,
        n_resamples=resamples,
        require_significance=significance,
        candidate_name=Path(candidate).stem if not candidate.startswith("column:") else candidate,
        baseline_name=Path(baseline).stem if not baseline.startswith("column:") else baseline,
    )
    rows = []
    for outcome in result.outcomes:
        ci = (
            f"[{outcome.ci_low:+.4f}, {outcome.ci_high:+.4f}]"
            if outcome.ci_low is not None and outcome.ci_high is not None
            else ""
        )
        verdict = "[green]pass[/green]" if outcome.passed else "[bold red]FAIL[/bold red]"
        rows.append(
            (outcome.gate, outcome.candidate, outcome.baseline, outcome.difference, ci, verdict)
        )
    console.print(
        table(
            f"{result.candidate.model_name} vs {result.baseline.model_name} on {data.name}",
            ["gate", "candidate", "baseline", "difference", "95% CI", "result"],
            rows,
        )
    )
    for outcome in result.failures():
        console.print(f"[red]{outcome.reason}[/red]", highlight=False)
    _write(result, html, json_path)
    if not result.passed:
        console.print(
            f"[bold red]{len(result.failures())} of {len(result.outcomes)} gates failed[/bold red]"
        )
        raise typer.Exit(1)
    console.print(f"[bold green]all {len(result.outcomes)} gates passed[/bold green]")


def default_gates(gates: list[str] | None, *uris: str) -> list[str]:
    """Return `gates`, or the success criteria of the first registered model among `uris`."""
    if gates:
        return list(gates)
    from perennia.cli.common import use_tracking_uri
    from perennia.registry.success_criteria import model_name_of, resolve_gates

    names = [name for name in map(model_name_of, uris) if name]
    if not names:
        raise InvalidInput(
            "no --gate given and neither model is registered (models:/NAME...); pass "
            '--gate "roc_auc >= baseline - 0.005" or compare registered models'
        )
    use_tracking_uri()
    parsed, _ = resolve_gates(None, names[0])
    console.print(f"gates: the success criteria of {names[0]}", highlight=False)
    return [gate.text for gate in parsed]


def _write(result: Any, html: Path | None, json_path: Path | None) -> None:
    if html is not None:
        console.print(f"report: {result.save_html(html)}")
    if json_path is not None:
        console.print(f"json: {result.save_json(json_path)}")
