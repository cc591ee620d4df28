"""Search at scale: the same top-100 search and a 5-column frame of every run, at 10,000 and
1,000,000 runs, on SQLite and PostgreSQL, with the growth factor and the query plans.

Stores are built with `perennia.store.sql.bulk_runs` (executemany on SQLite, COPY on
PostgreSQL): 20 params and 20 metrics per run up to 100,000 runs; above that 5 params and 5
metrics, so a million runs build in minutes and stay a few GB on disk. Every run also has one
tag `t`. The search is the keyset page `search_run_ids` plus `load_runs`, the frame is
`search_frame(columns=...)` (what `SqlRunStore.search`/`search_frame` call once wired to them);
the frame's time and peak memory are measured in a fresh child process.

BENCH_SCALE_RUNS (default "10000,1000000"), BENCH_SCALE_BACKENDS (default "sqlite,postgresql"),
BENCH_POSTGRES_ADMIN (default postgresql+psycopg://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time

from common import REPEATS, Result, emit, fresh_dir, median_seconds

SIZES = [int(n) for n in os.environ.get("BENCH_SCALE_RUNS", "10000,1000000").split(",")]
BACKENDS = os.environ.get("BENCH_SCALE_BACKENDS", "sqlite,postgresql").split(",")
ADMIN = os.environ.get(
    "BENCH_POSTGRES_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
FILTER = "metrics.m0 > 0.5 and params.p0 = 'a'"
ORDER_BY = ["metrics.m1 DESC"]
COLUMNS = ["run_id", "params.p0", "metrics.m1", "tags.t", "start_time"]
TOP_REPEATS = max(REPEATS, 7)


def width(n: int) -> int:
    """Return how many params and metrics each run gets at size n."""
    return 20 if n <= 100_000 else 5


def population(n: int, seed: int = 7):
    """Yield n BulkRuns: p0 in a-d, other params v0-v49, metrics uniform in [0, 1), tag t."""
    from perennia.store.sql.bulk_runs import BulkRun

    rng = random.Random(seed)
    k = width(n)
    for i in range(n):
        yield BulkRun(
            name=f"run-{i:07d}",
            start_time=1_700_000_000_000 + i,
            end_time=1_700_000_001_000 + i,
            params={
                f"p{j}": rng.choice("abcd") if j == 0 else f"v{rng.randrange(50)}" for j in range(k)
            },
            tags={"t": rng.choice(["x", "y", "z"])},
            metrics={f"m{j}": rng.random() for j in range(k)},
        )


def fresh_uri(backend: str, n: int) -> str:
    """Return the URI of a new empty database for one backend and size."""
    if backend == "sqlite":
        return f"sqlite:///{fresh_dir(f'scale-{n}') / 'perennia.db'}"
    import sqlalchemy as sa

    name = f"bench_scale_{n}"
    engine = sa.create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return ADMIN.rsplit("/", 1)[0] + f"/{name}"


def drop(n: int) -> None:
    """Drop the PostgreSQL database of size n (a million runs hold several GB)."""
    import sqlalchemy as sa

    engine = sa.create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "bench_scale_{n}"'))
    engine.dispose()


def build(backend: str, n: int) -> tuple[str, str, float]:
    """Return (uri, experiment id, build seconds) of a store holding n bulk-loaded runs."""
    from perennia.store import open_store
    from perennia.store.sql.bulk_runs import bulk_load_runs

    uri = fresh_uri(backend, n)
    store = open_store(uri)
    eid = store.experiments.create("scale")
    start = time.perf_counter()
    bulk_load_runs(store.engine, eid, population(n))
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE" if backend == "sqlite" else "VACUUM ANALYZE")
    seconds = time.perf_counter() - start
    store.close()
    return uri, eid, seconds


def top_100(store, eid: str) -> list:
    """Return the top-100 runs of the benchmark's filter and order."""
    from perennia.entities import ViewType
    from perennia.store.sql.engine import read_transaction
    from perennia.store.sql.run_loader import load_runs
    from perennia.store.sql.run_search import search_run_ids

    with read_transaction(store.engine) as conn:
        ids, _ = search_run_ids(
            conn, [eid], FILTER, ViewType.ACTIVE_ONLY, ORDER_BY, None, 100, None
        )
        return load_runs(conn, ids)


def plan(store, eid: str) -> str:
    """Return the query plan of the top-100 query (EXPLAIN QUERY PLAN / EXPLAIN ANALYZE)."""
    from perennia.entities import ViewType
    from perennia.store.sql.run_search import phase_query, search_base

    base = search_base([eid], FILTER, ViewType.ACTIVE_ONLY, None)
    query, _ = phase_query(base, ORDER_BY, 0)
    sql = str(query.limit(101).compile(store.engine, compile_kwargs={"literal_binds": True}))
    sqlite = store.engine.dialect.name == "sqlite"
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql(("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ANALYZE ") + sql)
        lines = [f"{r[0]:>3} {r[1]:>3} {r[3]}" if sqlite else r[0] for r in rows]
    return "\n".join("      " + line for line in lines)


def frame_child(uri: str, eid: str) -> None:
    """Print {"seconds", "rows", "peak_mib"} of the 5-column frame of every run (child side)."""
    import resource

    from perennia.entities import ViewType
    from perennia.store import open_store
    from perennia.store.sql.engine import read_transaction
    from perennia.store.sql.run_search import build_search_query, search_frame

    store = open_store(uri)
    query = build_search_query([eid], "", ViewType.ACTIVE_ONLY, None)
    rows = 0

    def once() -> None:
        nonlocal rows
        with read_transaction(store.engine) as conn:
            rows = len(search_frame(conn, query, None, COLUMNS))

    seconds = median_seconds(once, REPEATS)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "rows": rows, "peak_mib": peak}))


def frame(uri: str, eid: str) -> dict:
    """Return the frame measurement from a fresh process (so its peak memory is its own)."""
    out = subprocess.run(
        [sys.executable, __file__, "--frame", uri, eid], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(backend: str, n: int) -> dict:
    """Return build, top-100 and frame figures (and the plan) for one backend and size."""
    from perennia.store import open_store

    uri, eid, built = build(backend, n)
    store = open_store(uri)
    top = top_100(store, eid)
    assert len(top) == 100 and all(r.data.params["p0"] == "a" for r in top)
    values = [r.data.metrics["m1"] for r in top]
    assert values == sorted(values, reverse=True)
    seconds = median_seconds(lambda: top_100(store, eid), TOP_REPEATS)
    shown = plan(store, eid)
    store.close()
    figures = {"build": built, "top": seconds, "plan": shown, **frame(uri, eid)}
    if backend != "sqlite":
        drop(n)
    print(
        f"  {backend} {n:,} runs ({width(n)} params/metrics): built in {built:,.0f} s, "
        f"top-100 {seconds * 1000:.1f} ms, frame {figures['seconds']:.2f} s "
        f"({figures['rows']:,} rows, peak {figures['peak_mib']:,.0f} MiB)\n    plan:\n{shown}",
        flush=True,
    )
    return figures


def results_for(backend: str, figures: dict[int, dict]) -> list[Result]:
    """Return the growth comparisons of one backend (largest size against the smallest)."""
    small, large = min(figures), max(figures)
    a, b = figures[small], figures[large]
    top_growth, frame_growth = b["top"] / a["top"], b["seconds"] / a["seconds"]
    note = f"growth {small:,} -> {large:,}: top-100 x{top_growth:.2f}, frame x{frame_growth:.1f}"
    return [
        Result(
            f"{backend} top-100 at {large:,}",
            b["top"],
            a["top"],
            "s",
            f"same at {small:,}",
            "<= 2x of small, < 100 ms",
            b["top"] <= 2 * a["top"] and b["top"] < 0.1,
            note,
        ),
        Result(
            f"{backend} 5-column frame of {large:,}",
            b["seconds"],
            a["seconds"],
            "s",
            f"same at {small:,}",
            "< 5 s",
            b["seconds"] < 5,
        ),
        Result(
            f"{backend} frame peak memory at {large:,}",
            b["peak_mib"],
            a["peak_mib"],
            "MiB",
            f"same at {small:,}",
            "< 1024 MiB",
            b["peak_mib"] < 1024,
        ),
    ]


def main() -> list[Result]:
    """Return the scale comparisons of every backend."""
    results = []
    for backend in BACKENDS:
        figures = {n: measure(backend, n) for n in SIZES}
        results += results_for(backend, figures)
    return results


if __name__ == "__main__":
    if sys.argv[1:2] == ["--frame"]:
        frame_child(sys.argv[2], sys.argv[3])
    else:
        emit(main())
