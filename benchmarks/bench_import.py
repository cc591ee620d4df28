"""Import time: `import perennia` against `import mlflow`, each in a fresh interpreter."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys

from common import Result, emit

REPEATS = int(os.environ.get("BENCH_IMPORT_REPEATS", "7"))
_PROBE = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"


def import_seconds(module: str) -> float:
    """Return the median seconds `import module` takes in a new interpreter (start-up excluded)."""
    samples = []
    for _ in range(REPEATS):
        out = subprocess.run(
            [sys.executable, "-c", _PROBE.format(module=module)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        samples.append(float(out.strip().splitlines()[-1]))
    return statistics.median(samples)


def main() -> list[Result]:
    """Return the import-time comparison."""
    ours = import_seconds("perennia")
    theirs = import_seconds("mlflow")
    return [
        Result(
            "import",
            ours,
            theirs,
            "s",
            "import mlflow",
            "< 0.3 s",
            ours < 0.3,
            f"median of {REPEATS} fresh interpreters each",
        ),
    ]


if __name__ == "__main__":
    emit(main())
