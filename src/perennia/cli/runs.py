"""`perennia runs list|show|search`."""

from __future__ import annotations

import typer

from perennia.cli.common import client, resolve_experiment, resolve_run_id
from perennia.cli.info import store_line
from perennia.cli.output import (
    console,
    fmt_duration,
    fmt_status,
    fmt_time,
    fmt_value,
    key_values,
    table,
)
from perennia.entities import Run, ViewType

app = typer.Typer(help="List, show and search runs.", no_args_is_help=True)

EXPERIMENT_OPTION = typer.Option(
    None, "--experiment", "-e", help="Experiment name or id (repeatable); default: all."
)
METRIC_OPTION = typer.Option(None, "--metric", "-m", help="Metric column to show (repeatable).")


def metrics_named_in(filter_string: str, order_by: list[str] | None = None) -> list[str]:
    """Return the metric keys a filter and its order-by clauses refer to, in order of appearance."""
    from perennia.store.search_grammar import METRIC, comparisons, parse_filter, parse_order_by

    named = [c.key for c in comparisons(parse_filter(filter_string)) if c.kind == METRIC]
    named += [o.key for o in parse_order_by(order_by) if o.kind == METRIC]
    return list(dict.fromkeys(named))


def _runs_table(
    title: str, runs: list[Run], metrics: list[str] | None = None, first: list[str] = ()
) -> None:
    # As many metric columns as the terminal has room for next to the fixed ones.
    metric_columns = max(1, (console.width - 64) // 12)
    if metrics:
        metric_keys = list(metrics)
    else:
        counts: dict[str, int] = {}
        for run in runs:
            for key in run.data.metrics:
                counts[key] = counts.get(key, 0) + 1
        # The metrics the search filtered or ordered on come first, then those most runs share.
        shared = sorted((k for k in counts if k not in first), key=lambda k: (-counts[k], k))
        metric_keys = [*first, *shared][: max(metric_columns, len(first))]
    console.print(store_line(client().tracking_uri))
    rows = [
        (
            run.info.run_id[:8],
            run.info.run_name,
            fmt_status(run.info.status),
            fmt_time(run.info.start_time, short=True),
            fmt_duration(run.info.start_time, run.info.end_time),
            *[fmt_value(run.data.metrics.get(k)) for k in metric_keys],
        )
        for run in runs
    ]
    result = table(title, ["run", "name", "status", "started", "took"], [], no_wrap=5)
    result.columns[1].max_width = 24
    result.columns[1].overflow = "ellipsis"
    for key in metric_keys:
        result.add_column(key, justify="right", overflow="fold")
    for row in rows:
        result.add_row(*row)
    console.print(result)


def _experiment_ids(names: list[str] | None) -> list[str]:
    if not names:
        return []
    api = client()
    return [resolve_experiment(api, name).experiment_id for name in names]


@app.command("list")
def list_runs(
    experiment: list[str] | None = EXPERIMENT_OPTION,
    max_results: int = typer.Option(50, "--max", help="How many runs to show."),
    deleted: bool = typer.Option(False, "--deleted", help="Show runs in the trash instead."),
    metric: list[str] | None = METRIC_OPTION,
) -> None:
    """List the newest runs."""
    view = ViewType.DELETED_ONLY if deleted else ViewType.ACTIVE_ONLY
    runs = client().search_runs(_experiment_ids(experiment), "", view, max_results).items
    _runs_table(f"Runs ({len(runs)} newest)", runs, metric)


@app.command("search")
def search(
    filter_string: str = typer.Option(
        "", "--filter", "-f", help="e.g. \"metrics.acc > 0.9 and params.model = 'rf'\""
    ),
    order_by: list[str] | None = typer.Option(
        None, "--order-by", "-o", help="e.g. 'metrics.acc DESC' (repeatable)."
    ),
    experiment: list[str] | None = EXPERIMENT_OPTION,
    max_results: int = typer.Option(50, "--max", help="How many runs to show."),
    metric: list[str] | None = METRIC_OPTION,
) -> None:
    """Search runs with MLflow's filter syntax."""
    runs = (
        client()
        .search_runs(
            _experiment_ids(experiment), filter_string, ViewType.ACTIVE_ONLY, max_results, order_by
        )
        .items
    )
    title = (
        f"Runs matching {filter_string!r} ({len(runs)})" if filter_string else f"Runs ({len(runs)})"
    )
    _runs_table(title, runs, metric, first=metrics_named_in(filter_string, order_by))


@app.command("show")
def show(run_id: str = typer.Argument(..., help="The run id (or a unique prefix).")) -> None:
    """Show one run: info, params, metrics, tags, inputs and artifacts."""
    api = client()
    run_id = resolve_run_id(api, run_id)
    run = api.get_run(run_id)
    info = run.info
    console.print(
        key_values(
            f"Run {info.run_name}",
            sort=False,
            values={
                "run id": info.run_id,
                "experiment": api.get_experiment(info.experiment_id).name,
                "status": fmt_status(info.status),
                "started (UTC)": fmt_time(info.start_time),
                "duration": fmt_duration(info.start_time, info.end_time),
                "user": info.user_id or "",
                "parent run": info.parent_run_id or "",
                "source": info.source_name or "",
                "git commit": info.git_commit or "",
                **({"error": info.error} if info.error else {}),
            },
        )
    )
    if run.data.params:
        console.print(key_values("Params", run.data.params))
    if run.data.metrics:
        console.print(key_values("Metrics (latest)", run.data.metrics))
    if run.data.tags:
        console.print(key_values("Tags", run.data.tags))
    if run.inputs.dataset_inputs:
        rows = [
            (
                i.dataset.name,
                i.context or "",
                i.dataset.digest[:12],
                str(i.dataset.row_count),
                i.dataset.source,
            )
            for i in run.inputs.dataset_inputs
        ]
        console.print(
            table("Dataset inputs", ["name", "context", "digest", "rows", "source"], rows)
        )
    artifacts = api.store.artifacts.list(run_id)
    if artifacts:
        rows = [(a.path, str(a.size), a.digest[:12]) for a in artifacts]
        console.print(table("Artifacts", ["path", "bytes", "sha256"], rows))
