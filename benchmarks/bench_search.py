"""Search: 10,000 runs with 10 params and 5 metrics each, in both stores with identical data.

Top-100: a filter on one metric and one param, ordered by another metric. All: every run as a
DataFrame. Perennia's store is filled through its public Client; MLflow's is filled by copying
the rows of one run MLflow logged itself (its own `log_batch` would take minutes at 10,000 runs),
so both hold the same runs, names and values, and the answers are checked to agree.
"""

from __future__ import annotations

import os
import random

from common import REPEATS, Result, emit, fresh_dir, median_seconds, use_mlflow_store

RUNS = int(os.environ.get("BENCH_SEARCH_RUNS", "10000"))
FILTER = "metrics.m0 > 0.5 and params.p0 = 'a'"
ORDER_BY = ["metrics.m1 DESC"]
SEARCH_REPEATS = max(REPEATS, 7)


def population(seed: int = 7) -> list[dict]:
    """Return RUNS run descriptions: name, 10 params, 5 metrics (seeded, so both stores agree)."""
    rng = random.Random(seed)
    return [
        {
            "name": f"run-{i:05d}",
            "params": {
                f"p{k}": rng.choice("abcd") if k == 0 else f"v{rng.randrange(50)}"
                for k in range(10)
            },
            "metrics": {f"m{k}": round(rng.random(), 6) for k in range(5)},
            "start": 1_700_000_000_000 + i,
        }
        for i in range(RUNS)
    ]


def fill_perennia(runs: list[dict]) -> tuple[str, object]:
    """Return (experiment id, perennia module) after logging `runs` into a fresh Perennia store."""
    import perennia
    from perennia.entities import Metric, Param

    folder = fresh_dir("search")
    perennia.set_tracking_uri(f"sqlite:///{folder / 'perennia.db'}")
    perennia.set_artifacts_uri(folder / "artifacts")
    client = perennia.Client()
    experiment_id = client.create_experiment("search")
    for run in runs:
        created = client.create_run(experiment_id, run_name=run["name"], start_time=run["start"])
        run_id = created.info.run_id
        client.log_batch(
            run_id,
            metrics=[Metric(k, v, run["start"], 0) for k, v in run["metrics"].items()],
            params=[Param(k, v) for k, v in run["params"].items()],
        )
        client.set_terminated(run_id, end_time=run["start"] + 1000)
    return experiment_id, perennia


def fill_mlflow(runs: list[dict]) -> tuple[str, object]:
    """Return (experiment id, mlflow module) after copying `runs` into a fresh MLflow store."""
    import mlflow
    import sqlalchemy as sa
    from mlflow.entities import Metric, Param

    uri = use_mlflow_store(fresh_dir("search-mlflow"))
    client = mlflow.MlflowClient()
    experiment_id = client.create_experiment("search")
    first = runs[0]
    template = client.create_run(experiment_id, run_name=first["name"], start_time=first["start"])
    template_id = template.info.run_id
    client.log_batch(
        template_id,
        metrics=[Metric(k, v, first["start"], 0) for k, v in first["metrics"].items()],
        params=[Param(k, v) for k, v in first["params"].items()],
    )
    client.set_terminated(template_id, end_time=first["start"] + 1000)
    _replicate(sa.create_engine(uri), template_id, runs[1:])
    return experiment_id, mlflow


def _replicate(engine, template_id: str, runs: list[dict]) -> None:
    """Copy the template run's rows in every run-keyed table once per run, with its own values."""
    import uuid

    import sqlalchemy as sa

    meta = sa.MetaData()
    meta.reflect(engine)
    run_tables = [t for t in meta.tables.values() if "run_uuid" in t.c]
    with engine.begin() as conn:
        templates = {
            t.name: [
                dict(r._mapping)
                for r in conn.execute(t.select().where(t.c.run_uuid == template_id))
            ]
            for t in run_tables
        }
        for table in run_tables:
            rows = []
            for run in runs:
                run_id = uuid.uuid4().hex
                run["_mlflow_id"] = run.get("_mlflow_id", run_id)
                for row in templates[table.name]:
                    rows.append(_customize(table.name, dict(row), run))
            if rows:
                conn.execute(table.insert(), rows)


def _customize(table: str, row: dict, run: dict) -> dict:
    """Return one copied row carrying `run`'s id, name and values instead of the template's."""
    template_id = row["run_uuid"]
    run_id = run["_mlflow_id"]
    row["run_uuid"] = run_id
    if "id" in row and table not in ("runs",):
        row.pop("id")  # autoincrement surrogate keys
    if table == "runs":
        row["name"] = run["name"]
        row["start_time"] = run["start"]
        row["end_time"] = run["start"] + 1000
        if row.get("artifact_uri"):
            row["artifact_uri"] = row["artifact_uri"].replace(template_id, run_id)
    elif table == "params":
        row["value"] = run["params"][row["key"]]
    elif table in ("metrics", "latest_metrics"):
        row["value"] = run["metrics"][row["key"]]
    elif table == "tags" and row["key"] == "mlflow.runName":
        row["value"] = run["name"]
    return row


def _top(module, experiment_id: str):
    return module.search_runs(
        experiment_ids=[experiment_id], filter_string=FILTER, order_by=ORDER_BY, max_results=100
    )


def _all(module, experiment_id: str):
    return module.search_runs(experiment_ids=[experiment_id])


def main() -> list[Result]:
    """Return the search comparisons."""
    runs = population()
    ours_id, perennia = fill_perennia(runs)
    theirs_id, mlflow = fill_mlflow(runs)

    ours_top, theirs_top = _top(perennia, ours_id), _top(mlflow, theirs_id)
    same_top = list(ours_top["run_name"]) == list(theirs_top["tags.mlflow.runName"])
    ours_all, theirs_all = _all(perennia, ours_id), _all(mlflow, theirs_id)
    same_count = len(ours_all) == len(theirs_all) == RUNS

    top_ours = median_seconds(lambda: _top(perennia, ours_id), SEARCH_REPEATS)
    top_theirs = median_seconds(lambda: _top(mlflow, theirs_id), SEARCH_REPEATS)
    all_ours = median_seconds(lambda: _all(perennia, ours_id), REPEATS)
    all_theirs = median_seconds(lambda: _all(mlflow, theirs_id), REPEATS)
    agree = f"same top-100 names and order: {same_top}; both return {RUNS:,} runs: {same_count}"
    return [
        Result(
            f"search top-100 of {RUNS:,}",
            top_ours,
            top_theirs,
            "s",
            "mlflow.search_runs",
            "< 50 ms, >= 10x",
            top_ours < 0.05 and top_theirs >= 10 * top_ours and same_top,
            agree,
        ),
        Result(
            f"search all {RUNS:,} as DataFrame",
            all_ours,
            all_theirs,
            "s",
            "mlflow.search_runs",
            ">= 10x",
            all_theirs >= 10 * all_ours and same_count,
        ),
    ]


if __name__ == "__main__":
    emit(main())
