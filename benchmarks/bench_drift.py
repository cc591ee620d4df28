"""Drift detection on 1,000,000 rows x 25 columns: Perennia against Evidently and scipy.

Data: `../shared/bench/gen_drift_data.py` (20 normal numeric columns, 5 Zipf categorical ones,
nine of them shifted in the current frame), the same frames for every tool.

- Perennia: `perennia.monitoring.data_drift.drift(ref, cur)`, the full per-column report (KS,
  Wasserstein, PSI per numeric column; chi-square, Jensen-Shannon, PSI, new and vanished
  categories per categorical one; missing shares; Benjamini-Hochberg across columns).
- scipy: the same statistics column by column with scipy and numpy's usual calls
  (`ks_2samp(method="asymp")`, `wasserstein_distance`, a quantile-binned PSI,
  `chi2_contingency`, `jensenshannon`).
- Evidently: `Report([DataDriftPreset()]).run(cur, ref)` with an explicit DataDefinition, in its
  own virtualenv (Evidently 0.7 needs pandas < 3): `make bench` creates it and passes its
  interpreter as $EVIDENTLY_PYTHON. Without it, the Evidently rows are skipped with a note.

Each tool runs in a fresh process (drift_child.py), which also reports its peak extra memory.
Then, in this process: a 100,000-row window checked against a stored profile of the 1M-row
reference, against scipy on the same window and reference; and the false-alarm rate over 200
windows of 100,000 rows drawn from the reference distribution (independent seeds), judged
against that profile, next to per-column KS at 0.05 without a correction across columns.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import REPEATS, Result, emit

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared" / "bench"
ROWS = int(os.environ.get("BENCH_DRIFT_ROWS", "1000000"))
WINDOW = int(os.environ.get("BENCH_DRIFT_WINDOW", "100000"))
WINDOWS = int(os.environ.get("BENCH_DRIFT_WINDOWS", "200"))
ANCHOR_REPEATS = int(os.environ.get("BENCH_EVIDENTLY_REPEATS", "1"))


def child(tool: str, python: str, repeats: int) -> dict:
    """Return the JSON a drift_child.py run printed."""
    done = subprocess.run(
        [python, str(HERE / "drift_child.py"), tool, str(ROWS), str(repeats)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def full_report() -> list[Result]:
    """Return the 1M-row comparisons: time against Evidently and scipy, peak memory."""
    ours = child("perennia", sys.executable, REPEATS)
    scipy = child("scipy", sys.executable, 1)
    rows = f"{ROWS:,} rows x 25 columns"
    results = [
        Result(
            f"drift report, {rows}, vs scipy",
            ours["median"],
            scipy["median"],
            "s",
            "scipy column by column",
            ">= 5x faster",
            scipy["median"] >= 5 * ours["median"],
            f"runs {ours['seconds']}",
        ),
    ]
    evidently = os.environ.get("EVIDENTLY_PYTHON")
    if not evidently or not Path(evidently).exists():
        results.append(
            Result(
                f"peak extra memory, {rows}",
                ours["peak_extra_mib"],
                scipy["peak_extra_mib"],
                "MiB",
                "scipy",
                "< 200 MiB",
                ours["peak_extra_mib"] < 200,
                "Evidently not installed (make bench creates .venv-evidently)",
            )
        )
        return results
    anchor = child("evidently", evidently, ANCHOR_REPEATS)
    results.append(
        Result(
            f"drift report, {rows}, vs Evidently",
            ours["median"],
            anchor["median"],
            "s",
            "Evidently DataDriftPreset",
            ">= 50x faster",
            anchor["median"] >= 50 * ours["median"],
            f"Evidently runs {anchor['seconds']}",
        )
    )
    results.append(
        Result(
            f"peak extra memory, {rows}",
            ours["peak_extra_mib"],
            anchor["peak_extra_mib"],
            "MiB",
            "Evidently",
            "< 200 MiB",
            ours["peak_extra_mib"] < 200,
            f"scipy: {scipy['peak_extra_mib']:.0f} MiB",
        )
    )
    return results


def against_profile() -> list[Result]:
    """Return the window-against-profile time and the false-alarm rate on unchanged windows."""
    sys.path.insert(0, str(SHARED))
    from gen_drift_data import make_frames

    from drift_child import scipy_statistics
    from perennia.monitoring.data_drift import drift
    from perennia.monitoring.profiles import DatasetProfile, profile

    ref, cur = make_frames(ROWS)
    stored = profile(ref).to_bytes()
    window = cur.iloc[:WINDOW].reset_index(drop=True)
    drift(DatasetProfile.from_bytes(stored), window.iloc[:1000])

    def check() -> None:
        drift(DatasetProfile.from_bytes(stored), window)

    ours = statistics.median(_timed(check) for _ in range(max(REPEATS, 3)))
    scipy_run = scipy_statistics(ref, window)
    anchor = _timed(scipy_run)
    results = [
        Result(
            f"{WINDOW:,}-row window vs stored profile",
            ours,
            anchor,
            "s",
            f"scipy vs the {ROWS:,}-row reference",
            "< 1 s",
            ours < 1.0,
            f"profile {len(stored) / 2**20:.1f} MiB, includes loading it",
        )
    ]
    results.append(_false_alarms(DatasetProfile.from_bytes(stored), make_frames))
    return results


def _false_alarms(reference, make_frames) -> Result:
    from perennia.monitoring.data_drift import drift

    flagged = naive = 0
    for seed in range(WINDOWS):
        window = make_frames(WINDOW, seed=1_000 + seed)[0]
        report = drift(reference, window)
        flagged += bool(report.drifted)
        # The same tests without a correction across the 25 columns: any p < 0.05 flags.
        naive += any(c.test.p_value < 0.05 for c in report.columns if c.test is not None)
    ours, anchor = 100.0 * flagged / WINDOWS, 100.0 * naive / WINDOWS
    return Result(
        f"false alarms, {WINDOWS} unchanged windows",
        ours,
        anchor,
        "%",
        "per-column p < 0.05, uncorrected",
        "<= 5%",
        ours <= 5.0,
        f"{flagged} of {WINDOWS} windows of {WINDOW:,} rows flagged",
    )


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    emit(full_report() + against_profile())


if __name__ == "__main__":
    main()
