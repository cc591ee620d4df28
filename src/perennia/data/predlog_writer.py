"""The prediction log's writer: a bounded queue drained by one thread into Parquet parts.

`record` turns a batch into an Arrow table on the caller's thread (a few array operations, no
per-row Python), then appends it under a lock that is never held during I/O, so the response
path never waits for storage. The thread writes one part per (deployment, UTC date) per flush.
A part that fails to write keeps its key and rows and is retried first on the next flush; as the
key stays the same, a write that succeeded but reported an error is overwritten by its retry
instead of duplicated, so each row lands exactly once.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from typing import Any

from perennia.data.predlog_build import build_table, check_batch
from perennia.data.predlog_format import DAY_MS, PredictionBatch, prediction_key
from perennia.data.predlog_sinks import open_sink
from perennia.errors import InvalidInput

logger = logging.getLogger(__name__)


class PredictionLogWriter:
    """Records prediction batches in the background; `close()` (or interpreter exit) flushes.

    The writer keeps references to a recorded batch's lists and arrays until they are written:
    do not modify them after `record`.
    """

    def __init__(
        self,
        location: str,
        *,
        max_queued_rows: int = 1_000_000,
        flush_rows: int = 50_000,
        flush_interval_s: float = 1.0,
        client: Any = None,
    ) -> None:
        for label, value in (("max_queued_rows", max_queued_rows), ("flush_rows", flush_rows)):
            if not isinstance(value, int) or value <= 0:
                raise InvalidInput(f"{label}={value!r} must be a positive integer")
        if not flush_interval_s > 0:
            raise InvalidInput(f"flush_interval_s={flush_interval_s!r} must be positive seconds")
        self.location = location
        self._sink = open_sink(location, client)
        self._max_queued = max_queued_rows
        self._flush_rows = flush_rows
        self._interval = float(flush_interval_s)
        self._cond = threading.Condition(threading.Lock())
        self._items: list[PredictionBatch] = []  # in record order
        self._new_rows = 0  # rows in _items
        self._queued = 0  # rows in _items and in failed parts awaiting a retry
        self._failed_parts: list[tuple[str, Any]] = []  # (key, table), owned by the thread
        self._written = 0
        self._dropped = 0
        self._failed = 0
        self._requested = 0  # flush requests made
        self._served = 0  # flush requests whose rows were attempted
        self._last_ok = True
        self._stopping = False
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="perennia-predlog", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    @property
    def queued_rows(self) -> int:
        """Return the rows recorded but not yet written (including ones awaiting a retry)."""
        return self._queued

    @property
    def written_rows(self) -> int:
        """Return the rows written to the log so far."""
        return self._written

    @property
    def dropped_rows(self) -> int:
        """Return the rows refused because the queue was full or the writer closed."""
        return self._dropped

    @property
    def failed_rows(self) -> int:
        """Return the rows in write attempts that failed (a row retried twice counts twice)."""
        return self._failed

    def record(self, batch: PredictionBatch) -> bool:
        """Return True if the batch was queued, False (counted as dropped) if the queue is full."""
        rows = check_batch(batch)
        if rows == 0:
            return True
        with self._cond:
            if self._closed or self._stopping or self._queued + rows > self._max_queued:
                self._dropped += rows
                return False
            self._items.append(batch)
            self._new_rows += rows
            self._queued += rows
            if self._new_rows >= self._flush_rows and self._new_rows - rows < self._flush_rows:
                self._cond.notify_all()
        return True

    def flush(self, timeout: float | None = None) -> bool:
        """Return True once every row recorded before the call is written; False on timeout or error."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            if not self._thread.is_alive():
                return self._queued == 0
            self._requested += 1
            target = self._requested
            self._cond.notify_all()
            while self._served < target and self._thread.is_alive():
                remaining = 1.0 if deadline is None else min(1.0, deadline - time.monotonic())
                if remaining <= 0:
                    return False
                # Bounded waits: a thread that died without notifying must not hang the caller.
                self._cond.wait(remaining)
            return self._served >= target and self._last_ok

    def close(self, timeout: float | None = None) -> None:
        """Flush what is queued, then stop the thread (later calls do nothing)."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._stopping = True
            self._cond.notify_all()
        atexit.unregister(self.close)
        self._thread.join(timeout)
        if self._queued:
            logger.error(
                "prediction log %s: %d rows could not be written and are lost",
                self.location,
                self._queued,
            )

    def __enter__(self) -> PredictionLogWriter:
        """Return the writer itself, closed (so flushed) when the block ends."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the writer, flushing what is queued."""
        self.close()

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._wants_wait():
                    self._cond.wait(self._interval)
                items, self._items, self._new_rows = self._items, [], 0
                target, stopping = self._requested, self._stopping
            ok = self._write(items)
            with self._cond:
                self._served, self._last_ok = target, ok
                self._cond.notify_all()
            if stopping:
                return

    def _wants_wait(self) -> bool:
        """Return True when nothing asks for a write before the interval ends."""
        return (
            not self._stopping
            and self._requested == self._served
            and self._new_rows < self._flush_rows
        )

    def _write(self, items: list[PredictionBatch]) -> bool:
        """Write earlier failed parts, then the new batches; return True if nothing failed."""
        parts = self._failed_parts
        try:
            parts = parts + self._parts(items)
        except Exception:  # noqa: BLE001 - the thread must survive anything a batch holds
            # Not a storage error: retrying cannot help, so these rows are dropped, and counted.
            logger.exception("prediction log %s: could not assemble a flush", self.location)
            self._lose(sum(b.rows for b in items))
            return False
        failed: list[tuple[str, Any]] = []
        for key, table in parts:
            try:
                self._sink.write_table(key, table)
            except Exception as error:  # noqa: BLE001 - any storage error: keep rows, retry later
                logger.warning(
                    "prediction log %s: writing %d rows failed (%s); retrying on the next flush",
                    self.location,
                    table.num_rows,
                    error,
                )
                with self._cond:
                    self._failed += table.num_rows
                failed.append((key, table))
                continue
            with self._cond:
                self._written += table.num_rows
                self._queued -= table.num_rows
        self._failed_parts = failed
        return not failed

    def _lose(self, rows: int) -> None:
        """Count rows that can never be written as dropped."""
        with self._cond:
            self._dropped += rows
            self._queued -= rows

    def _table(self, batches: list[PredictionBatch]) -> Any:
        """Return the batches' table; a batch that cannot be built is dropped, not the flush."""
        from perennia.data.predlog_format import concat_tables

        try:
            return build_table(batches, checked=True)
        except Exception:  # noqa: BLE001 - find the bad batch instead of losing all of them
            tables = []
            for batch in batches:
                try:
                    tables.append(build_table([batch]))
                except Exception as error:  # noqa: BLE001
                    logger.error("prediction log %s: dropping a batch: %s", self.location, error)
                    self._lose(batch.rows)
            return concat_tables(tables) if tables else None

    def _parts(self, items: list[PredictionBatch]) -> list[tuple[str, Any]]:
        """Return one (key, table) per deployment and UTC date among the batches."""
        import numpy as np

        by_deployment: dict[str, list[PredictionBatch]] = {}
        for batch in items:
            by_deployment.setdefault(batch.deployment, []).append(batch)
        parts = []
        for deployment, batches in by_deployment.items():
            table = self._table(batches)
            if table is None:
                continue
            table = table.combine_chunks()
            times = table["time_ms"].to_numpy()
            days = times // DAY_MS
            if days.min() == days.max():
                parts.append((prediction_key(deployment, int(days[0]), int(times.min())), table))
                continue
            for day in np.unique(days):
                rows = np.flatnonzero(days == day)
                key = prediction_key(deployment, int(day), int(times[rows].min()))
                parts.append((key, table.take(rows)))
        return parts

    def __repr__(self) -> str:
        """Return the writer's location and backlog."""
        return f"PredictionLogWriter({self.location!r}, queued_rows={self._queued})"
