"""Ingest: metric points logged one `log_metric` call at a time into one run, until durable.

Perennia logs 100,000 points and flushes. MLflow's synchronous and asynchronous `log_metric`
run at a few hundred points per second, so they log a sample and are compared by rate;
MLflow's own batch path (`MlflowClient.log_batch` in chunks of 1,000) logs all 100,000.
"""

from __future__ import annotations

import os
import statistics
import time

from common import REPEATS, Result, emit, fresh_dir, use_mlflow_store, use_perennia_store

POINTS = int(os.environ.get("BENCH_INGEST_POINTS", "100000"))
MLFLOW_SAMPLE = int(os.environ.get("BENCH_MLFLOW_SAMPLE", "1000"))
BATCH = 1_000


def perennia_rate() -> float:
    """Return points/s for POINTS `perennia.log_metric` calls plus the flush that makes them durable."""
    import perennia

    use_perennia_store(fresh_dir("ingest"))
    rates = []
    for _ in range(REPEATS):
        with perennia.start_run():
            start = time.perf_counter()
            for step in range(POINTS):
                perennia.log_metric("loss", 1.0 / (step + 1), step=step)
            perennia.flush()
            rates.append(POINTS / (time.perf_counter() - start))
    return statistics.median(rates)


def mlflow_fluent_rate(synchronous: bool) -> float:
    """Return points/s for MLFLOW_SAMPLE `mlflow.log_metric` calls, durable at the end."""
    import mlflow

    use_mlflow_store(fresh_dir("ingest-mlflow"))
    rates = []
    for _ in range(REPEATS):
        with mlflow.start_run():
            start = time.perf_counter()
            for step in range(MLFLOW_SAMPLE):
                mlflow.log_metric("loss", 1.0 / (step + 1), step=step, synchronous=synchronous)
            if not synchronous:
                mlflow.flush_async_logging()
            rates.append(MLFLOW_SAMPLE / (time.perf_counter() - start))
    return statistics.median(rates)


def mlflow_batch_rate() -> float:
    """Return points/s for POINTS logged by `MlflowClient.log_batch` in chunks of 1,000."""
    import mlflow
    from mlflow.entities import Metric

    use_mlflow_store(fresh_dir("ingest-mlflow-batch"))
    client = mlflow.MlflowClient()
    experiment_id = client.create_experiment("ingest")
    rates = []
    for _ in range(REPEATS):
        run_id = client.create_run(experiment_id).info.run_id
        now = int(time.time() * 1000)
        start = time.perf_counter()
        for offset in range(0, POINTS, BATCH):
            metrics = [
                Metric("loss", 1.0 / (step + 1), now, step)
                for step in range(offset, min(offset + BATCH, POINTS))
            ]
            client.log_batch(run_id, metrics=metrics)
        rates.append(POINTS / (time.perf_counter() - start))
        client.set_terminated(run_id)
    return statistics.median(rates)


def main() -> list[Result]:
    """Return the ingest comparisons."""
    ours = perennia_rate()
    sync = mlflow_fluent_rate(synchronous=True)
    asynchronous = mlflow_fluent_rate(synchronous=False)
    batch = mlflow_batch_rate()
    where = f"{POINTS:,} points; MLflow fluent rates from {MLFLOW_SAMPLE:,}-point samples"
    return [
        Result(
            "ingest vs sync log_metric",
            ours,
            sync,
            "pts/s",
            "mlflow",
            ">= 100x",
            ours >= 100 * sync,
            where,
        ),
        Result("ingest vs async log_metric", ours, asynchronous, "pts/s", "mlflow", "(info)", True),
        Result("ingest vs log_batch", ours, batch, "pts/s", "mlflow", ">= 5x", ours >= 5 * batch),
    ]


if __name__ == "__main__":
    emit(main())
