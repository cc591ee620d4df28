"""`perennia serve --deployment NAME`'s app, run inside the demo's process on a loopback port.

It is the real inference server: the Starlette app `perennia serve` runs, under uvicorn, with
its lifespan (loading, the deployment watcher, the prediction log's flush on shutdown), on a
socket bound to 127.0.0.1 by the operating system's choice of port, so nothing else on the
machine can collide with it and nothing outside the machine can reach it.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

from perennia.errors import PerenniaError

START_TIMEOUT_S = 60.0
APPLY_TIMEOUT_S = 30.0


class LiveServer:
    """The inference app for one ServeConfig, served by uvicorn in a background thread."""

    def __init__(self, config: Any) -> None:
        import uvicorn

        from perennia.serving.app import create_app

        self.app = create_app(config)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self._server = uvicorn.Server(
            uvicorn.Config(self.app, lifespan="on", log_level="warning", access_log=False)
        )
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name="perennia-demo-serve",
            daemon=True,
        )

    @property
    def state(self) -> Any:
        """Return the app's ServingState (its endpoint, metrics and prediction log)."""
        return self.app.state.serving

    def start(self) -> LiveServer:
        """Start serving; return once the deployment's models are loaded and requests flow."""
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive():
                raise PerenniaError(f"the inference server on {self.url} stopped while starting")
            if time.monotonic() > deadline:
                raise PerenniaError(f"the inference server on {self.url} did not start in time")
            time.sleep(0.02)
        return self

    def wait_applied(self, revision: int) -> None:
        """Return once the server routes by the deployment's `revision` (or a later one)."""
        deadline = time.monotonic() + APPLY_TIMEOUT_S
        while True:
            endpoint = self.state.pool.endpoint
            if endpoint is not None and endpoint.revision >= revision:
                return
            if time.monotonic() > deadline:
                error = self.state.pool.last_error or "no error reported"
                raise PerenniaError(
                    f"the server did not apply deployment revision {revision} within "
                    f"{APPLY_TIMEOUT_S:g} s ({error})"
                )
            time.sleep(0.01)

    def flush_log(self, expected_rows: int = 0, timeout_s: float = 10.0) -> int:
        """Write every queued prediction to the log; return the rows written so far.

        Shadow predictions are made off the response path, so they can still be on their way
        when the last answer arrives: wait (up to `timeout_s`) until `expected_rows` have been
        recorded before flushing.
        """
        log = self.state.log
        deadline = time.monotonic() + timeout_s
        while (
            log.written_rows + log.queued_rows + log.dropped_rows < expected_rows
            and time.monotonic() < deadline
        ):
            time.sleep(0.01)
        log.flush(timeout=timeout_s)
        return log.written_rows

    def stop(self) -> None:
        """Stop serving: finish queued requests, flush the prediction log, wait for the thread."""
        self._server.should_exit = True
        self._thread.join(timeout=START_TIMEOUT_S)
        self._socket.close()
