"""`perennia ci check`: the checks a model's pull request runs in CI.

It validates the evaluation data against its contract, evaluates the candidate, compares it
with the champion (`models:/NAME@champion`) under the gates (the model's success criteria by
default; with no champion the absolute gates alone, relative ones skipped), writes the model
card and a Markdown summary for a pull-request comment, and prints a table. Exit status: 0 when
everything passes, 1 when a gate or the data validation fails, 2 on bad input (an unknown
model, unreadable data, no gates) with one line saying what is wrong.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from perennia.cli.output import console, table
from perennia.errors import InvalidInput, NotFound, PerenniaError

app = typer.Typer(
    help="Checks for a model's pull request: data contract, evaluation, gates, card, summary.",
    no_args_is_help=True,
)

BAD_INPUT = 2


@app.command("check")
def check(
    model: str = typer.Option(..., "--model", help="Registered model the candidate is for."),
    candidate: str = typer.Option(
        ..., "--candidate", help="runs:/ID/model, models:/NAME/VERSION or a .skops file."
    ),
    data: str = typer.Option(
        ..., "--data", help="Evaluation data: a CSV/Parquet file or a dataset version (eval@3)."
    ),
    target: str = typer.Option(..., "--target", help="Column holding the true values."),
    contract: Path = typer.Option(None, "--contract", help="Contract JSON to validate data by."),
    champion_alias: str = typer.Option("champion", "--champion-alias", help="Champion alias."),
    gate: list[str] = typer.Option(
        None, "--gate", help="A gate (repeatable); default: the model's success criteria."
    ),
    sensitive: list[str] = typer.Option(None, "--sensitive", help="Sensitive feature column."),
    task: str = typer.Option("binary", "--task", help="binary, multiclass or regression."),
    threshold: float = typer.Option(0.5, "--threshold", help="Decision threshold (binary)."),
    resamples: int = typer.Option(200, "--resamples", help="Paired bootstrap resamples."),
    trust: list[str] = typer.Option(None, "--trust", help="Extra type a skops file may load."),
    summary: Path = typer.Option(None, "--summary", help="Write the Markdown summary here."),
    card: Path = typer.Option(None, "--card", help="Write the model card (Markdown) here."),
    json_path: Path = typer.Option(None, "--json", help="Write the result as JSON here."),
) -> None:
    """Validate data, evaluate a candidate, gate it against the champion; exit 1 on failure."""
    options = dict(
        task=task,
        sensitive_features=sensitive or None,
        threshold=threshold,
        n_resamples=resamples,
    )
    try:
        report = run_check(
            model, candidate, data, target, contract, champion_alias, gate, trust, options
        )
        report["card"] = _write_card(model, candidate, card)
    except PerenniaError as error:
        console.print(f"[bold red]error:[/bold red] {error}", highlight=False, soft_wrap=True)
        raise typer.Exit(BAD_INPUT) from None
    from perennia.cli.ci_summary import headline, render

    _print(report)
    _print_card(report["card"])
    for path in (summary, json_path):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
    if summary is not None:
        summary.write_text(render(report), encoding="utf-8")
        console.print(f"summary: {summary}")
    if json_path is not None:
        json_path.write_text(json.dumps(report, indent=2, allow_nan=False), encoding="utf-8")
        console.print(f"json: {json_path}")
    style = "bold green" if report["passed"] else "bold red"
    console.print(f"[{style}]{headline(report)}[/{style}]", highlight=False)
    if not report["passed"]:
        raise typer.Exit(1)


def run_check(
    model: str,
    candidate: str,
    data: str,
    target: str,
    contract: Path | None,
    alias: str,
    gates: list[str] | None,
    trust: list[str] | None,
    options: dict[str, Any],
) -> dict[str, Any]:
    """Return the check's report (plain JSON-ready data); PerenniaError on bad input."""
    from perennia.cli.common import use_tracking_uri
    from perennia.cli.evaluate import load_model
    from perennia.registry import get_model_version_by_alias, get_registered_model
    from perennia.registry.success_criteria import resolve_gates

    use_tracking_uri()
    get_registered_model(model)  # NotFound (bad input) before any work
    parsed, source = resolve_gates(gates or None, model)
    source = f"the success criteria of {model}" if source == "success criteria" else "given"
    frame, validation = _load_data(data, contract)
    loaded = load_model(candidate, trust)
    try:
        champion = get_model_version_by_alias(model, alias)
    except NotFound:
        champion = None
    records = {"candidate": candidate}
    champion_info = None
    if champion is not None:
        records[f"champion v{champion.version} run"] = champion.run_id or "—"
        champion_info = {"uri": f"models:/{model}@{alias}", "version": champion.version}
        champion_info["run_id"] = champion.run_id
    failed_data = validation is not None and not validation["success"]
    if failed_data:
        # Scores on data that breaks its contract would mislead (or fail to compute).
        reason = "not evaluated: the data failed its contract"
        outcomes = [_skipped(g, reason) for g in parsed]
        metrics: dict[str, Any] = {}
    elif champion_info is not None:
        uri = champion_info["uri"]
        outcomes, metrics = _compare(loaded, load_model(uri, trust), frame, target, parsed, options)
    else:
        outcomes, metrics = _absolute(loaded, frame, target, parsed, options)
    passed = not failed_data and all(o["status"] != "fail" for o in outcomes)
    return {
        "passed": passed,
        "model": model,
        "candidate": candidate,
        "champion": champion_info,
        "data": data,
        "rows": int(len(frame)),
        "gates_source": source,
        "gates": outcomes,
        "validation": validation,
        "candidate_metrics": {k: v for k, v in metrics.items() if _finite(v)},
        "records": records,
    }


def _load_data(data: str, contract: Path | None) -> tuple[Any, dict[str, Any] | None]:
    """Return the data as a DataFrame and its validation outcome (None without a contract)."""
    from perennia.cli.evaluate import read_table
    from perennia.data.contracts import Contract

    chosen = None
    if contract is not None:
        if not contract.is_file():
            raise InvalidInput(f"--contract {str(contract)!r} is not a file")
        chosen = Contract.from_json(contract.read_bytes())
    path = Path(data)
    if path.is_file():
        frame = read_table(path)
    elif "@" in data:
        from perennia.data import load, session

        version = session.resolve(data)  # NotFound for an unknown version: bad input
        frame = load(version, context="evaluation")
        if chosen is None and version.contract is not None:
            chosen = Contract.from_dict(version.contract)
    else:
        raise InvalidInput(f"--data {data!r} is neither a file nor a dataset version (name@3)")
    if chosen is None:
        return frame, None
    from perennia.data import validate

    result = validate(frame, chosen)
    failed = [
        {"check": r.name, "column": r.column, "observed": _plain(r.observed)} for r in result.failed
    ]
    outcome = {"success": result.success, "checks": len(result.results), "failed": failed}
    return frame, outcome | {"contract": result.contract_name}


def _compare(candidate, champion, frame, target, gates, options) -> tuple[list, dict]:
    from perennia.evaluate import compare

    result = compare(candidate, champion, frame, target, gates=gates, **options)
    outcomes = [_outcome(o.to_dict(), o.passed) for o in result.outcomes]
    return outcomes, dict(result.candidate.metrics)


def _absolute(candidate, frame, target, gates, options) -> tuple[list, dict]:
    """Return the outcomes with no champion: absolute gates judged, relative ones skipped."""
    from perennia.evaluate import evaluate

    options = {k: v for k, v in options.items() if k != "n_resamples"}
    result = evaluate(candidate, frame, targets=target, log=False, **options)
    outcomes = []
    for gate in gates:
        if gate.needs_baseline:
            outcomes.append(_skipped(gate, "no champion to compare with: relative gates wait"))
            continue
        if gate.metric not in result.metrics:
            known = ", ".join(sorted(result.metrics))
            raise InvalidInput(f"gate on {gate.metric!r}: no such metric; known: {known}")
        outcome = gate.evaluate(result.metrics[gate.metric])
        outcomes.append(_outcome(outcome.to_dict(), outcome.passed))
    return outcomes, dict(result.metrics)


def _skipped(gate: Any, reason: str) -> dict[str, Any]:
    empty = dict.fromkeys(("candidate", "baseline", "threshold"))
    return {
        "gate": gate.text,
        "metric": gate.metric,
        **empty,
        "passed": True,
        "reason": reason,
        "status": "skipped",
    }


def _outcome(data: dict[str, Any], passed: bool) -> dict[str, Any]:
    return data | {"status": "pass" if passed else "fail"}


def _write_card(model: str, candidate: str, path: Path | None) -> dict[str, Any] | None:
    """Return where the candidate's model card went (None without `path`), or why it has none.

    A card describes one registered version; a candidate that is not a registered version of
    `model` gets no card rather than another version's (which would describe a different model).
    """
    if path is None:
        return None
    from perennia.registry.cards import build_card, render_markdown

    version = _candidate_version(model, candidate)
    if version is None:
        how = (
            f"`perennia models register {candidate} {model}`"
            if candidate.startswith("runs:/")
            else f"log it and register it as a version of {model}"
        )
        reason = (
            f"the candidate is not a registered version of {model} (a card describes one); "
            f"to get its card, {how}"
        )
        return {"path": None, "version": None, "reason": reason}
    card = build_card(model, version)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_markdown(card), encoding="utf-8")
    return {"path": str(path), "version": card.version.version, "reason": None}


def _candidate_version(model: str, candidate: str) -> int | None:
    """Return the version of `model` the candidate is, or None when it is none of them."""
    from perennia.registry import resolve, search_model_versions

    if candidate.startswith("models:/"):
        found = resolve(candidate)
        return found.version if found.name == model else None
    wanted = candidate.rstrip("/")
    same = [v for v in search_model_versions(model) if v.source.rstrip("/") == wanted]
    return same[0].version if same else None


def _print_card(card: dict[str, Any] | None) -> None:
    if card is None:
        return
    if card["path"] is None:
        console.print(f"model card: not written: {card['reason']}", highlight=False)
    else:
        console.print(f"model card: {card['path']} (v{card['version']})", highlight=False)


def _print(report: dict[str, Any]) -> None:
    marks = {"pass": "[green]pass[/green]", "fail": "[bold red]FAIL[/bold red]"}
    rows = [
        (
            o["gate"],
            o["candidate"],
            o["baseline"],
            o["threshold"],
            marks.get(o["status"], "skipped"),
        )
        for o in report["gates"]
    ]
    title = f"{report['candidate']} vs {report['champion']['uri'] if report['champion'] else 'no champion'}"
    console.print(table(title, ["gate", "candidate", "champion", "threshold", "verdict"], rows))
    validation = report["validation"]
    if validation is None:
        console.print("data: not validated (no contract)")
    else:
        failed = len(validation["failed"])
        word = "[green]passed[/green]" if not failed else f"[bold red]{failed} failed[/bold red]"
        console.print(f"data: {validation['checks']} contract checks, {word}")
    for outcome in report["gates"]:
        if outcome["status"] == "fail":
            console.print(f"[red]{outcome['reason']}[/red]", highlight=False)


def _finite(value: Any) -> bool:
    import math

    return isinstance(value, int | float) and math.isfinite(value)


def _plain(value: Any) -> Any:
    try:
        json.dumps(value, allow_nan=False)
        return value
    except (TypeError, ValueError):
        return str(value)
