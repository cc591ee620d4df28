"""`perennia data` commands that derive and check: lineage, split, infer-contract, validate."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from perennia.cli.data import app, sdk
from perennia.cli.output import console, table


@app.command("lineage")
def lineage(ref: str = typer.Argument(..., help="name@version.")) -> None:
    """Show where a version came from and what was built from it."""
    graph = sdk().lineage(ref)
    rows = [("parent", p["ref"], json.dumps(p.get("source", {}))) for p in graph["parents"]]
    rows += [
        ("derived", d["ref"], json.dumps(d.get("derivation", {}))[:80]) for d in graph["derived"]
    ]
    rows += [("run", r["run_id"], r["context"] or "") for r in graph["runs"]]
    rows += [("model", f"{m['name']} v{m['version']}", m["run_id"]) for m in graph["models"]]
    console.print(
        table(f"Lineage of {graph['version']['ref']}", ["link", "what", "detail"], rows, 1)
    )


@app.command("split")
def split(
    ref: str = typer.Argument(..., help="name@version of a table."),
    by: str = typer.Option("random", "--by", help="random, stratified, group or time."),
    fractions: str = typer.Option("0.8,0.1,0.1", "--fractions"),
    seed: int = typer.Option(0, "--seed"),
    label: str | None = typer.Option(None, "--label", help="Column to stratify on."),
    group: str | None = typer.Option(None, "--group", help="Column whose groups stay whole."),
    time: str | None = typer.Option(None, "--time", help="Time column for a time split."),
    key: str | None = typer.Option(None, "--key", help="Row key checked not to leak."),
) -> None:
    """Split a version and register each part as <name>-train, -validation, -test."""
    parts = sdk().split(
        ref,
        by=by,
        fractions=[float(f) for f in fractions.split(",")],
        seed=seed,
        label=label,
        group=group,
        time=time,
        key=key,
    )
    rows = [(part, v.ref, str(v.row_count)) for part, v in parts.items()]
    console.print(table(f"{ref} split by {by}", ["part", "version", "rows"], rows, no_wrap=1))


@app.command("infer-contract")
def infer_contract(
    ref: str = typer.Argument(..., help="name@version to learn the contract from."),
    label: str | None = typer.Option(None, "--label", help="Label column (absent when serving)."),
    output: Path | None = typer.Option(None, "--output", help="Also write the contract JSON here."),
) -> None:
    """Infer a contract from a version and keep it with that version."""
    data = sdk()
    version = data.get(ref)
    contract = data.infer_contract(data.load(version, context=None), label=label)
    data.set_contract(version, contract)
    if output is not None:
        output.write_text(contract.to_json())
    console.print(f"kept a contract of {len(contract.expectations)} expectations with {ref}")


@app.command("validate")
def validate(
    ref: str = typer.Argument(..., help="name@version to validate."),
    contract_file: Path | None = typer.Option(
        None, "--contract", help="Contract JSON (default: the one kept with the version)."
    ),
    environment: str | None = typer.Option(None, "--environment", help="e.g. serving."),
    html: Path | None = typer.Option(None, "--html", help="Write the HTML report here."),
) -> None:
    """Validate a version against a contract; exit 1 when an expectation fails."""
    data = sdk()
    contract = None
    if contract_file is not None:
        contract = data.Contract.from_json(contract_file.read_text())
    result = data.validate(ref, contract, environment=environment)
    rows = [
        (
            r.name,
            r.column or "",
            "ok" if r.success else "[red]failed[/red]",
            str(r.unexpected_count or ""),
        )
        for r in result.results
    ]
    console.print(
        table(f"Validation of {ref}", ["expectation", "column", "result", "failing"], rows)
    )
    if html is not None:
        html.write_text(result.to_html())
        console.print(f"report written to {html}")
    if not result.success:
        raise typer.Exit(1)


@app.command("skew")
def skew(
    ref: str = typer.Argument(..., help="name@version the model was trained on."),
    deployment: str = typer.Option(..., "--deployment", help="Deployment whose traffic to read."),
    log: str | None = typer.Option(
        None, "--log", help="Prediction-log location (default: <artifacts URI>/prediction-log)."
    ),
    html: Path | None = typer.Option(None, "--html", help="Write the HTML report here."),
) -> None:
    """Compare what a deployment served with the training version; exit 1 when a feature drifted."""
    from perennia.cli.common import client
    from perennia.data.predlog import default_location

    data = sdk()
    version = data.get(ref)
    contract = data.Contract.from_dict(version.contract) if version.contract else None
    location = log or default_location(client().settings)
    report = data.skew_report(
        location, data.load(version, context=None), contract, deployment=deployment
    )
    rows = [
        (
            f.feature,
            f.metric,
            "" if f.distance is None else f"{f.distance:.4f}",
            f"{f.threshold:g}",
            "[red]drifted[/red]" if f.drifted else "ok",
        )
        for f in report.features
    ]
    headers = ["feature", "measure", "distance", "threshold", "result"]
    console.print(table(f"{deployment} against {version.ref}", headers, rows, no_wrap=1))
    if html is not None:
        html.write_text(report.to_html())
        console.print(f"report written to {html}")
    if report.drifted:
        raise typer.Exit(1)
