"""A small closed-loop HTTP/1.1 load generator: N keep-alive connections, each sending the next
request as soon as the previous answer arrives, for a fixed time.

Written on raw asyncio streams (uvloop when installed) so the generator costs little CPU next
to the servers it measures; the same generator drives every server in a comparison.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    """Counts and latencies of one load run."""

    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float] = field(repr=False, default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    bodies: list[bytes] = field(repr=False, default_factory=list)

    @property
    def rps(self) -> float:
        """Return completed requests per second."""
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        """Return the q-th percentile latency in milliseconds."""
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]

    @property
    def p50(self) -> float:
        """Return the median latency in milliseconds."""
        return statistics.median(self.latencies_ms) if self.latencies_ms else float("nan")

    @property
    def p99(self) -> float:
        """Return the 99th percentile latency in milliseconds."""
        return self.percentile(99)


def _request(host: str, port: int, path: str, body: bytes, content_type: str) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
    )
    return head.encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, dict[str, str]]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            key, value = line.split(":", 1)
            headers[key.strip().lower()] = value.strip()
    if "content-length" in headers:
        return status, await reader.readexactly(int(headers["content-length"])), headers
    if headers.get("transfer-encoding") == "chunked":
        chunks = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                return status, b"".join(chunks), headers
            chunks.append(chunk[:-2])
    return status, b"", headers


async def _worker(
    host: str, port: int, payload: bytes, stop_at: float, result: LoadResult, keep: bool
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            writer.write(payload)
            try:
                status, body, headers = await _read_response(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                result.errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                continue
            result.latencies_ms.append((time.perf_counter() - started) * 1000)
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if status != 200:
                result.errors += 1
            else:
                result.requests += 1
            if keep:
                result.bodies.append(headers.get("perennia-request-id", "").encode())
            if headers.get("connection") == "close":
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
    finally:
        writer.close()


async def _run(host, port, path, body, content_type, concurrency, seconds, keep) -> LoadResult:
    payload = _request(host, port, path, body, content_type)
    result = LoadResult(0, 0, 0.0)
    started = time.perf_counter()
    stop_at = started + seconds
    await asyncio.gather(
        *(_worker(host, port, payload, stop_at, result, keep) for _ in range(concurrency))
    )
    result.seconds = time.perf_counter() - started
    return result


def run_load(
    host: str,
    port: int,
    path: str,
    body: bytes,
    *,
    concurrency: int,
    seconds: float,
    content_type: str = "application/json",
    keep_request_ids: bool = False,
) -> LoadResult:
    """Return the result of `concurrency` connections posting `body` to `path` for `seconds`."""
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    return runner(
        _run(host, port, path, body, content_type, concurrency, seconds, keep_request_ids)
    )


async def _open_loop(host, port, path, body, content_type, rate, seconds, connections):
    payload = _request(host, port, path, body, content_type)
    result = LoadResult(0, 0, 0.0)
    pool: asyncio.Queue = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await asyncio.open_connection(host, port))

    async def one(scheduled: float) -> None:
        reader, writer = await pool.get()
        try:
            writer.write(payload)
            status, _body, _headers = await _read_response(reader)
        except (asyncio.IncompleteReadError, ConnectionError):
            result.errors += 1
            writer.close()
            reader, writer = await asyncio.open_connection(host, port)
        else:
            # From the time the request was due, not sent: a stalled server must not hide its
            # stall by slowing the generator down (coordinated omission).
            result.latencies_ms.append((time.perf_counter() - scheduled) * 1000)
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if status == 200:
                result.requests += 1
            else:
                result.errors += 1
        pool.put_nowait((reader, writer))

    started = time.perf_counter()
    tasks = []
    for index in range(int(rate * seconds)):
        due = started + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(due)))
    await asyncio.gather(*tasks)
    result.seconds = time.perf_counter() - started
    while not pool.empty():
        pool.get_nowait()[1].close()
    return result


def run_rate(
    host: str,
    port: int,
    path: str,
    body: bytes,
    *,
    rate: float,
    seconds: float,
    connections: int = 32,
    content_type: str = "application/json",
) -> LoadResult:
    """Return the result of posting `body` at a fixed `rate` per second for `seconds` (open loop).

    Latencies count from when each request was due, so they include any wait for a connection.
    """
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    return runner(_open_loop(host, port, path, body, content_type, rate, seconds, connections))
