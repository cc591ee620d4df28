"""Run heartbeats: a live process stamps its RUNNING runs; silence past the timeout means KILLED.

A process killed with SIGKILL runs no cleanup, so the only evidence it died is that its runs
stop being stamped. `reap_stale_runs` turns that silence into the KILLED status.
"""

from __future__ import annotations

import logging
import threading

from perennia.clock import now_ms
from perennia.store.base import Store

logger = logging.getLogger(__name__)


class Heartbeat:
    """A daemon thread that stamps the heartbeat of this process's live runs every `interval` seconds."""

    def __init__(self, store: Store, interval: float) -> None:
        self.store = store
        self.interval = interval
        self._runs: set[str] = set()
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, run_id: str) -> None:
        """Start stamping a run."""
        with self._lock:
            self._runs.add(run_id)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="perennia-heartbeat", daemon=True
                )
                self._thread.start()

    def remove(self, run_id: str) -> None:
        """Stop stamping a run (it ended)."""
        with self._lock:
            self._runs.discard(run_id)

    def beat(self) -> None:
        """Stamp every live run now."""
        with self._lock:
            run_ids = sorted(self._runs)
        if run_ids:
            self.store.runs.heartbeat(run_ids, now_ms())

    def stop(self) -> None:
        """Stop the thread."""
        self._stopped.set()

    def _loop(self) -> None:
        while not self._stopped.wait(self.interval):
            try:
                self.beat()
            except Exception:  # noqa: BLE001 - a missed beat is retried; the timeout allows several
                logger.warning("perennia heartbeat failed; will retry", exc_info=True)


def reap_stale_runs(store: Store, timeout_seconds: float) -> list[str]:
    """Mark runs whose heartbeat is older than the timeout KILLED; return their ids."""
    return store.runs.mark_stale_killed(now_ms() - int(timeout_seconds * 1000))
