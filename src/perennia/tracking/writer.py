"""The background batching writer: metric, param and tag calls return in microseconds.

Calls append to in-memory columns; a daemon thread writes them to the store in one transaction
per run per batch, when `batch_size` points wait or `flush_interval` seconds pass, and callers
can `flush()` at any time. A permanent refusal (unknown run, conflicting param) is kept and
raised at the caller's next call or flush, never swallowed. Data whose write failed for a
transient reason (a locked or unreachable database, a server answering 503) stays queued, in
order, and is retried; `flush()` raises that error while the data waits. At most `max_queued`
points, params and tags wait: past that, logging calls raise `StoreUnavailable`.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from perennia.entities import MetricBatch, Param, RunTag
from perennia.errors import Conflict, PerenniaError, StoreUnavailable
from perennia.store.base import Store

logger = logging.getLogger(__name__)


@dataclass
class _Pending:
    metrics: MetricBatch = field(default_factory=MetricBatch)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    def size(self) -> int:
        """Return how many points, params and tags wait here."""
        return len(self.metrics) + len(self.params) + len(self.tags)

    def merge_older(self, older: _Pending) -> list[str]:
        """Put a batch that failed to write back in front of what arrived since.

        Return the keys of params queued since with a value contradicting the older batch's:
        the older value stays (it was logged first) and the caller reports the conflict.
        """
        older.metrics.extend(self.metrics)
        self.metrics = older.metrics
        clashes = [k for k, v in self.params.items() if older.params.get(k, v) != v]
        self.params = {**self.params, **older.params}
        self.tags = {**older.tags, **self.tags}  # tags are mutable: the newer value wins
        return clashes


def _is_transient(error: BaseException) -> bool:
    """Return whether a failed write may succeed later, so its data must stay queued."""
    # A PerenniaError other than StoreUnavailable is the store's considered refusal of the data
    # (unknown or deleted run, bad value, conflicting param): retrying cannot help.
    return isinstance(error, StoreUnavailable) or not isinstance(error, PerenniaError)


class BatchingWriter:
    """Queues metrics, params and tags per run and writes them to a `Store` in batches."""

    def __init__(
        self,
        store: Store,
        *,
        batch_size: int = 5_000,
        flush_interval: float = 1.0,
        synchronous: bool = False,
        max_queued: int = 2_000_000,
    ) -> None:
        self.store = store
        self.max_queued = max_queued
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.synchronous = synchronous
        self._lock = threading.Lock()  # guards the queue and the counts
        self._write_lock = threading.Lock()  # one writer at a time keeps batches in order
        self._pending: dict[str, _Pending] = {}
        self._count = 0  # items waiting in _pending
        # How many may wait: max_queued less the items a write in flight holds, so the hot path
        # checks the memory bound with one comparison.
        self._limit = max_queued
        self._error: BaseException | None = None
        # The transient failures of writes so far, the last of them, and when the current run
        # of failures began (None while writes succeed).
        self._failures = 0
        self._last_failure: BaseException | None = None
        self._failing_since: float | None = None
        self._last_success = time.monotonic()
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the calls users make -------------------------------------------------------------

    def log_metric(self, run_id: str, key: str, value: float, step: int, timestamp: int) -> None:
        """Queue one validated metric point."""
        if self._error is not None:
            self._raise_error()
        with self._lock:
            if self._count >= self._limit:
                raise self._full(1)
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
            if self._count + len(batch) > self._limit:
                raise self._full(len(batch))
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
            added = 0
            for key, value in params.items():
                old = pending.params.get(key)
                if old is None:
                    added += 1
                elif old != value:
                    raise Conflict(
                        f"param {key!r} of run {run_id!r} is already {old!r} and cannot change to {value!r}; "
                        "params are immutable: use a new key, a tag, or a new run"
                    )
            if self._count + added > self._limit:
                raise self._full(added)
            pending.params.update(params)
            self._count += added
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
            added = sum(1 for key in tags if key not in pending.tags)
            if self._count + added > self._limit:
                raise self._full(added)
            pending.tags.update(tags)
            self._count += added
            full = self._count >= self.batch_size
        self._after_enqueue(full)

    def flush(self, run_id: str | None = None) -> None:
        """Write everything queued (for one run, or all) now; raise any pending write error.

        While the store is unreachable this waits as long as the store retries a request, then
        raises `StoreUnavailable` with the data still queued: a later flush can write it.
        """
        seen = self._failures
        with self._write_lock:
            # When a write in flight as flush began spent its retries while we waited, the store
            # is still unreachable: a second retry window would only double the wait.
            failure = self._last_failure if self._failures != seen else self._drain_locked(run_id)
        if self._error is not None:
            self._raise_error()
        if failure is not None:
            raise self._still_queued(failure)

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
                failure = self._drain(None)
            except BaseException:  # noqa: BLE001 - _drain records errors itself; the thread must live
                logger.exception("perennia writer thread failed")
                continue
            if failure is not None:
                logger.warning(
                    "perennia writer: %d queued points, params and tags wait for the store "
                    "and will be retried: %s",
                    self._count,
                    failure,
                )

    def _take(self, run_id: str | None) -> dict[str, tuple[_Pending, int]]:
        """Remove what waits (for one run, or all) and return it with each run's item count."""
        with self._lock:
            if run_id is None:
                taken, self._pending = self._pending, {}
            else:
                pending = self._pending.pop(run_id, None)
                taken = {run_id: pending} if pending is not None else {}
            sized = {rid: (pending, pending.size()) for rid, pending in taken.items()}
            held = sum(size for _, size in sized.values())
            self._count -= held
            self._limit -= held  # in flight, still in memory: it counts against the bound
            return sized

    def _release(self, held: int) -> None:
        with self._lock:
            self._limit += held

    def _requeue(self, run_id: str, failed: _Pending, held: int) -> None:
        with self._lock:
            current = self._pending.get(run_id)
            if current is None:
                self._pending[run_id] = failed
                self._count += failed.size()
            else:
                before = current.size()
                clashes = current.merge_older(failed)
                self._count += current.size() - before
                if clashes and self._error is None:
                    key = clashes[0]
                    self._error = Conflict(
                        f"param {key!r} of run {run_id!r} was queued as {failed.params[key]!r} "
                        f"and again as another value while the store was unavailable; "
                        f"{failed.params[key]!r} is kept: params are immutable"
                    )
            self._limit += held

    def _drain(self, run_id: str | None) -> BaseException | None:
        """Write what is queued; return the transient error that left data queued, if any."""
        with self._write_lock:
            return self._drain_locked(run_id)

    def _drain_locked(self, run_id: str | None) -> BaseException | None:
        taken = list(self._take(run_id).items())
        for index, (rid, (pending, held)) in enumerate(taken):
            try:
                self._write(rid, pending)
            except BaseException as error:
                if not _is_transient(error):
                    # A permanent refusal: retrying cannot help, so the batch goes and the
                    # caller hears of it at its next call or flush.
                    self._error = error
                    self._release(held)
                    continue
                # Keep this run's unwritten rest and every run not tried yet, in order; the
                # others would only wait out the same outage one after another.
                for later_rid, (later, later_held) in taken[index:]:
                    self._requeue(later_rid, later, later_held)
                self._failures += 1
                self._last_failure = error
                if self._failing_since is None:
                    self._failing_since = time.monotonic()
                if not isinstance(error, Exception):
                    raise  # KeyboardInterrupt during a flush: the data stays queued
                return error
            self._release(held)
        if taken:  # an empty drain says nothing about whether the store answers
            self._failing_since = None
            self._last_success = time.monotonic()
        return None

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
        """Store every queued param that does not conflict, then raise the first Conflict.

        A stored or refused param leaves `pending` at once, so a transient failure midway
        requeues only the params not yet tried.
        """
        first: Conflict | None = None
        for key, value in list(pending.params.items()):
            try:
                self.store.log_batch(run_id, None, [Param(key, value)], ())
            except Conflict as error:
                first = first or error
            except BaseException:
                if first is not None and self._error is None:
                    self._error = first  # refused already: report it though the rest waits
                raise
            del pending.params[key]
        if first is not None:
            raise first

    def _full(self, adding: int) -> StoreUnavailable:
        """Return the error a logging call raises when the queue would pass `max_queued`."""
        idle = time.monotonic() - self._last_success
        if self._failing_since is not None or idle >= 2.0:
            last = f": {self._last_failure}" if self._failing_since is not None else ""
            why = f"the tracking store has been unreachable for {idle:.0f}s{last}"
        else:
            why = "the tracking store accepts writes more slowly than they are logged"
        return StoreUnavailable(
            f"cannot queue {adding} more metric points, params or tags: the writer holds "
            f"{self.max_queued - self._limit + self._count}, its bound "
            f"(PERENNIA_WRITER_MAX_QUEUED={self.max_queued}), because {why}; "
            "nothing queued is lost: retry the call later, or flush"
        )

    def _still_queued(self, failure: BaseException) -> BaseException:
        """Return what flush raises when a transient failure left data queued."""
        if not isinstance(failure, StoreUnavailable):
            return failure  # a local database's own error (locked, unreachable) says it best
        error = StoreUnavailable(
            f"{failure}; {self._count} metric points, params and tags stay queued "
            "and a later flush writes them"
        )
        error.__cause__ = failure
        return error

    def _raise_error(self) -> None:
        error, self._error = self._error, None
        if error is not None:
            raise error
