"""The shadow's runner: copies of live requests, predicted in large batches at a slow cadence.

A shadow's answers are only logged, so nobody waits for them. Predicting each copy as it comes
(or in the small batches a live variant uses) takes the GIL as often as the primary does and
measured +20% on the primary's p99 at 8 clients. Gathering copies for `interval_s` and
predicting them in one call costs one model call per interval: its fixed cost is paid once,
and the primary loses the GIL for a few milliseconds a few times a second.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

logger = logging.getLogger(__name__)


class ShadowRunner:
    """Collects shadow copies and awaits `run` on them together every `interval_s` seconds.

    Where the work happens is `run`'s business: the in-process shadow predicts in a worker
    thread (`asyncio.to_thread`), a process shadow only hands the batch to its child
    (`shadow_process.ShadowProcess`) on the event loop.
    """

    def __init__(
        self,
        run: Callable[[list[Any]], Awaitable[Any]],
        *,
        interval_s: float = 0.25,
        max_rows: int = 4096,
        max_queued: int = 50_000,
        size_of: Callable[[Any], int] = lambda item: 1,
        on_batch: Callable[[int, float], None] | None = None,
    ) -> None:
        self.run = run
        self.interval_s = interval_s
        self.max_rows = max_rows
        self.max_queued = max_queued
        self.size_of = size_of
        self.on_batch = on_batch
        self._queue: list[Any] = []
        self._task: asyncio.Task | None = None
        self._closing = False
        self.skipped = 0
        self.batches = 0

    def put(self, item: Any) -> bool:
        """Queue a copy without waiting for it; return False when it was skipped (backlog)."""
        if self._closing or len(self._queue) >= self.max_queued:
            self.skipped += 1
            return False
        self._queue.append(item)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop())
        return True

    async def _loop(self) -> None:
        while not self._closing:
            await asyncio.sleep(self.interval_s)
            await self._drain()
        await self._drain()

    async def _drain(self) -> None:
        while self._queue:
            taken, rows = 0, 0
            for item in self._queue:
                size = self.size_of(item)
                if taken and rows + size > self.max_rows:
                    break
                taken, rows = taken + 1, rows + size
            batch, self._queue = self._queue[:taken], self._queue[taken:]
            started = time.perf_counter()
            try:
                await self.run(batch)
            except Exception:  # run logs a failed batch itself; a shadow never fails a caller
                logger.exception("shadow batch failed")
            self.batches += 1
            if self.on_batch is not None:
                self.on_batch(rows, time.perf_counter() - started)

    def stats(self) -> dict[str, Any]:
        """Return the queue depth and counts (the shape the batchers' stats share)."""
        return {
            "enabled": True,
            "queue_depth": len(self._queue),
            "batches": self.batches,
            "skipped": self.skipped,
        }

    async def close(self) -> None:
        """Predict what is queued, then stop."""
        self._closing = True
        if self._task is not None:
            await self._task
        else:
            await self._drain()
