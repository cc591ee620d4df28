"""The demo's last step: watch the live deployment's traffic against the training data.

The training features' profile is logged with the best model's run (where a monitor of the
registered model finds it), a monitor of the deployment is created and run over the served
traffic, and the same traffic's drift report is written beside the other reports.

The demo serves the same data's held-out rows, but only about 170 of them, each replayed
several times: repeated rows are not independent evidence, so the chance differences between
the two splits can pass the thresholds. The report shows them with their (small) effect sizes;
read it before trusting a verdict drawn from replayed traffic.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import perennia

MONITOR = "breast-cancer-inputs"
HOUR = 3_600_000


@dataclass(frozen=True)
class MonitoringSummary:
    """What the monitor saw: windows, served rows, the verdict, drifted columns, the report."""

    monitor: str
    windows: int
    rows: int
    drifted: bool | None
    drifted_columns: tuple[str, ...]
    report_path: Path

    def line(self) -> str:
        """Return one line for the demo's output."""
        verdict = {None: "not computable", True: "drift", False: "no drift"}[self.drifted]
        moved = f" ({', '.join(self.drifted_columns[:3])})" if self.drifted_columns else ""
        return (
            f"monitor:    {self.monitor}: {self.rows:,} served rows in {self.windows} window(s), "
            f"{verdict}{moved}; report {self.report_path}"
        )


def watch(
    deployment: str,
    log_location: str,
    best_run_id: str,
    model: str,
    version: int,
    data: dict[str, Any],
) -> MonitoringSummary:
    """Profile the training data into the best run, monitor `deployment`, write the drift report."""
    from perennia.clock import now_ms
    from perennia.data.predlog import read_predictions
    from perennia.errors import NotFound
    from perennia.monitoring import (
        create_monitor,
        delete_monitor,
        drift,
        load_reference,
        log_reference_profile,
        run_monitor,
    )

    with perennia.start_run(run_id=best_run_id):
        reference = log_reference_profile(data["X_train"])
    with contextlib.suppress(NotFound):
        delete_monitor(MONITOR)  # a second demo in the same folder starts the monitor afresh
    rule = {
        "name": "InputsDrifted",
        "monitor": MONITOR,
        "value": "drift.share_drifted",
        "op": ">",
        "threshold": 0.25,
    }
    create_monitor(
        MONITOR,
        deployment=deployment,
        reference=reference,
        window="1h",
        model=f"models:/{model}/{version}",
        alerts=[rule],
        channels=[{"type": "log"}],
    )
    # The demo's traffic is minutes old: include the hour it falls in (and its settling time).
    windows = run_monitor(MONITOR, until_ms=now_ms() + 2 * HOUR, location=log_location)
    log = read_predictions(log_location, deployment=deployment).to_pandas()
    served = log[~log["shadow"]]
    inputs = served[[c for c in served.columns if c.startswith("input.")]]
    inputs.columns = [c.removeprefix("input.") for c in inputs.columns]
    report = drift(load_reference(reference), inputs)
    path = perennia.Client().settings.home / "reports" / "drift.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    report.save_html(path, title=f"{deployment}: served traffic against training")
    return MonitoringSummary(
        MONITOR,
        len(windows),
        int(sum(w.values.get("rows") or 0 for w in windows)),
        report.drifted,
        tuple(report.drifted_columns),
        path,
    )
