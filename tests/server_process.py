"""`perennia server` (and `perennia serve`) started as users start them: a real process, waited on until /health answers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.ports import free_port


def start_server(
    args: list[str],
    home: Path,
    *,
    port: int | None = None,
    env: dict[str, str] | None = None,
    log: Path | None = None,
    command: str = "server",
) -> tuple[subprocess.Popen, str]:
    """Return (process, URL) of a `perennia server` (or `perennia serve`, with
    `command="serve"`) answering /health; fail the test if it won't.

    Its stderr is a pipe (read it with `communicate()`), or both streams go to `log` for a
    server that writes a lot; the environment's tracking URI never leaks into it.
    """
    port = port or free_port()
    environment = {k: v for k, v in os.environ.items() if k != "PERENNIA_TRACKING_URI"}
    environment.update(PERENNIA_HOME=str(home), **(env or {}))
    argv = [sys.executable, "-m", "perennia.cli.main", command, "--port", str(port), *args]
    sink = log.open("w") if log is not None else None
    try:
        process = subprocess.Popen(
            argv,
            env=environment,
            stdout=sink or subprocess.DEVNULL,
            stderr=subprocess.STDOUT if sink else subprocess.PIPE,
            text=True,
        )
    finally:
        if sink is not None:
            sink.close()  # the child holds its own copy
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    # One client for every poll: a bare httpx.get builds a TLS context each time (about 50 ms
    # of CPU the starting server could use).
    with httpx.Client(timeout=2) as client:
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if client.get(f"{url}/health").status_code == 200:
                    return process, url
            except httpx.TransportError:
                pass
            time.sleep(0.05)
    process.kill()
    output = log.read_text() if log is not None else process.communicate(timeout=30)[1]
    pytest.fail(f"server did not start: {output[-2000:]}")
