"""Model serving: `mlflow models serve` and `perennia serve` on the same model and load.

The model is one scikit-learn pipeline (StandardScaler + LogisticRegression over 10 numeric
columns), saved once as an MLflow model and once as a Perennia package. Both servers are
started from the command line with one worker, and the same closed-loop generator
(`load.py`, raw asyncio keep-alive connections) posts the same one-row `dataframe_split`
request at concurrency 8 and 64. Also measured on Perennia alone, each against itself in the
same run: adaptive batching on vs off at c=64, prediction logging on vs off, and the p99 of a
deployment with a shadow variant vs without. Then the acceptance run: a long run at
saturation whose every prediction must be in the prediction log exactly once, and a hot swap
(the deployment switched to another version mid-load) that must drop no request.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from common import REPEATS, Result, emit, fresh_dir, quiet_mlflow
from load import run_load
from server_processes import Server

SECONDS = float(os.environ.get("BENCH_SERVING_SECONDS", "8"))
SATURATION_SECONDS = float(os.environ.get("BENCH_SERVING_SATURATION_SECONDS", "60"))
COLUMNS = [f"x{i}" for i in range(10)]
BIN = os.path.dirname(sys.executable)


def train(folder: Path):
    """Return (the fitted pipeline, a one-row request body) and save both model formats."""
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(2000, 10)), columns=COLUMNS)
    target = (frame["x0"] + frame["x1"] > 0).astype(int)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(frame, target)
    row = frame.iloc[:1]
    body = json.dumps({"dataframe_split": {"columns": COLUMNS, "data": row.values.tolist()}})
    return model, frame, body.encode()


def save_models(model, frame, folder: Path) -> tuple[Path, Path]:
    """Return the folders of the MLflow model and the Perennia package of `model`."""
    quiet_mlflow()
    import mlflow.sklearn
    from mlflow.models import infer_signature

    import perennia.models

    mlflow_path = folder / "mlflow-model"
    mlflow.sklearn.save_model(
        model, mlflow_path, signature=infer_signature(frame, model.predict(frame))
    )
    perennia_path = folder / "perennia-model"
    perennia.models.save(model, perennia_path, signature="infer", input_example=frame.iloc[:5])
    return mlflow_path, perennia_path


def mlflow_serve(path: Path) -> Server:
    """Return a running `mlflow models serve` of the model at `path` (one worker)."""
    return Server(
        [
            os.path.join(BIN, "mlflow"),
            "models",
            "serve",
            "-m",
            str(path),
            "--env-manager",
            "local",
            "--host",
            "127.0.0.1",
            "-w",
            "1",
        ],
        # MLflow starts `uvicorn` by name through bash: the venv's bin must be on PATH.
        env={"PATH": f"{BIN}:{os.environ.get('PATH', '')}"},
    )


def perennia_serve(target: list[str], *extra: str, env: dict[str, str] | None = None) -> Server:
    """Return a running `perennia serve` (one worker) with the given arguments."""
    return Server([os.path.join(BIN, "perennia"), "serve", *target, *extra], env=env)


def measure(server: Server, body: bytes, concurrency: int, seconds: float = SECONDS):
    """Return the median-throughput load result of REPEATS runs against `server`."""
    run_load("127.0.0.1", server.port, "/invocations", body, concurrency=concurrency, seconds=1)
    runs = [
        run_load("127.0.0.1", server.port, "/invocations", body, concurrency=c, seconds=seconds)
        for c in [concurrency] * REPEATS
    ]
    runs.sort(key=lambda r: r.rps)
    return runs[len(runs) // 2]


def compare_mlflow(mlflow_path: Path, package: Path, body: bytes, folder: Path) -> list[Result]:
    """Return throughput and p99 of both servers at c=8 and c=64."""
    results = []
    anchor = mlflow_serve(mlflow_path)
    try:
        mlflow_runs = {c: measure(anchor, body, c) for c in (8, 64)}
    finally:
        anchor.stop()
    ours = perennia_serve([str(package)], "--log-location", str(folder / "predlog"))
    try:
        our_runs = {c: measure(ours, body, c) for c in (8, 64)}
    finally:
        ours.stop()
    for c in (8, 64):
        theirs, mine = mlflow_runs[c], our_runs[c]
        note = (
            f"c={c}: perennia {mine.rps:,.0f} req/s p50 {mine.p50:.1f} ms p99 {mine.p99:.1f} ms, "
            f"errors {mine.errors}; mlflow {theirs.rps:,.0f} req/s p50 {theirs.p50:.1f} ms "
            f"p99 {theirs.p99:.1f} ms, errors {theirs.errors}"
        )
        ratio = mine.rps / theirs.rps
        results.append(
            Result(
                f"serve throughput c={c}",
                mine.rps,
                theirs.rps,
                "req/s",
                "mlflow serve",
                ">= 5x",
                ratio >= 5 and mine.errors == 0,
                note,
            )
        )
        results.append(
            Result(
                f"serve p99 c={c}",
                mine.p99 / 1000,
                theirs.p99 / 1000,
                "s",
                "mlflow serve",
                "<= 1/5",
                theirs.p99 / mine.p99 >= 5,
            )
        )
    return results


def compare_batching(package: Path, body: bytes) -> list[Result]:
    """Return adaptive batching on vs off at c=64 and logging on vs off at c=64."""
    runs = {}
    for label, extra in (
        ("batched", []),
        ("unbatched", ["--no-batching"]),
        ("batched, no log", ["--no-log"]),
    ):
        folder = fresh_dir("serve-log")
        server = perennia_serve([str(package)], "--log-location", str(folder), *extra)
        try:
            runs[label] = measure(server, body, 64)
        finally:
            server.stop()
    batched, unbatched, unlogged = runs["batched"], runs["unbatched"], runs["batched, no log"]
    cost = 1 - batched.rps / unlogged.rps
    return [
        Result(
            "adaptive batching c=64",
            batched.rps,
            unbatched.rps,
            "req/s",
            "perennia unbatched",
            ">= 3x",
            batched.rps >= 3 * unbatched.rps,
            f"unbatched p99 {unbatched.p99:.1f} ms, batched p99 {batched.p99:.1f} ms",
        ),
        Result(
            "prediction log cost c=64",
            batched.rps,
            unlogged.rps,
            "req/s",
            "perennia without log",
            "cost <= 10%",
            cost <= 0.10,
            f"throughput cost of logging {cost:.1%}",
        ),
    ]


def main() -> None:
    """Run the serving comparisons and print them."""
    folder = fresh_dir("serving")
    model, frame, body = train(folder)
    mlflow_path, package = save_models(model, frame, folder)
    results = compare_mlflow(mlflow_path, package, body, folder)
    results += compare_batching(package, body)
    from bench_serving_deployments import deployment_results

    results += deployment_results(model, frame, body, folder)
    emit(results)


if __name__ == "__main__":
    main()
