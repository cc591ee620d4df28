"""`perennia demo`: run the main job on the embedded store and show what it produced."""

from __future__ import annotations

import typer

from perennia.cli.output import console, fmt_duration, fmt_time, table


def demo(
    experiment: str = typer.Option(
        "perennia-demo", "--experiment", "-e", help="Experiment to track into."
    ),
    models: list[str] | None = typer.Option(
        None, "--model", "-m", help="Train only these models (repeatable)."
    ),
    loop: bool = typer.Option(
        False,
        "--loop",
        help="Run the closed loop instead: drift, alert, retrain, compare, approve, canary, promote.",
    ),
) -> None:
    """Train several scikit-learn models on a built-in data set, track every run, compare them."""
    if loop:
        _run_loop()
        return
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from perennia.demo.job import run_demo

    chosen = list(models) if models else None
    total = len(chosen) if chosen else 4
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("training", total=total)
        started = {"count": 0}

        def on_model(name: str) -> None:
            if started["count"]:
                progress.advance(task)
            started["count"] += 1
            progress.update(task, description=f"training [bold]{name}[/bold]")

        summary = run_demo(experiment=experiment, models=chosen, progress=on_model)
        progress.advance(task)

    metric = summary.primary_metric
    rows = [
        (
            str(rank),
            r.name,
            f"{r.metrics[metric]:.4f}",
            f"{r.metrics['test_accuracy']:.4f}",
            f"{r.metrics['test_f1']:.4f}",
            f"{r.metrics['test_log_loss']:.4f}",
            fmt_duration(0, int(r.seconds * 1000)),
            r.run_id[:8],
        )
        for rank, r in enumerate(summary.results, start=1)
    ]
    console.print(
        table(
            f"Models ranked by {metric} (experiment {experiment!r})",
            [
                "#",
                "model",
                metric.removeprefix("test_"),
                "accuracy",
                "f1",
                "log loss",
                "time",
                "run",
            ],
            rows,
            no_wrap=2,
        )
    )
    best = summary.results[0]
    console.print(
        f"best model: [bold green]{best.name}[/bold green] ({metric} = {best.metrics[metric]:.4f})"
    )
    if summary.report_path is not None:
        console.print(f"report:     [bold]{summary.report_path}[/bold]")
    if summary.comparison_path is not None:
        verdict = "[green]passed[/green]" if summary.comparison_passed else "[red]failed[/red]"
        console.print(f"comparison: [bold]{summary.comparison_path}[/bold] (gates {verdict})")
    if summary.data is not None:
        data = summary.data
        verdict = "[green]passed[/green]" if data.validation_passed else "[red]failed[/red]"
        console.print(
            f"data:       [bold]{data.raw}[/bold] split into {data.train} and {data.test}; "
            f"contract of {data.contract_expectations} expectations {verdict}"
        )
    if summary.registered is not None:
        name, version, graph = summary.registered
        console.print(f"registered: [bold]{name}[/bold] version {version}")
        for approval in graph.get("approvals", []):
            reviews = ", ".join(f"{r['reviewer']} {r['decision']}d" for r in approval["reviews"])
            console.print(
                f"approval:   request {approval['request_id']} for @{approval['alias']} by "
                f"{approval['requested_by']}: {approval['status']}"
                + (f" ({reviews})" if reviews else "")
            )
        run = graph["run"] or {}
        sources = ", ".join(
            d["version"]["ref"] if "version" in d else f"{d['name']} ({d['digest'][:12]})"
            for d in graph["datasets"]
        )
        aliases = " ".join(f"@{a}" for a in graph["aliases"]) or "(no alias yet)"
        console.print(
            f"lineage:    {sources} → run {str(run.get('run_id', ''))[:8]} → "
            f"{name} v{version} (digest {str(graph['model_version']['digest'])[:12]}) → {aliases}"
        )
    if summary.card_path is not None:
        console.print(f"model card: [bold]{summary.card_path}[/bold]")
    console.print(f"metadata:   [bold]{summary.tracking_uri}[/bold]")
    console.print(f"artifacts:  [bold]{summary.artifacts_uri}[/bold]")
    console.print(f"next:       perennia runs show {best.run_id[:8]}")
    if summary.deployment is not None:
        _print_deployment(summary.deployment)
    if summary.monitoring is not None:
        console.print(summary.monitoring.line(), markup=False, highlight=False, soft_wrap=True)


def _print_deployment(shown) -> None:
    """Print the demo's deployment: one row per stage and variant, then what to read and type."""
    console.print()
    console.print(table(shown.title(), shown.COLUMNS, shown.table_rows(), no_wrap=4))
    for line in shown.notes():
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def _run_loop() -> None:
    """Run `perennia demo --loop` and print where each of its records is."""
    from perennia.demo.loop import run_loop

    summary = run_loop(say=lambda text: console.print(f"- {text}", markup=False, highlight=False))
    retraining = summary.retraining
    console.print()
    console.print(
        table(
            f"Retraining {retraining.id} of {summary.model}: {retraining.state}",
            ["time", "state", "what happened"],
            [(fmt_time(e.time_ms), e.state, e.message) for e in summary.events],
            no_wrap=2,
        )
    )
    deployment_rows = [
        (fmt_time(e.time), e.action.removeprefix("deploy_"), str(e.version or ""))
        for e in summary.deployment_events
    ]
    console.print(table("Deployment events", ["time", "action", "stable version"], deployment_rows))
    lines = [
        f"reason:     {retraining.reason}",
        f"alert:      {summary.alert.rule} of monitor {summary.alert.monitor} "
        f"(event {summary.alert.event_id}); perennia monitor show {summary.alert.monitor}",
        f"pipeline:   run {retraining.pipeline_run_id}; perennia runs show {retraining.pipeline_run_id}",
        f"versions:   champion v{retraining.champion_version} -> challenger "
        f"v{retraining.challenger_version}; perennia models versions {summary.model}",
    ]
    if summary.approval is not None:
        lines.append(
            f"approval:   request {summary.approval.request_id} {summary.approval.status}; "
            f"perennia models history {summary.model}"
        )
    lines += [
        f"deployment: {retraining.deployment}; perennia deploy history {retraining.deployment}",
        f"reference:  monitor {summary.alert.monitor} now compares with {summary.monitor_reference}",
        f"retraining: perennia retrain show {retraining.id}",
        f"metadata:   {summary.tracking_uri}",
        f"log:        {summary.log_location}",
    ]
    for line in lines:
        console.print(line, markup=False, highlight=False, soft_wrap=True)
