"""A shadow variant in a process of its own, so its predictions never take the primary's GIL.

In the server's process a shadow, however it is batched, spends the CPU the primary needs: at
8 clients the primary's p99 rose by 20-25% (bench_serving). Here the server only appends each
copy to a list; every `interval_s` the list's columns are joined into one array per column and
sent, as one message, to a child process that loads the shadow's version (digest-checked, like
any other), predicts the copies and writes them to the prediction log (shadow=True). A full
pipe skips copies (counted) instead of slowing the primary; the child exits with the server.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ShadowSpec:
    """What the child process serves: a registered version, how to load it, where to log."""

    model_name: str
    version: int
    variant: str
    deployment: str
    options: Any  # LoadOptions
    log_location: str | None


class ShadowProcess:
    """The parent's side: copies gathered by a ShadowRunner, shipped in one message each time."""

    def __init__(
        self, spec: ShadowSpec, *, interval_s: float = 0.25, max_queued: int = 50_000
    ) -> None:
        import multiprocessing

        from perennia.serving.shadow_runner import ShadowRunner

        context = multiprocessing.get_context("spawn")  # forking a threaded server is unsafe
        self.queue = context.Queue(maxsize=16)
        self.process = context.Process(
            target=child_main, args=(spec, self.queue), name=f"shadow-{spec.variant}", daemon=True
        )
        self.process.start()
        # One message per interval, whatever it holds (no row cap: the child batches as it likes).
        self.runner = ShadowRunner(
            self._ship, interval_s=interval_s, max_rows=1 << 30, max_queued=max_queued
        )
        self.dropped = 0  # copies the child was too far behind to take

    def put(self, item: Any) -> bool:
        """Queue a copy of one request; return False when it was skipped (backlog)."""
        return self.runner.put(item)

    async def _ship(self, items: list[Any]) -> None:
        # On the event loop, not in a worker thread: the put never blocks, and taking the GIL
        # back from a thread can hold the primary's next request for a switch interval (5 ms).
        import queue

        try:
            self.queue.put_nowait(pack(items))
        except queue.Full:  # the child is behind: these copies are dropped, not waited for
            self.dropped += len(items)

    def stats(self) -> dict[str, Any]:
        """Return the backlog and counts (the shape the batchers' stats share)."""
        stats = self.runner.stats()
        stats["skipped"] += self.dropped
        return stats

    async def close(self) -> None:
        """Send what is queued, let the child predict and log it, then stop the child."""
        await self.runner.close()
        self.queue.put(None)
        await asyncio.to_thread(self.process.join, 60)
        if self.process.is_alive():
            self.process.terminate()


def pack(items: list[Any]) -> dict[str, Any]:
    """Return one message for many copies: ids, arrival times, row counts, joined columns."""
    import numpy as np

    from perennia.serving.rows import join_columns

    # Arrival times travel as wall-clock time: perf_counter() means nothing in another process.
    offset = time.time() - time.perf_counter()
    parsed = [item.parsed for item in items]
    message: dict[str, Any] = {
        "request_ids": [item.request_id for item in items],
        "received": [item.received + offset for item in items],
        "rows": [p.n_rows for p in parsed],
        "columns": None,
        "tensor": None,
    }
    message["columns"] = join_columns(parsed)
    if message["columns"] is None and all(p.tensor is not None for p in parsed):
        try:
            message["tensor"] = np.concatenate([p.tensor for p in parsed], axis=0)
        except ValueError:
            message["parsed"] = parsed  # tensors of different shapes travel as they are
    elif message["columns"] is None:
        message["parsed"] = parsed
    return message


def unpack(message: dict[str, Any]) -> list[Any]:
    """Return the Items a message holds, one per copied request."""
    from perennia.serving.protocols.request import ParsedRequest
    from perennia.serving.served_model import Item

    now_wall, now = time.time(), time.perf_counter()
    items, start = [], 0
    for index, (request_id, received) in enumerate(
        zip(message["request_ids"], message["received"], strict=True)
    ):
        n = message["rows"][index]
        if "parsed" in message:
            parsed = message["parsed"][index]
        elif message["columns"] is not None:
            columns = {k: v[start : start + n] for k, v in message["columns"].items()}
            parsed = ParsedRequest(columns=columns, tensor=None, n_rows=n)
        else:
            parsed = ParsedRequest(
                columns=None, tensor=message["tensor"][start : start + n], n_rows=n
            )
        start += n
        items.append(Item(parsed, request_id, now - (now_wall - received)))
    return items


def _yield_the_cpu() -> None:
    """Give this process the weakest claim on the CPU the platform offers.

    SCHED_IDLE (Linux) runs the shadow only on a core nobody else wants, and a primary that
    wakes up takes the core at once; nice 19 alone still lets the shadow finish its time slice
    first, a few milliseconds the primary's p99 feels. One math thread, so the shadow never
    fans out over the cores the primary's requests need.
    """
    import os

    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = "1"  # before numpy is imported by the model load
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):  # not Linux, or refused: fall back to the lowest nice
        try:
            os.nice(19)
        except OSError:
            logger.debug("could not lower the shadow process's priority")


def child_main(spec: ShadowSpec, queue: Any) -> None:
    """Serve the shadow in this (child) process until the parent sends None or goes away."""
    import os

    from perennia.data.predlog import PredictionLogWriter
    from perennia.entities import BatchingConfig
    from perennia.serving.loader import load_version
    from perennia.serving.served_model import ServedModel

    _yield_the_cpu()
    loaded = load_version(spec.model_name, spec.version, spec.options)
    log = PredictionLogWriter(spec.log_location) if spec.log_location else None
    served = ServedModel(
        loaded.model,
        name=loaded.name,
        version=loaded.version,
        variant=spec.variant,
        deployment=spec.deployment,
        shadow=True,
        batching=BatchingConfig(enabled=False),
        log=log,
    )
    from perennia.serving.state import settle_heap

    settle_heap()  # as in the server: collections skip the loaded model
    parent = os.getppid()
    try:
        while True:
            try:
                message = queue.get(timeout=5)
            except Exception:  # queue.Empty: check the parent is still there
                if os.getppid() != parent:
                    break
                continue
            if message is None:
                break
            served.run_copies(unpack(message))
    finally:
        if log is not None:
            log.close()
