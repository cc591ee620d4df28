"""One execution of one step, wherever it happens (this process, a child process, a Ray worker):
call the function, split its return value into the declared outputs, check each can be stored,
and write them to a folder.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from perennia.automation.pipeline.outputs import (
    OutputMeta,
    UnstorableOutput,
    classify,
    read_output,
    write_output,
)


@dataclasses.dataclass
class StepSpec:
    """What an executor needs to know about a step besides its function (picklable)."""

    name: str
    outputs: tuple[str, ...]
    tuple_return: bool
    metrics: tuple[str, ...]


@dataclasses.dataclass
class FileInput:
    """An input a child process reads itself: the output record and the folder holding it."""

    meta: OutputMeta
    folder: str
    trusted: bool


@dataclasses.dataclass
class Outcome:
    """How one attempt ended: the outputs' records (and values, in-process) or the error."""

    ok: bool
    metas: dict[str, OutputMeta] = dataclasses.field(default_factory=dict)
    values: dict[str, Any] = dataclasses.field(default_factory=dict)
    metrics: dict[str, float] = dataclasses.field(default_factory=dict)
    error: str | None = None
    retryable: bool = True
    cancelled: bool = False


def split_outputs(spec: StepSpec, value: Any) -> dict[str, Any]:
    """Return output name -> value, checking a tuple return has one item per declared output."""
    if not spec.tuple_return:
        return {spec.outputs[0]: value}
    if not isinstance(value, (tuple, list)) or len(value) != len(spec.outputs):
        got = f"{len(value)} values" if isinstance(value, (tuple, list)) else type(value).__name__
        raise UnstorableOutput(
            f"step {spec.name!r} declares outputs {list(spec.outputs)} but returned {got}; "
            "return a tuple with one value per output"
        )
    return dict(zip(spec.outputs, value, strict=True))


def check_outputs(spec: StepSpec, values: dict[str, Any]) -> dict[str, float]:
    """Raise UnstorableOutput for a value no kind stores; return the declared metrics' points."""
    metrics: dict[str, float] = {}
    for name, value in values.items():
        try:
            classify(value)
        except UnstorableOutput as exc:
            raise UnstorableOutput(f"step {spec.name!r} output {name!r}: {exc}") from None
        if name in spec.metrics:
            metrics.update(_metric_points(spec, name, value))
    return metrics


def _metric_points(spec: StepSpec, name: str, value: Any) -> dict[str, float]:
    ok = isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool)
        for k, v in value.items()
    )
    if not ok:
        raise UnstorableOutput(
            f"step {spec.name!r} output {name!r} is declared as metrics, so it must be a dict of "
            f"names to numbers, got {type(value).__name__}"
        )
    return {k: float(v) for k, v in value.items()}


def run_step(fn: Any, spec: StepSpec, kwargs: dict[str, Any], folder: Path) -> Outcome:
    """Call the function and write its outputs under `folder`; errors come back in the Outcome."""
    from perennia.automation.pipeline.records import error_text

    try:
        values = split_outputs(spec, fn(**kwargs))
        metrics = check_outputs(spec, values)
        metas = {name: write_output(name, value, folder) for name, value in values.items()}
    except UnstorableOutput as exc:
        return Outcome(False, error=error_text(exc, tail=0), retryable=False)
    except Exception as exc:  # noqa: BLE001 - the user's error is the step's result
        return Outcome(False, error=error_text(exc))
    return Outcome(True, metas=metas, values=values, metrics=metrics)


def read_inputs(inputs: dict[str, Any]) -> dict[str, Any]:
    """Return the inputs with every FileInput read from its folder."""
    return {
        name: read_output(item.meta, Path(item.folder), trusted=item.trusted)
        if isinstance(item, FileInput)
        else item
        for name, item in inputs.items()
    }
