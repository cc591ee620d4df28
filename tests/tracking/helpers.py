"""Helpers the tracking tests share: bounded polling and child interpreters on the same store."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path


def eventually(predicate: Callable[[], bool], timeout: float = 20.0, pause: float = 0.02) -> bool:
    """Return True once `predicate()` holds, polling until `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(pause)
    return predicate()


def child_env(home: Path, uri: str, **settings: str) -> dict[str, str]:
    """Return an environment pointing a child interpreter at `uri`, with PERENNIA_* overrides."""
    env = dict(os.environ)
    env.update(
        PERENNIA_HOME=str(home),
        PERENNIA_TRACKING_URI=uri,
        PERENNIA_ARTIFACTS_URI=str(home / "artifacts"),
    )
    env.update({f"PERENNIA_{name.upper()}": value for name, value in settings.items()})
    return env


def spawn(script: Path | str, *args: object, env: dict[str, str]) -> subprocess.Popen:
    """Start `python script args...` (a file, or code for -c) with piped text stdout/stderr."""
    command = (
        [sys.executable, str(script)]
        if isinstance(script, Path)
        else [sys.executable, "-c", script]
    )
    return subprocess.Popen(
        [*command, *map(str, args)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(processes: list[subprocess.Popen], timeout: float = 120) -> list[str]:
    """Return each child's stripped stdout, failing with its stderr if it exited non-zero."""
    outputs = []
    for process in processes:
        out, err = process.communicate(timeout=timeout)
        assert process.returncode == 0, err[-3000:]
        outputs.append(out.strip())
    return outputs
