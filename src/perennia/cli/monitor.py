"""`perennia monitor ...`: drift between two files, monitors over the prediction log.

    perennia monitor drift ref.parquet cur.parquet --html drift.html
    perennia monitor create fraud-inputs --deployment fraud --reference models:/fraud@champion \\
        --window 1h --schedule 1h --task binary
    perennia monitor run fraud-inputs
    perennia monitor show fraud-inputs
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from perennia.cli.common import use_tracking_uri
from perennia.cli.output import console, fmt_time, key_values, table

app = typer.Typer(help="Drift reports and monitors over the prediction log.", no_args_is_help=True)


def _monitoring() -> Any:
    import perennia.monitoring as monitoring

    use_tracking_uri()
    return monitoring


@app.command("drift")
def drift_files(
    reference: Path = typer.Argument(
        ..., help="The reference data (Parquet) or a profile (.json)."
    ),
    current: Path = typer.Argument(..., help="The current data (Parquet)."),
    html: Path | None = typer.Option(None, "--html", help="Also write the HTML report here."),
    column: list[str] = typer.Option(None, "--column", help="Only this column (repeatable)."),
) -> None:
    """Compare two datasets column by column and print the drift table."""
    from perennia.monitoring.profiles.dataset import DatasetProfile

    monitoring = _monitoring()
    ref: Any = reference
    if reference.suffix == ".json":
        ref = DatasetProfile.from_bytes(reference.read_bytes())
    report = monitoring.drift(ref, current, columns=column or None)
    _print_report(report)
    if html is not None:
        report.save_html(html, title=f"{reference.name} → {current.name}")
        console.print(f"report written to {escape(str(html))}")
    raise typer.Exit(1 if report.drifted else 0)


@app.command("profile")
def profile_file(
    data: Path = typer.Argument(..., help="A Parquet file (streamed by row group)."),
    out: Path = typer.Option(..., "--out", help="Where to write the profile (JSON)."),
) -> None:
    """Profile a dataset once, to check later windows against without re-reading it."""
    monitoring = _monitoring()
    profile = monitoring.profile(data)
    out.write_bytes(profile.to_bytes())
    console.print(
        f"profile of {profile.rows:,} rows x {len(profile.columns)} columns → {escape(str(out))}"
    )


@app.command("create")
def create(
    name: str = typer.Argument(..., help="The monitor's name."),
    reference: str = typer.Option(
        ..., "--reference", help="runs:/, models:/ or datasets:/ URI, or a profile file."
    ),
    deployment: str | None = typer.Option(None, "--deployment", help="The deployment it reads."),
    model: str | None = typer.Option(None, "--model", help="models:/ URI of the watched version."),
    window: str = typer.Option("1h", "--window", help="Window width: 15min, 1h, 1d, ..."),
    schedule: str | None = typer.Option(None, "--schedule", help="Run every ... in the server."),
    task: str | None = typer.Option(None, "--task", help="binary, multiclass or regression."),
    column: list[str] = typer.Option(None, "--column", help="Only this input (repeatable)."),
    description: str = typer.Option("", "--description"),
) -> None:
    """Create a monitor of a deployment's prediction log against a reference profile."""
    monitor = _monitoring().create_monitor(
        name,
        reference=reference,
        window=window,
        deployment=deployment,
        model=model,
        schedule=schedule,
        task=task,
        columns=column or None,
        description=description,
    )
    when = "on demand" if monitor.schedule_ms is None else f"every {monitor.schedule_ms // 1000} s"
    console.print(f"monitor {escape(monitor.name)} created ({when})", highlight=False)


@app.command("list")
def list_monitors(
    deployment: str | None = typer.Option(None, "--deployment", help="Only this deployment's."),
) -> None:
    """List monitors."""
    rows = [
        (
            escape(m.name),
            escape(m.deployment or ""),
            f"{m.window_ms // 1000} s",
            "" if m.schedule_ms is None else f"{m.schedule_ms // 1000} s",
            fmt_time(m.last_window_end_ms) if m.last_window_end_ms else "never",
            escape(m.reference),
        )
        for m in _monitoring().list_monitors(deployment=deployment)
    ]
    console.print(
        table(
            None,
            ["name", "deployment", "window", "schedule", "computed to", "reference"],
            rows,
            no_wrap=1,
        )
    )


@app.command("run")
def run(
    name: str = typer.Argument(...),
    until_ms: int | None = typer.Option(None, "--until-ms", help="Compute windows ending by then."),
    log_location: str | None = typer.Option(None, "--log-location", help="The prediction log."),
) -> None:
    """Compute every complete window since the last one and record it."""
    windows = _monitoring().run_monitor(name, until_ms=until_ms, location=log_location)
    rows = [
        (
            fmt_time(w.start_ms),
            w.status,
            w.values.get("rows"),
            w.values.get("drift.drifted"),
            w.values.get("drift.share_drifted"),
            escape(w.error or ""),
        )
        for w in windows
    ]
    console.print(
        table(
            f"{len(windows)} window(s)",
            ["window start", "status", "rows", "drifted", "share drifted", "error"],
            rows,
        )
    )


@app.command("show")
def show(name: str = typer.Argument(...), last: int = typer.Option(10, "--last")) -> None:
    """Show a monitor and its most recent windows' main values."""
    monitoring = _monitoring()
    monitor = monitoring.get_monitor(name)
    facts = {
        "deployment": monitor.deployment or "",
        "reference": monitor.reference,
        "window": f"{monitor.window_ms // 1000} s",
        "schedule": "on demand"
        if monitor.schedule_ms is None
        else f"{monitor.schedule_ms // 1000} s",
        "computed to": fmt_time(monitor.last_window_end_ms)
        if monitor.last_window_end_ms
        else "never",
        "config": str(monitor.config),
    }
    console.print(
        key_values(escape(monitor.name), {k: escape(v) for k, v in facts.items()}, sort=False)
    )
    values = monitoring.monitor_values(name)
    if values.empty:
        console.print("no window computed yet")
        return
    main = [c for c in values.columns if not c.startswith(("feature.", "window_"))]
    rows = [
        [fmt_time(int(r["window_start_ms"]))] + [r[c] for c in main]
        for _, r in values.tail(last).iterrows()
    ]
    console.print(table("latest windows", ["window start", *main], rows))


@app.command("prometheus")
def prometheus(
    name: str = typer.Argument(...),
    rules: Path = typer.Option(
        ..., "--rules", help="Where to write the Prometheus alerting rules."
    ),
    dashboard: Path | None = typer.Option(
        None, "--dashboard", help="Also a Grafana dashboard (JSON)."
    ),
) -> None:
    """Write a monitor's alert rules as Prometheus rules over the server's /metrics gauges."""
    import json

    from perennia.monitoring.alerts import alert_rules_yaml, grafana_dashboard
    from perennia.monitoring.monitors.alerting import monitor_rules

    monitor = _monitoring().get_monitor(name)
    model = monitor.model_name or monitor.deployment or monitor.name
    found = monitor_rules(monitor.config)
    rules.write_text(alert_rules_yaml(model, found), encoding="utf-8")
    if dashboard is not None:
        values = sorted({rule.value for rule in found} | {"drift.share_drifted", "rows"})
        dashboard.write_text(
            json.dumps(grafana_dashboard(model, values), indent=2), encoding="utf-8"
        )
    console.print(f"{len(found)} rule(s) for model {escape(model)} → {escape(str(rules))}")


@app.command("delete")
def delete(name: str = typer.Argument(...)) -> None:
    """Delete a monitor and everything it recorded."""
    _monitoring().delete_monitor(name)
    console.print(f"monitor {escape(name)} deleted")


def _print_report(report: Any) -> None:
    rows = []
    for c in sorted(
        report.columns, key=lambda c: (not (c.drifted or c.null_shift), -(c.effect or 0))
    ):
        status = (
            "not computable"
            if not c.computable
            else ("DRIFT" if c.drifted or c.null_shift else "stable")
        )
        rows.append(
            (
                escape(c.column),
                c.kind,
                status,
                c.test.method if c.test else "",
                c.p_adjusted,
                c.effect,
                escape(c.reason or ""),
            )
        )
    verdict = {None: "not computable", True: "drift detected", False: "no drift"}[report.drifted]
    console.print(
        table(
            f"{verdict}: {len(report.drifted_columns)} of {len(report.columns)} columns",
            ["column", "kind", "status", "test", "p (BH)", "effect", "note"],
            rows,
            no_wrap=1,
        )
    )
