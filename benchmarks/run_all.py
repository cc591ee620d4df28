"""Run every benchmark in its own interpreter and print one side-by-side table of ratios.

Each `bench_*.py` runs in a fresh process so that one tool's imports, caches and threads
cannot slow down the next measurement. Results also go to benchmarks/results/latest.json.
Exit status is 1 when a target is missed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = (
    "bench_import",
    "bench_ingest",
    "bench_runs",
    "bench_tune",
    "bench_search",
    "bench_scale",
    "bench_history",
    "bench_server",
    "bench_metrics",
    "bench_data_validation",
    "bench_data_join",
    "bench_data_folders",
    "bench_data_dedup",
    "bench_models",
    "bench_serving",
    "bench_drift",
    "bench_pipeline_hash",
)


def run_one(name: str) -> list[dict]:
    """Return the results of one benchmark script, run in a child interpreter."""
    # The child works in a scratch folder: whatever a tool writes by default into its working
    # folder (MLflow's ./mlruns, ./mlartifacts) never lands in the checkout.
    with tempfile.TemporaryDirectory(prefix="perennia-bench-") as scratch:
        out = Path(scratch) / "results.json"
        print(f"== {name}", flush=True)
        subprocess.run(
            [sys.executable, str(HERE / f"{name}.py"), "--json", str(out)], check=True, cwd=scratch
        )
        return json.loads(out.read_text())


def main() -> int:
    """Run all benchmarks; return the process exit status."""
    sys.path.insert(0, str(HERE))
    from common import Result, emit

    payload = [row for name in ORDER for row in run_one(name)]
    results = [Result(**{k: v for k, v in row.items() if k != "ratio"}) for row in payload]
    print("\n== summary (medians; ratio > 1 means Perennia is faster)")
    emit(results)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "latest.json").write_text(json.dumps(payload, indent=2))
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
