"""`perennia server` runs due monitors itself (PERENNIA_MONITOR_SCHEDULING, on by default):
a monitor due when the server starts is claimed, run and released with its next run time."""

from __future__ import annotations

import threading
import time

import pandas as pd
import uvicorn

from perennia.clock import now_ms
from perennia.config import Settings
from perennia.entities.monitoring import Monitor
from perennia.monitoring.profiles import profile
from perennia.server.app import create_app
from perennia.store import open_store
from tests.ports import free_port

HOUR = 3_600_000


def test_the_server_runs_a_due_monitor_and_schedules_its_next_run(sqlite_uri, tmp_path):
    reference = tmp_path / "reference.json"
    reference.write_bytes(profile(pd.DataFrame({"x": [0.0, 1.0, 2.0]})).to_bytes())
    backing = open_store(sqlite_uri)
    before = now_ms()
    backing.monitors.create_monitor(
        Monitor("hourly", str(reference), HOUR, deployment="shop", schedule_ms=HOUR)
    )
    settings = Settings.from_env().with_overrides(
        tracking_uri=sqlite_uri,
        artifacts_uri=str(tmp_path / "artifacts"),
        monitor_scheduling=True,
    )
    config = uvicorn.Config(
        create_app(backing, settings), host="127.0.0.1", port=free_port(), lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        monitor = backing.monitors.get_monitor("hourly")
        while monitor.next_run_ms < before + HOUR // 2 and time.monotonic() < deadline:
            time.sleep(0.1)
            monitor = backing.monitors.get_monitor("hourly")
    finally:
        server.should_exit = True
        thread.join(30)
        backing.close()
    # Run once (nothing logged yet, so no window) and released an hour on.
    assert monitor.next_run_ms >= before + HOUR
    assert monitor.lease_owner is None and monitor.last_window_end_ms is None
