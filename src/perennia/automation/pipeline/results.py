"""What a pipeline run returns: `PipelineRun` (status, error, a StepResult per step, outputs that
load on first access, model URIs) and `OutputRef`, where one output's bytes are.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from perennia.automation.pipeline.outputs import OutputMeta, read_output
from perennia.errors import InvalidInput

_UNSET = object()


@dataclasses.dataclass
class StepResult:
    """How one step of a pipeline run ended.

    `status` is FINISHED, FAILED, SKIPPED (an upstream step failed) or CANCELLED; `cached_from`
    names the run whose outputs were reused instead of running the step.
    """

    name: str
    status: str
    run_id: str | None = None
    cached_from: str | None = None
    attempts: int = 0
    error: str | None = None
    start_time: int | None = None
    end_time: int | None = None

    @property
    def duration(self) -> float | None:
        """Return the step's wall time in seconds, or None if it did not run."""
        if self.start_time is None or self.end_time is None:
            return None
        return (self.end_time - self.start_time) / 1000


class OutputRef:
    """One output: its record, the run holding its artifacts, and (maybe) a local copy or value."""

    def __init__(
        self,
        meta: OutputMeta,
        run_id: str,
        *,
        folder: Path | None = None,
        value: Any = _UNSET,
        trusted: bool = False,
    ) -> None:
        self.meta = meta
        self.run_id = run_id
        self.folder = folder
        self.trusted = trusted  # written by this run, or the caller allowed pickle
        self._value = value

    @property
    def artifact_path(self) -> str:
        """Return the output's path in its run's artifacts."""
        return f"outputs/{self.meta.file}"

    def local_folder(self, client: Any, scratch: Path) -> Path:
        """Return a local folder holding the output's file, downloading it the first time."""
        if self.folder is None:
            target = scratch / self.run_id
            target.mkdir(parents=True, exist_ok=True)
            client.download_artifacts(self.run_id, self.artifact_path, target)
            self.folder = target / "outputs"
        return self.folder

    def load(self, client: Any, scratch: Path) -> Any:
        """Return the output's value (read once, then kept)."""
        if self._value is _UNSET:
            folder = self.local_folder(client, scratch)
            self._value = read_output(self.meta, folder, trusted=self.trusted)
        return self._value


class LazyOutputs(Mapping[str, Any]):
    """Output name -> value; each value is read from its artifacts on first access."""

    def __init__(self, refs: Mapping[str, OutputRef], client: Any, scratch: Path | None) -> None:
        self._refs = dict(refs)
        self._client = client
        self._scratch = scratch

    def __getitem__(self, name: str) -> Any:
        if self._scratch is None:
            self._scratch = Path(tempfile.mkdtemp(prefix="perennia-pipeline-"))
        return self._refs[name].load(self._client, self._scratch)

    def __iter__(self) -> Iterator[str]:
        return iter(self._refs)

    def __len__(self) -> int:
        return len(self._refs)

    def __repr__(self) -> str:
        kinds = ", ".join(f"{k}: {v.meta.kind}" for k, v in self._refs.items())
        return f"<outputs {kinds}>"


@dataclasses.dataclass
class PipelineRun:
    """One run of a pipeline: the parent tracking run, its status, steps and outputs."""

    run_id: str
    pipeline: str
    status: str  # FINISHED, FAILED, CANCELLED (RUNNING only when read while it runs)
    steps: dict[str, StepResult]
    outputs: Mapping[str, Any]
    error: str | None = None
    refs: dict[str, OutputRef] = dataclasses.field(default_factory=dict, repr=False)

    def model_uri(self, output: str = "model") -> str:
        """Return the runs:/ URI of a model output, which `register_model` accepts."""
        ref = self.refs.get(output)
        if ref is None:
            known = ", ".join(self.refs) or "none"
            raise InvalidInput(
                f"pipeline run {self.run_id} has no output {output!r}; its outputs: {known}"
            )
        if ref.meta.kind != "model":
            raise InvalidInput(f"output {output!r} is a {ref.meta.kind}, not a model")
        return f"runs:/{ref.run_id}/{ref.artifact_path}"

    def cancel(self) -> None:
        """Ask the runner to stop after the steps running now (works from any process)."""
        from perennia.automation.pipeline.control import cancel

        cancel(self.run_id)
