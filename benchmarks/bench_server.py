"""Tracking servers: the unmodified mlflow client against `mlflow server` and `perennia server`.

Both servers run on a SQLite store in a fresh folder, started from the command line as users
start them. Measured: start-up (spawn to first healthy answer), resident memory of the whole
process tree, the mlflow client's per-call `log_metric` (a sample: MLflow's server manages about
a hundred calls a second) and its `log_batch` (20,000 points in chunks of 1,000), and Perennia's
own SDK logging 100,000 points remotely.
"""

from __future__ import annotations

import os
import statistics
import sys
import time

from common import Result, emit, fresh_dir, quiet_mlflow
from server_processes import Server

POINTS = int(os.environ.get("BENCH_SERVER_POINTS", "20000"))
SINGLE = int(os.environ.get("BENCH_SERVER_SINGLE", "1000"))
REMOTE_POINTS = int(os.environ.get("BENCH_REMOTE_POINTS", "100000"))


def mlflow_server() -> Server:
    """Return a running `mlflow server` on a fresh SQLite store."""
    folder = fresh_dir("mlflow-server")
    bin_dir = os.path.dirname(sys.executable)
    return Server(
        [
            os.path.join(bin_dir, "mlflow"),
            "server",
            "--host",
            "127.0.0.1",
            "--backend-store-uri",
            f"sqlite:///{folder / 'mlflow.db'}",
            "--artifacts-destination",
            str(folder / "artifacts"),
        ],
    )


def perennia_server(workers: int = 1) -> Server:
    """Return a running `perennia server` on a fresh SQLite store."""
    folder = fresh_dir("perennia-server")
    bin_dir = os.path.dirname(sys.executable)
    return Server(
        [os.path.join(bin_dir, "perennia"), "server", "--workers", str(workers)],
        env={"PERENNIA_HOME": str(folder)},
    )


def mlflow_client_rates(url: str) -> tuple[float, float]:
    """Return (per-call, batch) points/s of the mlflow client logging to the server at `url`."""
    import mlflow
    from mlflow.entities import Metric

    mlflow.set_tracking_uri(url)
    client = mlflow.MlflowClient(tracking_uri=url)
    experiment_id = client.create_experiment(f"bench-{time.time_ns()}")
    run_id = client.create_run(experiment_id).info.run_id
    start = time.perf_counter()
    for step in range(SINGLE):
        client.log_metric(run_id, "single", 1.0 / (step + 1), step=step)
    single = SINGLE / (time.perf_counter() - start)
    now = int(time.time() * 1000)
    start = time.perf_counter()
    for offset in range(0, POINTS, 1000):
        client.log_batch(
            run_id,
            metrics=[Metric("batch", 1.0 / (s + 1), now, s) for s in range(offset, offset + 1000)],
        )
    batch = POINTS / (time.perf_counter() - start)
    client.set_terminated(run_id)
    return single, batch


def perennia_remote_rate(url: str) -> float:
    """Return points/s of Perennia's SDK logging REMOTE_POINTS one call at a time, until durable."""
    import perennia

    perennia.set_tracking_uri(url)
    with perennia.start_run():
        start = time.perf_counter()
        for step in range(REMOTE_POINTS):
            perennia.log_metric("loss", 1.0 / (step + 1), step=step)
        perennia.flush()
        return REMOTE_POINTS / (time.perf_counter() - start)


_LOAD_CLIENT = """
import json, sys, time
from perennia.entities import MetricBatch
from perennia.store.rest.store import RestStore
store = RestStore(sys.argv[1])
eid = store.experiments.get_by_name("load").experiment_id
run_id = store.runs.create(eid).info.run_id
latencies = []
for chunk in range(10):
    batch = MetricBatch()
    for step in range(chunk * 1000, (chunk + 1) * 1000):
        batch.append("loss", 1.0 / (step + 1), step, 1_700_000_000_000)
    start = time.perf_counter()
    store.log_batch(run_id, batch)
    latencies.append(time.perf_counter() - start)
print(json.dumps({"run_id": run_id, "latencies": latencies}))
"""


def load_latencies(url: str, clients: int = 8) -> tuple[list[float], int]:
    """Return every 1,000-point batch latency of `clients` concurrent processes, and points stored."""
    import json
    import subprocess

    from perennia.store.rest.store import RestStore

    store = RestStore(url)
    store.experiments.create("load")
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _LOAD_CLIENT, url], stdout=subprocess.PIPE, text=True
        )
        for _ in range(clients)
    ]
    latencies, stored = [], 0
    for child in children:
        out, _ = child.communicate(timeout=600)
        result = json.loads(out)
        latencies += result["latencies"]
        stored += len(store.metrics.history(result["run_id"], "loss"))
    store.close()
    return latencies, stored


def main() -> list[Result]:
    """Return the server comparisons."""
    quiet_mlflow()
    theirs = mlflow_server()
    theirs_rss_idle = theirs.rss_mib()
    theirs_single, theirs_batch = mlflow_client_rates(theirs.url)
    theirs.stop()

    ours = perennia_server()
    ours_rss_idle = ours.rss_mib()
    ours_single, ours_batch = mlflow_client_rates(ours.url)
    remote = statistics.median(perennia_remote_rate(ours.url) for _ in range(3))
    ours_rss_busy = ours.rss_mib()
    ours.stop()

    loaded = perennia_server(workers=2)
    latencies, stored = load_latencies(loaded.url)
    loaded.stop()
    ordered = sorted(latencies)
    p50, p99 = ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]

    return [
        Result(
            "server start-up",
            ours.startup_seconds,
            theirs.startup_seconds,
            "s",
            "mlflow server",
            "< 1 s",
            ours.startup_seconds < 1.0,
        ),
        Result(
            "server memory (MiB, idle)",
            ours_rss_idle,
            theirs_rss_idle,
            "MiB",
            "mlflow server",
            "< 300 MiB",
            ours_rss_idle < 300,
            f"perennia after the workload: {ours_rss_busy:,.0f} MiB",
        ),
        Result(
            "mlflow client log_metric",
            ours_single,
            theirs_single,
            "pts/s",
            "mlflow server",
            ">= 3x",
            ours_single >= 3 * theirs_single,
            f"{SINGLE:,} calls to each server",
        ),
        Result(
            "mlflow client log_batch",
            ours_batch,
            theirs_batch,
            "pts/s",
            "mlflow server",
            ">= 3x",
            ours_batch >= 3 * theirs_batch,
            f"{POINTS:,} points in chunks of 1,000",
        ),
        Result(
            "8 clients x 10 batches of 1,000 (p99)",
            p99,
            p99,
            "s",
            "perennia itself",
            "no loss",
            stored == 80_000,
            f"2 workers, SQLite: p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
            f"{stored:,} of 80,000 points stored",
        ),
        Result(
            "perennia SDK remote ingest",
            remote,
            theirs_batch,
            "pts/s",
            "mlflow client log_batch to mlflow server",
            ">= 20x",
            remote >= 20 * theirs_batch,
            f"{REMOTE_POINTS:,} log_metric calls + flush, median of 3",
        ),
    ]


if __name__ == "__main__":
    emit(main())
