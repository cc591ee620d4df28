"""Shared benchmark plumbing: timing, fresh stores for both tools, and one result shape."""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

# Noisy shared machines: every figure is a median over REPEATS runs unless a benchmark says so.
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))


@dataclass
class Result:
    """One side-by-side comparison: Perennia and the anchor on the same work, same machine."""

    name: str
    perennia: float
    anchor: float
    unit: str  # "s", "MiB" and "%" (lower is better) or "pts/s" (higher is better)
    anchor_name: str
    target: str
    passed: bool
    note: str = ""

    @property
    def ratio(self) -> float:
        """Return how many times better Perennia is than the anchor (>1 means faster)."""
        if self.unit in ("s", "MiB", "%"):
            return self.anchor / self.perennia if self.perennia else float("inf")
        return self.perennia / self.anchor


def median_seconds(fn: Callable[[], object], repeats: int = REPEATS) -> float:
    """Return the median wall time of `fn()` over `repeats` calls."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def fresh_dir(prefix: str) -> Path:
    """Return a new empty folder for one tool's store, removed by the OS's temp cleaning."""
    return Path(tempfile.mkdtemp(prefix=f"perennia-bench-{prefix}-"))


def quiet_mlflow() -> None:
    """Silence MLflow's per-run log lines and telemetry so they do not skew timings."""
    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    import logging

    for name in ("mlflow", "alembic", "sqlalchemy"):
        logging.getLogger(name).setLevel(logging.ERROR)


def use_perennia_store(folder: Path) -> str:
    """Point the Perennia fluent API at an embedded SQLite store in `folder`; return its URI."""
    import perennia

    uri = f"sqlite:///{folder / 'perennia.db'}"
    perennia.set_tracking_uri(uri)
    perennia.set_artifacts_uri(folder / "artifacts")
    return uri


def use_mlflow_store(folder: Path) -> str:
    """Point the MLflow fluent API at a SQLite store in `folder`; return its URI."""
    quiet_mlflow()
    import mlflow

    uri = f"sqlite:///{folder / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    # MLflow's default artifact root for a database store is ./mlruns in the working folder:
    # give the default experiment one inside `folder` so nothing lands in the checkout.
    experiment = "bench"
    if mlflow.get_experiment_by_name(experiment) is None:
        mlflow.create_experiment(experiment, artifact_location=(folder / "mlartifacts").as_uri())
    mlflow.set_experiment(experiment)
    return uri


def _value(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value * 1000:,.1f} ms" if value < 1 else f"{value:,.2f} s"
    if unit == "MiB":
        return f"{value:,.0f} MiB"
    if unit == "%":
        return f"{value:.1f}%"
    return f"{value:,.0f} {unit}"


def emit(results: list[Result]) -> None:
    """Print results as a table, and as JSON to the file named by --json when given."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=None)
    for column in ("benchmark", "perennia", "anchor", "ratio", "target", "ok"):
        table.add_column(column)
    for r in results:
        table.add_row(
            r.name,
            _value(r.perennia, r.unit),
            f"{_value(r.anchor, r.unit)} ({r.anchor_name})",
            f"{r.ratio:,.1f}x",
            r.target,
            "yes" if r.passed else "NO",
        )
    Console(width=130).print(table)
    for r in results:
        if r.note:
            print(f"  {r.name}: {r.note}")
    if "--json" in sys.argv:
        out = Path(sys.argv[sys.argv.index("--json") + 1])
        payload = [asdict(r) | {"ratio": r.ratio} for r in results]
        out.write_text(json.dumps(payload, indent=2))
