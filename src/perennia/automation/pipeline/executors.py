"""Executors: where a step's function runs. The runner submits ready steps and waits for outcomes;
only the runner's process writes to the store.

- "local": in this process, one step at a time, in topological order.
- "process": each step in its own child process (up to `max_workers` at once). The child reads
  its inputs from files, writes its outputs to a folder and exits; a step past its timeout is
  killed, and a child that dies (SIGKILL, out of memory) fails its step with the signal.
- "ray": each step a `ray.remote` task; Ray schedules them on its workers (a local Ray, or a
  cluster with `ray_address=`). Values travel through Ray's object store, which pickles them.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import threading
import time
from pathlib import Path
from typing import Any

from perennia.automation.pipeline.execution import (
    Outcome,
    StepSpec,
    check_outputs,
    run_step,
    split_outputs,
)
from perennia.automation.pipeline.outputs import OutputMeta, UnstorableOutput, write_output
from perennia.errors import InvalidInput

EXECUTORS = ("local", "process", "ray")


@dataclasses.dataclass
class Task:
    """One attempt of one step, as the runner hands it to an executor."""

    name: str
    fn: Any
    spec: StepSpec
    kwargs: dict[str, Any]  # values, or FileInput for executors that read files themselves
    folder: Path  # where the outputs are written (uploaded as the run's outputs/)
    timeout: float | None
    run: Any  # the step's Run (the local executor makes it the active fluent run)
    settings: tuple[str, str | None] = ("", None)  # tracking URI, artifacts URI for children
    code: str | None = None  # the code hash in the cache key (a child checks it loaded that code)


def make_executor(kind: str, max_workers: int | None, ray_address: str | None) -> Any:
    """Return a started executor of `kind`, or raise InvalidInput naming the accepted ones."""
    if kind not in EXECUTORS:
        raise InvalidInput(f"executor must be one of {', '.join(EXECUTORS)}, got {kind!r}")
    if max_workers is not None and (
        isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1
    ):
        raise InvalidInput(f"max_workers must be a whole number >= 1, got {max_workers!r}")
    if ray_address is not None and kind != "ray":
        raise InvalidInput("ray_address= is only for executor='ray'")
    if kind == "local":
        return LocalExecutor()
    if kind == "process":
        return ProcessExecutor(max_workers or multiprocessing.cpu_count())
    return RayExecutor(max_workers, ray_address)


class LocalExecutor:
    """Runs each step in the calling thread, so a debugger and the step's own logging just work.

    Timeouts: Python cannot stop a running thread. A step with a timeout runs in a worker thread
    and the runner stops waiting at the deadline: the step is recorded FAILED (TimeoutError) and
    its late outputs are ignored, but its function keeps running in the background until it
    returns. Use executor="process" or "ray" to have the step killed at the deadline.
    """

    kind = "local"
    max_workers = 1
    wants_files = False

    def __init__(self) -> None:
        self._queue: list[Task] = []

    def submit(self, task: Task) -> None:
        """Queue a step; it runs inside the next `wait`."""
        self._queue.append(task)

    def wait(self, timeout: float) -> list[tuple[str, Outcome]]:
        """Run the queued step now and return its outcome."""
        if not self._queue:
            time.sleep(min(timeout, 0.05))
            return []
        task = self._queue.pop(0)
        return [(task.name, self._run(task))]

    def _run(self, task: Task) -> Outcome:
        from perennia.automation.pipeline.records import active_step

        def call() -> Outcome:
            with active_step(task.run):
                return run_step(task.fn, task.spec, task.kwargs, task.folder)

        if task.timeout is None:
            return call()
        box: list[Outcome] = []
        worker = threading.Thread(
            target=lambda: box.append(call()), name=f"perennia-step-{task.name}", daemon=True
        )
        worker.start()
        worker.join(task.timeout)
        if box:
            return box[0]
        return Outcome(
            False,
            error=f"TimeoutError: step {task.name!r} did not finish within {task.timeout:g} s "
            "(the local executor cannot stop it: it goes on in the background; use "
            "executor='process' to kill it at the deadline)",
        )

    def cancel(self) -> list[tuple[str, Outcome]]:
        """Nothing runs between two waits, so there is nothing to stop."""
        return []

    def close(self) -> None:
        """Nothing to release."""


class ProcessExecutor:
    """Runs each step in a fresh child interpreter; several at once up to `max_workers`.

    A fresh interpreter (not a fork, not multiprocessing's re-import of `__main__`) so a script
    without a main guard, a file loaded as an entrypoint, and a parent holding threads and
    connections all work. The task goes through `transport`: the function by reference when the
    child can import it, by value otherwise, in a folder only this user can read.
    """

    kind = "process"
    wants_files = True

    def __init__(self, max_workers: int) -> None:
        self.max_workers = max_workers
        self._running: dict[str, tuple[Any, float | None, Path, Task]] = {}

    def submit(self, task: Task) -> None:
        """Start the step's child process."""
        import os
        import subprocess
        import sys

        from perennia.automation.pipeline import transport

        payload = task.folder.with_name(task.folder.name + ".task")
        transport.write_task(
            payload, task.fn, task.spec, task.kwargs, task.folder, task.settings, task.code
        )
        result = task.folder.with_name(task.folder.name + ".result.json")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)  # the parent's imports
        process = subprocess.Popen(
            [sys.executable, "-m", "perennia.automation.pipeline.child", str(payload), str(result)],
            env=env,
        )
        deadline = None if task.timeout is None else time.monotonic() + task.timeout
        self._running[task.name] = (process, deadline, result, task)

    def wait(self, timeout: float) -> list[tuple[str, Outcome]]:
        """Wait up to `timeout` seconds; return the outcomes of steps that ended (or timed out)."""
        end = time.monotonic() + timeout
        while True:
            done = self._poll()
            if done or not self._running or time.monotonic() >= end:
                return done
            time.sleep(0.02)

    def _poll(self) -> list[tuple[str, Outcome]]:
        done = []
        from perennia.automation.pipeline.transport import discard

        for name, (process, deadline, result, task) in list(self._running.items()):
            if process.poll() is not None:
                done.append((name, _collect(process.returncode, result)))
            elif deadline is not None and time.monotonic() >= deadline:
                _kill(process)
                error = (
                    f"TimeoutError: step {name!r} exceeded its timeout of {task.timeout:g} s; "
                    "its process was killed"
                )
                done.append((name, Outcome(False, error=error)))
            else:
                continue
            discard(task.folder.with_name(task.folder.name + ".task"))
            del self._running[name]
        return done

    def cancel(self) -> list[tuple[str, Outcome]]:
        """Kill every running step; return them as cancelled."""
        out = []
        from perennia.automation.pipeline.transport import discard

        for name, (process, _, _, task) in list(self._running.items()):
            _kill(process)
            discard(task.folder.with_name(task.folder.name + ".task"))
            out.append((name, Outcome(False, error="cancelled", cancelled=True)))
        self._running.clear()
        return out

    def close(self) -> None:
        """Kill any child still running (the runner is leaving)."""
        self.cancel()


def _kill(process: Any) -> None:
    process.kill()
    process.wait()


def _collect(exitcode: int | None, result: Path) -> Outcome:
    if result.is_file():
        data = json.loads(result.read_text(encoding="utf-8"))
        return Outcome(
            data["ok"],
            metas={m["name"]: OutputMeta.from_dict(m) for m in data["metas"]},
            metrics=data["metrics"],
            error=data["error"],
            retryable=data["retryable"],
        )
    if exitcode is not None and exitcode < 0:
        return Outcome(False, error=f"the step's process died (signal {-exitcode})")
    return Outcome(False, error=f"the step's process exited with code {exitcode} before finishing")


def _ray_call(fn: Any, spec: StepSpec, kwargs: dict[str, Any]) -> tuple[str, Any, Any]:
    """Run a step on a Ray worker; return ("ok", values, metrics) or (kind, error, None)."""
    from perennia.automation.pipeline.records import error_text

    try:
        values = split_outputs(spec, fn(**kwargs))
        metrics = check_outputs(spec, values)
    except UnstorableOutput as exc:
        return "unstorable", error_text(exc, tail=0), None
    except Exception as exc:  # noqa: BLE001 - the user's error is the step's result
        return "error", error_text(exc), None
    return "ok", values, metrics


class RayExecutor:
    """Runs each step as a Ray task; `ray.init()` (or `ray.init(address=...)`) when needed.

    Choosing executor="ray" means Ray pickles the step's function, its params and inputs, and its
    returned values: that is how its object store moves them between processes and machines.
    Use it with a Ray cluster only you (and people you trust with your code) can reach.
    """

    kind = "ray"
    wants_files = False

    def __init__(self, max_workers: int | None, address: str | None) -> None:
        import ray

        if not ray.is_initialized():
            ray.init(address=address, include_dashboard=False, configure_logging=False)
        self._ray = ray
        self.max_workers = max_workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        # Retries are the pipeline's (with its backoff and records), not Ray's.
        self._remote = ray.remote(_ray_call).options(max_retries=0)
        self._running: dict[Any, tuple[str, float | None, Task]] = {}

    def submit(self, task: Task) -> None:
        """Start the step as a Ray task."""
        ref = self._remote.remote(task.fn, task.spec, task.kwargs)
        deadline = None if task.timeout is None else time.monotonic() + task.timeout
        self._running[ref] = (task.name, deadline, task)

    def wait(self, timeout: float) -> list[tuple[str, Outcome]]:
        """Wait up to `timeout` seconds; return the outcomes of steps that ended (or timed out)."""
        if not self._running:
            return []
        deadlines = [d for _, d, _ in self._running.values() if d is not None]
        limit = timeout
        if deadlines:
            limit = max(0.0, min(timeout, min(deadlines) - time.monotonic()))
        ready, _ = self._ray.wait(list(self._running), num_returns=1, timeout=limit)
        done = []
        for ref in ready:
            name, _, task = self._running.pop(ref)
            done.append((name, self._collect(ref, task)))
        for ref, (name, deadline, task) in list(self._running.items()):
            if deadline is not None and time.monotonic() >= deadline:
                self._ray.cancel(ref, force=True)
                del self._running[ref]
                error = (
                    f"TimeoutError: step {name!r} exceeded its timeout of {task.timeout:g} s; "
                    "its Ray task was killed"
                )
                done.append((name, Outcome(False, error=error)))
        return done

    def _collect(self, ref: Any, task: Task) -> Outcome:
        try:
            kind, payload, metrics = self._ray.get(ref)
        except self._ray.exceptions.RayError as exc:
            return Outcome(False, error=f"the step's process died ({type(exc).__name__}: {exc})")
        if kind != "ok":
            return Outcome(False, error=payload, retryable=kind != "unstorable")
        metas = {name: write_output(name, value, task.folder) for name, value in payload.items()}
        return Outcome(True, metas=metas, values=payload, metrics=metrics)

    def cancel(self) -> list[tuple[str, Outcome]]:
        """Cancel every running step's Ray task; return them as cancelled."""
        out = []
        for ref, (name, _, _) in list(self._running.items()):
            self._ray.cancel(ref, force=True)
            out.append((name, Outcome(False, error="cancelled", cancelled=True)))
        self._running.clear()
        return out

    def close(self) -> None:
        """Cancel leftovers; Ray itself stays up for the next run (it shuts down at exit)."""
        self.cancel()
