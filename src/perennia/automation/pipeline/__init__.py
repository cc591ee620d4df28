"""Pipelines of cached steps: plain functions connected by their data.

    @step
    def load() -> pd.DataFrame: ...

    @step(outputs=("X_train", "X_test"))
    def split(load, seed=0): ...

    run = Pipeline("training", [load, split]).run({"seed": 1})
    run.status, run.steps["split"].cached_from, run.outputs["X_train"]

Each run is a tracking run with one nested run per step (params, input hashes and lineage,
outputs as artifacts under outputs/). A step whose code, params and inputs match an earlier
FINISHED step run in the experiment is not run again: its outputs are reused.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Pipeline", "PipelineRun", "Step", "StepResult", "cancel", "get_run", "step"]


def __getattr__(name: str) -> Any:
    if name in ("step", "Step"):
        from perennia.automation.pipeline import steps

        return getattr(steps, name)
    if name == "Pipeline":
        from perennia.automation.pipeline.pipeline import Pipeline

        return Pipeline
    if name in ("PipelineRun", "StepResult"):
        from perennia.automation.pipeline import results

        return getattr(results, name)
    if name in ("cancel", "get_run"):
        from perennia.automation.pipeline import control

        return getattr(control, name)
    raise AttributeError(f"module 'perennia.automation.pipeline' has no attribute {name!r}")
