"""Run creation: 2,000 runs, each with 10 params and 5 metrics, through the fluent API."""

from __future__ import annotations

import os
import time

from common import REPEATS, Result, emit, fresh_dir, use_mlflow_store, use_perennia_store

RUNS = int(os.environ.get("BENCH_RUNS", "2000"))
# MLflow needs about 10 ms per run here, so it does the full count once rather than REPEATS times.
MLFLOW_REPEATS = int(os.environ.get("BENCH_MLFLOW_REPEATS", "1"))


def _params(i: int) -> dict[str, str]:
    return {f"p{k}": f"value-{(i * 7 + k) % 13}" for k in range(10)}


def _metrics(i: int) -> dict[str, float]:
    return {f"m{k}": ((i * 31 + k * 17) % 1000) / 1000 for k in range(5)}


def create_runs(module) -> float:
    """Return the seconds `module` (perennia or mlflow) takes to create RUNS runs in a new experiment."""
    module.set_experiment(f"runs-{time.time_ns()}")
    start = time.perf_counter()
    for i in range(RUNS):
        with module.start_run(run_name=f"run-{i:05d}"):
            module.log_params(_params(i))
            module.log_metrics(_metrics(i))
    if hasattr(module, "flush"):
        module.flush()
    return time.perf_counter() - start


def _median(samples: list[float]) -> float:
    return sorted(samples)[len(samples) // 2]


def main() -> list[Result]:
    """Return the run-creation comparison."""
    import mlflow

    import perennia

    use_perennia_store(fresh_dir("runs"))
    ours = _median([create_runs(perennia) for _ in range(REPEATS)])
    use_mlflow_store(fresh_dir("runs-mlflow"))
    theirs = _median([create_runs(mlflow) for _ in range(MLFLOW_REPEATS)])
    return [
        Result(
            f"create {RUNS:,} runs (10 params, 5 metrics)",
            ours,
            theirs,
            "s",
            "mlflow",
            ">= 10x",
            theirs >= 10 * ours,
            f"perennia median of {REPEATS}, mlflow median of {MLFLOW_REPEATS}",
        )
    ]


if __name__ == "__main__":
    emit(main())
