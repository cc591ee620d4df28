"""Scheduled monitors in `perennia server`: one runner per monitor across every replica.

Each server process runs a `MonitorScheduler` thread. Every `interval` seconds it asks the store
for monitors whose next run is due, and the store hands each to one caller only (a lease in the
database, so replicas behind a load balancer never run one monitor twice at a time; a replica
that dies mid-run loses its lease when it expires and another takes over). After a run, the
lease is released with the next run time, `schedule_ms` later.
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any

from perennia.clock import now_ms
from perennia.monitoring.monitors.runner import run_monitor

log = logging.getLogger(__name__)
LEASE_MS = 15 * 60 * 1000


class MonitorScheduler:
    """A daemon thread running due monitors every `interval` seconds until stopped."""

    def __init__(
        self,
        store: Any,
        location: str | None = None,
        interval: float = 10.0,
        settings: Any = None,
    ) -> None:
        self.store = store
        self.location = location
        self.settings = settings  # where references are read; the environment's when None
        self._client: Any = None
        self.interval = interval
        self.owner = f"scheduler-{uuid.uuid4().hex[:12]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="perennia-monitors", daemon=True)

    def start(self) -> MonitorScheduler:
        """Start the thread; return the scheduler."""
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the thread to stop after its current monitor; wait up to `timeout` seconds."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def run_due(self) -> list[str]:
        """Return the names of the due monitors this replica claimed and ran, once."""
        ran = []
        for monitor in self.store.monitors.claim_due_monitors(now_ms(), self.owner, LEASE_MS, 10):
            try:
                run_monitor(
                    monitor.name, store=self.store, location=self.location, client=self.client()
                )
                ran.append(monitor.name)
            except Exception:  # noqa: BLE001 - one broken monitor must not stop the others
                log.exception("monitor %s failed; it runs again at its next schedule", monitor.name)
            finally:
                next_run = now_ms() + (monitor.schedule_ms or LEASE_MS)
                self.store.monitors.release_monitor(monitor.name, self.owner, next_run)
        return ran

    def client(self) -> Any:
        """Return the tracking Client references are read with, made on first use."""
        if self._client is None and self.settings is not None:
            from perennia.tracking.client import Client

            self._client = Client(settings=self.settings)
        return self._client

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_due()
            except Exception:  # noqa: BLE001 - a database hiccup must not end the thread
                log.exception("the monitor scheduler could not claim due monitors")
            self._stop.wait(self.interval)
