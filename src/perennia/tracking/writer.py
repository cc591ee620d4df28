"""The background batching writer: metric, param and tag calls return in microseconds.

Calls append to in-memory columns; a daemon thread writes them to the store in one transaction
per run per batch, when `batch_size` points wait or `flush_interval` seconds pass, and callers
can `flush()` at any time. A write error is kept and raised at the caller's next call or flush,
never swallowed; data whose write failed for a transient reason (a locked or unreachable
database) stays queued and is retried.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from perennia.entities import MetricBatch, Param, RunTag
from perennia.errors import Conflict, PerenniaError
from perennia.store.base import Store

logger = logging.getLogger(__name__)


@dataclass
class _Pending:
    metrics: MetricBatch = field(default_factory=MetricBatch)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    def merge_older(self, older: _Pending) -> None:
        """Put a batch that failed to write back in front of what arrived since."""
        older.metrics.extend(self.metrics)
        self.metrics = older.metrics
        self.params = {**older.params, **self.params}
        self.tags = {**older.tags, **self.tags}


class BatchingWriter:
    """Queues metrics, params and tags per run and writes them to a `Store` in batches."""

    def __init__(
        self,
        store: Store,
        *,
        batch_size: int = 5_000,
        flush_interval: float = 1.0,
        synchronous: bool = False,
    ) -> None:
        self.store = store
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.synchronous = synchronous
        self._lock = threading.Lock()  # guards the queue
        self._write_lock = threading.Lock()  # one writer at a time keeps batches in order
        self._pending: dict[str, _Pending] = {}
        self._count = 0
        self._error: BaseException | None = None
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the calls users make -------------------------------------------------------------

    def log_metric(self, run_id: str, key: str, value: float, step: int, timestamp: int) -> None:
        """Queue one validated metric point."""
        if self._error is not None:
            self._raise_error()
        with self._lock:
            pending = self._pending.get(run_id)
            if pending is None:
                pending = self._pending[run_id] = _Pending()
            metrics = pending.metrics
            metrics.keys.append(key)
            metrics.values.append(value)
            metrics.steps.append(step)
            metrics.timestamps.append(timestamp)
            self._count += 1
            full = self._count >= self.batch_size
        self._after_enqueue(full)

    def log_metrics(self, run_id: str, batch: MetricBatch) -> None:
        """Queue a validated batch of points."""
        if self._error is not None:
            self._raise_error()
        with self._lock:
            pending = self._pending.get(run_id)
            if pending is None:
                pending = self._pending[run_id] = _Pending()
            pending.metrics.extend(batch)
            self._count += len(batch)
            full = self._count >= self.batch_size
        self._after_enqueue(full)

    def log_params(self, run_id: str, params: dict[str, str]) -> None:
        """Queue validated params; Conflict at once if one contradicts a value queued earlier."""
        if self._error is not None:
            self._raise_error()
        with self._lock:
            pending = self._pending.get(run_id)
            if pending is None:
                pending = self._pending[run_id] = _Pending()
            for key, value in params.items():
                old = pending.params.get(key)
                if old is not None and old != value:
                    raise Conflict(
                        f"param {key!r} of run {run_id!r} is already {old!r} and cannot change to {value!r}; "
                        "params are immutable: use a new key, a tag, or a new run"
                    )
            pending.params.update(params)
            self._count += len(params)
            full = self._count >= self.batch_size
        self._after_enqueue(full)

    def set_tags(self, run_id: str, tags: dict[str, str]) -> None:
        """Queue validated tags (a later value for a key overwrites an earlier one)."""
        if self._error is not None:
            self._raise_error()
        with self._lock:
            pending = self._pending.get(run_id)
            if pending is None:
                pending = self._pending[run_id] = _Pending()
            pending.tags.update(tags)
            self._count += len(tags)
            full = self._count >= self.batch_size
        self._after_enqueue(full)

    def flush(self, run_id: str | None = None) -> None:
        """Write everything queued (for one run, or all) now; raise any pending write error."""
        self._drain(run_id)
        if self._error is not None:
            self._raise_error()

    def close(self) -> None:
        """Flush and stop the background thread."""
        self._stopped.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)
        self.flush()

    # -- machinery ------------------------------------------------------------------------

    def _after_enqueue(self, full: bool) -> None:
        if self.synchronous:
            self.flush()
        elif self._thread is None:
            self._start()
        elif full and not self._wake.is_set():
            # Setting an Event takes its lock; while a slow batch is in flight every call
            # would pay for it, so only the first call over the limit wakes the thread.
            self._wake.set()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="perennia-writer", daemon=True
                )
                self._thread.start()
        if self._count >= self.batch_size:
            self._wake.set()

    def _loop(self) -> None:
        while not self._stopped.is_set():
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            try:
                self._drain(None)
            except BaseException:  # noqa: BLE001 - _drain records errors itself; the thread must live
                logger.exception("perennia writer thread failed")

    def _take(self, run_id: str | None) -> dict[str, _Pending]:
        with self._lock:
            if run_id is None:
                taken, self._pending, self._count = self._pending, {}, 0
            else:
                pending = self._pending.pop(run_id, None)
                taken = {run_id: pending} if pending is not None else {}
                if pending is not None:
                    self._count -= len(pending.metrics) + len(pending.params) + len(pending.tags)
            return taken

    def _requeue(self, run_id: str, failed: _Pending) -> None:
        with self._lock:
            current = self._pending.get(run_id)
            if current is None:
                self._pending[run_id] = failed
            else:
                current.merge_older(failed)
            self._count += len(failed.metrics) + len(failed.params) + len(failed.tags)

    def _drain(self, run_id: str | None) -> None:
        with self._write_lock:
            for rid, pending in self._take(run_id).items():
                try:
                    self._write(rid, pending)
                except PerenniaError as error:
                    # A permanent refusal (unknown or deleted run, bad value): retrying cannot help.
                    self._error = error
                except Exception as error:  # noqa: BLE001 - database or network trouble: keep the data
                    self._requeue(rid, pending)
                    self._error = error

    def _write(self, run_id: str, pending: _Pending) -> None:
        params = [Param(k, v) for k, v in pending.params.items()]
        tags = [RunTag(k, v) for k, v in pending.tags.items()]
        metrics = pending.metrics if len(pending.metrics) else None
        try:
            self.store.log_batch(run_id, metrics, params, tags)
        except Conflict:
            if not params:
                raise
            # Keep the metrics and tags even when a param conflicts with one stored by another process.
            self.store.log_batch(run_id, metrics, (), tags)
            # Written: a transient failure below must requeue only the params, not duplicate points.
            pending.metrics, pending.tags = MetricBatch(), {}
            self._write_params_one_by_one(run_id, pending)

    def _write_params_one_by_one(self, run_id: str, pending: _Pending) -> None:
        """Store every queued param that does not conflict, then raise the first Conflict."""
        first: Conflict | None = None
        for key, value in list(pending.params.items()):
            try:
                self.store.log_batch(run_id, None, [Param(key, value)], ())
            except Conflict as error:
                first = first or error
            del pending.params[key]
        if first is not None:
            raise first

    def _raise_error(self) -> None:
        error, self._error = self._error, None
        if error is not None:
            raise error
