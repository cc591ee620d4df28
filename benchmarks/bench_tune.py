"""Tuning: the tracking overhead per trial of `perennia.automation.tune.tune` vs Optuna + MLflow.

One cheap objective (a quadratic in 3 params that reports 5 intermediate values), the same TPE
sampler and seed, TRIALS trials, three ways in this one process:

- plain Optuna with in-memory storage and no tracking: the baseline;
- Perennia's `tune` into its embedded SQLite store (a parent run, one nested run per trial with
  params, the 5-point intermediate history, the value and the state; flushed when it returns);
- Optuna with `optuna_integration.mlflow.MLflowCallback` into a `sqlite:///` MLflow store (one
  run per trial with params, the value and tags; it records no intermediate values).

Overhead per trial = (the tool's wall time - the baseline's) / TRIALS. Every store is created
before the clock starts; each repeat gets a fresh folder. Figures are medians of REPEATS.
"""

from __future__ import annotations

import os
import statistics
import time
import warnings

from common import REPEATS, Result, emit, fresh_dir, quiet_mlflow

TRIALS = int(os.environ.get("BENCH_TUNE_TRIALS", "200"))
SEED = 0


def objective(trial) -> float:
    """Return a quadratic of three params after reporting five intermediate values."""
    x = trial.suggest_float("x", -5.0, 5.0)
    y = trial.suggest_float("y", -5.0, 5.0)
    z = trial.suggest_int("z", -3, 3)
    value = (x - 1.0) ** 2 + (y + 2.0) ** 2 + z**2
    for step in range(5):
        trial.report(value + 1.0 / (step + 1), step)
    return value


def _study(storage=None):
    import optuna

    return optuna.create_study(
        sampler=optuna.samplers.TPESampler(seed=SEED),
        pruner=optuna.pruners.NopPruner(),
        storage=storage,
    )


def plain_seconds() -> float:
    """Return the wall time of TRIALS trials of plain in-memory Optuna."""
    study = _study()
    start = time.perf_counter()
    study.optimize(objective, n_trials=TRIALS)
    return time.perf_counter() - start


def perennia_seconds() -> tuple[float, list]:
    """Return the wall time of `tune` for TRIALS trials into a fresh SQLite store, and its values."""
    import optuna

    import perennia
    from perennia.automation.tune import tune

    folder = fresh_dir("tune")
    perennia.set_tracking_uri(f"sqlite:///{folder / 'perennia.db'}")
    perennia.set_artifacts_uri(folder / "artifacts")
    perennia.set_experiment("tune")  # the store is created and migrated before the clock starts
    start = time.perf_counter()
    result = tune(
        objective,
        n_trials=TRIALS,
        sampler=optuna.samplers.TPESampler(seed=SEED),
        pruner=optuna.pruners.NopPruner(),
        log_best_model=False,
    )
    seconds = time.perf_counter() - start
    return seconds, [t.value for t in result.study.trials]


def mlflow_seconds() -> tuple[float, list]:
    """Return the wall time of Optuna + MLflowCallback for TRIALS trials into a fresh SQLite store."""
    import mlflow
    from optuna_integration.mlflow import MLflowCallback

    quiet_mlflow()
    folder = fresh_dir("tune-mlflow")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    study = _study()
    # Create the store and the study's experiment before the clock starts, as for Perennia.
    mlflow.create_experiment(study.study_name, artifact_location=(folder / "art").as_uri())
    with warnings.catch_warnings():
        # Deprecated since Optuna 4.9 but still the integration MLflow users run; it works.
        warnings.simplefilter("ignore", FutureWarning)
        callback = MLflowCallback(tracking_uri=uri, metric_name="value")
    start = time.perf_counter()
    study.optimize(objective, n_trials=TRIALS, callbacks=[callback])
    seconds = time.perf_counter() - start
    return seconds, [t.value for t in study.trials]


def main() -> list[Result]:
    """Return the per-trial overhead comparison."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    plain, ours, theirs = [], [], []
    reference = None
    for _ in range(REPEATS):
        # Interleaved, so a slow patch of a shared machine hits all three alike.
        plain.append(plain_seconds())
        seconds, values = perennia_seconds()
        ours.append(seconds)
        seconds, mlflow_values = mlflow_seconds()
        theirs.append(seconds)
        if reference is None:
            reference = values
        # Same sampler and seed: every tool must have run exactly the same trials.
        assert values == reference == mlflow_values, "the tools ran different trials"
    base = statistics.median(plain)
    ours_overhead = max(statistics.median(ours) - base, 1e-9) / TRIALS
    theirs_overhead = max(statistics.median(theirs) - base, 1e-9) / TRIALS
    note = (
        f"per trial: plain optuna {base / TRIALS * 1000:.2f} ms, perennia tune "
        f"{statistics.median(ours) / TRIALS * 1000:.2f} ms, optuna+MLflowCallback "
        f"{statistics.median(theirs) / TRIALS * 1000:.2f} ms ({TRIALS} trials, median of {REPEATS}); "
        "perennia also records 5 intermediate values per trial and a parent run"
    )
    return [
        Result(
            f"tune: tracking overhead per trial ({TRIALS} trials)",
            ours_overhead,
            theirs_overhead,
            "s",
            "optuna + MLflowCallback",
            ">= 3x",
            theirs_overhead >= 3 * ours_overhead,
            note,
        )
    ]


if __name__ == "__main__":
    emit(main())
