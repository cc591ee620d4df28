"""One tool's drift run on the shared benchmark data, in a fresh process; prints JSON.

Run by bench_drift.py as `python drift_child.py TOOL ROWS REPEATS`, with TOOL one of
"perennia", "scipy" (the same tests column by column) or "evidently" (DataDriftPreset, run by
the interpreter of Evidently's own virtualenv, which has no Perennia). Each run's time covers
only the comparison: the frames exist before it starts. Peak extra memory is the process's
high-water mark during the first timed run minus its size just before it (Linux: VmHWM reset
through /proc/self/clear_refs).
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import sys
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "bench"


def _status(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def _reset_peak() -> None:
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _perennia(ref, cur):
    from perennia.monitoring.data_drift import drift

    return lambda: drift(ref, cur)


def scipy_statistics(ref, cur):
    import numpy as np
    from scipy.spatial.distance import jensenshannon
    from scipy.stats import chi2_contingency, ks_2samp, wasserstein_distance

    numeric = [c for c in ref.columns if c.startswith("num_")]
    categorical = [c for c in ref.columns if c.startswith("cat_")]

    def run():
        # The statistics Perennia's report holds, each by its usual scipy/numpy call.
        out = {}
        for c in numeric:
            a, b = ref[c].to_numpy(), cur[c].to_numpy()
            edges = np.quantile(a, np.linspace(0, 1, 11))
            p = np.histogram(a, edges)[0] / a.size
            q = np.histogram(b, edges)[0] / b.size
            p, q = np.maximum(p, 1e-4), np.maximum(q, 1e-4)
            out[c] = (
                ks_2samp(a, b, method="asymp").pvalue,
                wasserstein_distance(a, b) / a.std(),
                float(((q - p) * np.log(q / p)).sum()),
            )
        for c in categorical:
            counts_a, counts_b = ref[c].value_counts(), cur[c].value_counts()
            union = counts_a.index.union(counts_b.index)
            table = np.vstack(
                [counts_a.reindex(union, fill_value=0), counts_b.reindex(union, fill_value=0)]
            )
            out[c] = (
                chi2_contingency(table, correction=False).pvalue,
                jensenshannon(table[0], table[1]),
            )
        return out

    return run


def _evidently(ref, cur):
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(
        numerical_columns=[c for c in ref.columns if c.startswith("num_")],
        categorical_columns=[c for c in ref.columns if c.startswith("cat_")],
    )
    ref_ds = Dataset.from_pandas(ref, data_definition=definition)
    cur_ds = Dataset.from_pandas(cur, data_definition=definition)
    return lambda: Report([DataDriftPreset()]).run(cur_ds, ref_ds)


def main() -> None:
    tool, rows, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    sys.path.insert(0, str(SHARED))
    from gen_drift_data import make_frames

    small_ref, small_cur = make_frames(2_000)
    setup = {"perennia": _perennia, "scipy": scipy_statistics, "evidently": _evidently}[tool]
    setup(small_ref, small_cur)()  # imports and first-call costs, outside the measurement
    ref, cur = make_frames(rows)
    run = setup(ref, cur)
    seconds = []
    before = _status("VmRSS")
    _reset_peak()
    for i in range(repeats):
        start = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - start)
        if i == 0:
            peak = _status("VmHWM") - before
    print(
        json.dumps(
            {
                "tool": tool,
                "seconds": seconds,
                "median": statistics.median(seconds),
                "peak_extra_mib": peak,
                "pid": os.getpid(),
            }
        )
    )


if __name__ == "__main__":
    main()
