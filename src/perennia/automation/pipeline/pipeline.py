"""`Pipeline(name, steps)`: steps connected by their data, checked when built, run with `.run()`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from perennia.automation.pipeline.graph import build
from perennia.automation.pipeline.results import PipelineRun
from perennia.automation.pipeline.steps import Step, check_return_annotation
from perennia.errors import InvalidInput


class Pipeline:
    """A named graph of steps; a parameter named like another step's output is an edge."""

    def __init__(self, name: str, steps: Iterable[Step]) -> None:
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise InvalidInput(f"pipeline name must be a non-empty string, got {name!r:.80}")
        if isinstance(steps, (str, bytes)) or not isinstance(steps, Iterable):
            raise InvalidInput(f"pipeline {name!r}: steps must be a list of @step functions")
        self.name = name
        self.graph = build(name, list(steps))
        for item in self.graph.steps.values():  # forward references resolve by now
            check_return_annotation(item)

    @property
    def steps(self) -> dict[str, Step]:
        """Return the steps by name, in a topological order."""
        return {key: self.graph.steps[key] for key in self.graph.order}

    @property
    def params(self) -> frozenset[str]:
        """Return the names a run may pass in `params` (inputs no step produces)."""
        return self.graph.params

    def run(
        self,
        params: Mapping[str, Any] | None = None,
        *,
        executor: str = "local",
        resume: str | None = None,
        experiment: str | None = None,
        cache: bool = True,
        max_workers: int | None = None,
        ray_address: str | None = None,
        allow_pickle: bool = False,
        on_start: Callable[[str], None] | None = None,
        force: bool = False,
    ) -> PipelineRun:
        """Run the pipeline and return its PipelineRun (status FAILED rather than raising when
        a step fails; InvalidInput before anything runs when the input is bad).

        `resume`: an earlier run's id; its finished steps are reused (when their code, params
        and inputs are unchanged) and the rest run, with that run's params unless overridden.
        `cache=False` runs every step. `allow_pickle=True` lets cached model outputs that load
        only by unpickling be reused. `on_start(run_id)` is called once the run is recorded.
        `force=True` resumes a run left RUNNING on another host that has no heartbeat to show
        whether it is alive (check that host first); a fresh heartbeat is still a Conflict.
        """
        from perennia.automation.pipeline.runner import Runner

        return Runner(
            self.name,
            self.graph,
            params or {},
            executor=executor,
            resume=resume,
            experiment=experiment,
            cache=cache,
            max_workers=max_workers,
            ray_address=ray_address,
            allow_pickle=allow_pickle,
            on_start=on_start,
            force=force,
        ).run()

    def __repr__(self) -> str:
        return f"Pipeline({self.name!r}, steps={list(self.graph.order)})"
