"""Tiny schedule targets the schedule tests name by entrypoint (imported by the scheduler)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from perennia.automation.scheduler import current_fire_ms


def record_firing(path: str) -> None:
    """Append this firing's time and the process id to the file at `path`."""
    with Path(path).open("a") as handle:
        handle.write(f"{current_fire_ms()} {os.getpid()}\n")


def fail(message: str = "boom") -> None:
    """Raise, as a broken target does."""
    raise RuntimeError(message)


NOT_CALLABLE = 42


def __getattr__(name: str) -> Any:
    # The pipeline is built on first use, so the plain targets above load without it.
    if name != "marker":
        raise AttributeError(name)
    from perennia.automation.pipeline import Pipeline, step

    @step
    def write_marker(path: str) -> int:
        with Path(path).open("a") as handle:
            handle.write(f"{current_fire_ms()} {os.getpid()}\n")
        return 1

    pipeline = Pipeline("marker", [write_marker])
    globals()["marker"] = pipeline
    return pipeline
