"""Running a pipeline: check everything, record the parent run, then start each step when its
inputs are ready (reusing cached outputs when the key matches), retry with backoff, stop on
cancellation, and record every step's end.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import time
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from perennia.automation.pipeline import records as r
from perennia.automation.pipeline.cache import Reusable, lookup, resume_state, reusable
from perennia.automation.pipeline.control import cancel_requested
from perennia.automation.pipeline.execution import FileInput, StepSpec
from perennia.automation.pipeline.executors import Task, make_executor
from perennia.automation.pipeline.graph import Graph, check_params
from perennia.automation.pipeline.hashing import cache_key, canonical_json
from perennia.automation.pipeline.keys import Uncacheable, code_hash, param_hash
from perennia.automation.pipeline.outputs import UnstorableOutput
from perennia.automation.pipeline.results import LazyOutputs, OutputRef, PipelineRun, StepResult
from perennia.clock import now_ms
from perennia.errors import InvalidInput
from perennia.tracking.client import Client

_TICK = 0.5  # seconds between cancellation checks while steps run
_DONE = "FINISHED"


def prepare_params(
    pipeline: str, params: Mapping[str, Any]
) -> tuple[dict[str, str], dict[str, str]]:
    """Return (param -> content hash, param -> why it has none); InvalidInput if unstorable.

    A param without a hash turns caching off for the steps that read it.
    """
    hashes, problems = {}, {}
    for key, value in params.items():
        try:
            hashes[key] = param_hash(value)
        except UnstorableOutput as exc:
            raise InvalidInput(f"pipeline {pipeline!r}: param {key!r}: {exc}") from None
        except Uncacheable as exc:
            problems[key] = f"param {key!r} is {exc}"
    return hashes, problems


def param_text(value: Any) -> str:
    """Return how a param value is shown in the step run's params."""
    try:
        return value if isinstance(value, str) else canonical_json(value)
    except (TypeError, ValueError):
        return f"<{type(value).__name__}>"


class Runner:
    """One execution of a pipeline; `run()` returns its PipelineRun."""

    def __init__(
        self,
        name: str,
        graph: Graph,
        params: Mapping[str, Any],
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
    ) -> None:
        if not isinstance(cache, bool):
            raise InvalidInput(f"cache must be True or False, got {cache!r}")
        if not isinstance(force, bool):
            raise InvalidInput(f"force must be True or False, got {force!r}")
        if params is not None and not isinstance(params, Mapping):
            raise InvalidInput(f"params must be a dict of name -> value, got {params!r:.80}")
        self.name, self.graph = name, graph
        self.client = Client()
        self.earlier, self.earlier_steps = None, {}
        given = dict(params or {})
        if resume is not None:
            self.earlier, self.earlier_steps = resume_state(self.client, resume, name, force)
            stored = json.loads(self.earlier.data.tags.get(r.PARAMS, "{}"))
            given = {**{k: v for k, v in stored.items() if k in graph.params}, **given}
        check_params(name, graph, given)
        self.params = given
        self.param_hashes, self.param_problems = prepare_params(name, given)
        self.codes: dict[str, str] = {}
        self.code_problems: dict[str, str] = {}
        for key, item in graph.steps.items():
            try:
                self.codes[key] = code_hash(item.fn)
            except Uncacheable as exc:
                self.code_problems[key] = f"its code: {exc}"
        self.cache, self.allow_pickle, self.on_start = cache, allow_pickle, on_start
        self.experiment_id = self._experiment(experiment)
        self.executor = make_executor(executor, max_workers, ray_address)
        self.recorder = r.Recorder(self.client, self.experiment_id, name)
        self.scratch = Path(tempfile.mkdtemp(prefix="perennia-pipeline-"))
        self.results: dict[str, StepResult] = {}
        self.refs: dict[str, OutputRef] = {}
        self.running: dict[str, tuple[Any, str]] = {}  # step -> (its open Run, cache key)
        self.in_flight: set[str] = set()  # steps the executor is running now
        self.pending: list[str] = []  # steps not started yet, or waiting for a retry
        self.attempts: dict[str, int] = {}
        self.retry_at: dict[str, float] = {}

    def _experiment(self, experiment: str | None) -> str:
        from perennia.tracking import fluent

        if experiment is None:
            return fluent._default_experiment_id()
        found = self.client.get_experiment_by_name(experiment)
        if found is not None:
            return found.experiment_id
        return self.client.create_experiment(experiment)

    def run(self) -> PipelineRun:
        """Execute the pipeline to its end and return what happened."""
        from perennia.tracking import fluent

        outer = fluent.active_run()
        self.recorder.start_pipeline(
            {k: param_text(v) for k, v in self.params.items()},
            self.executor.kind,
            outer.run_id if outer else None,
            self.earlier.info.run_id if self.earlier else None,
        )
        run_id = self.recorder.run_id
        if self.on_start is not None:
            self.on_start(run_id)
        try:
            cancelled = self._loop()
        except BaseException as exc:
            self._abort(exc)
            raise
        finally:
            self.executor.close()
        return self._finish(cancelled)

    def _loop(self) -> bool:
        pending = self.pending = list(self.graph.order)
        last_check = 0.0
        while pending or self.in_flight:
            if time.monotonic() - last_check >= _TICK or not self.in_flight:
                last_check = time.monotonic()
                if cancel_requested(self.client, self.recorder.run_id):
                    self._cancel(pending)
                    return True
            self._start_ready(pending)
            if self.in_flight:
                for name, outcome in self.executor.wait(_TICK):
                    self.in_flight.discard(name)
                    self._ended(name, outcome)
            elif pending:
                time.sleep(max(0.0, min(self._retry_waits(pending), _TICK)))
        return False

    def _retry_waits(self, pending: list[str]) -> float:
        waits = [self.retry_at[n] - time.monotonic() for n in pending if n in self.retry_at]
        return min(waits) if waits else 0.0

    def _start_ready(self, pending: list[str]) -> None:
        for name in list(pending):
            ups = [self.results.get(u) for u in self.graph.upstream[name]]
            if any(u is not None and u.status != _DONE for u in ups):
                pending.remove(name)
                self.results[name] = StepResult(name, "SKIPPED", error="an upstream step failed")
                continue
            if any(u is None for u in ups) or len(self.in_flight) >= self.executor.max_workers:
                continue
            if self.retry_at.get(name, 0.0) > time.monotonic():
                continue
            pending.remove(name)
            if name in self.retry_at:
                self._submit(name)
            else:
                self._begin(name)

    def _begin(self, name: str) -> None:
        target = self.graph.steps[name]
        params = self.graph.step_params(name, self.params)
        param_hashes, problems = self._param_hashes(name, params)
        inputs = {i: self.refs[i] for i in target.inputs if i in self.graph.producer}
        input_hashes = {i: ref.meta.hash for i, ref in inputs.items()}
        key = ""  # no key: the step runs, and no later run can reuse it
        if not problems:
            key = cache_key(name, self.codes[name], target.outputs, param_hashes, input_hashes)
        lineage = {i: (ref.meta.hash, ref.run_id) for i, ref in inputs.items()}
        lineage.update({k: (h, "") for k, h in param_hashes.items()})
        found = self._reuse(name, key) if key else None
        if found is not None:
            run = self.recorder.cached_step(name, key, found.source, found.metas, lineage)
            for output, meta in found.metas.items():
                self.refs[output] = OutputRef(meta, found.source, trusted=self.allow_pickle)
            info = run.info
            self.results[name] = StepResult(
                name, _DONE, info.run_id, found.source, 0, None, info.start_time, now_ms()
            )
            return
        run = self.recorder.start_step(
            name,
            key,
            {k: param_text(v) for k, v in params.items()},
            lineage,
            cache_off="; ".join(problems),
        )
        self.recorder.log_dataset_inputs(run.info.run_id, self._dataset_versions(params, inputs))
        self.running[name] = (run, key)
        self.attempts[name] = 0
        self._submit(name)

    def _param_hashes(
        self, name: str, params: Mapping[str, Any]
    ) -> tuple[dict[str, str], list[str]]:
        """Return the step's param hashes and why its key cannot be made (empty when it can)."""
        given = {k for k in params if k in self.param_hashes or k in self.param_problems}
        hashes = {k: self.param_hashes[k] for k in given if k in self.param_hashes}
        problems = [self.param_problems[k] for k in sorted(given) if k in self.param_problems]
        defaults, default_problems = prepare_params(
            self.name, {k: v for k, v in params.items() if k not in given}
        )
        hashes.update(defaults)
        problems += [default_problems[k] for k in sorted(default_problems)]
        if name in self.code_problems:
            problems.insert(0, self.code_problems[name])
        return hashes, problems

    def _dataset_versions(self, params: Mapping[str, Any], inputs: Mapping[str, OutputRef]) -> list:
        from perennia.entities import DatasetVersion

        found = [v for v in params.values() if isinstance(v, DatasetVersion)]
        found += [
            ref.load(self.client, self.scratch)
            for ref in inputs.values()
            if ref.meta.kind == "dataset"
        ]
        return found

    def _reuse(self, name: str, key: str) -> Reusable | None:
        target = self.graph.steps[name]
        earlier = self.earlier_steps.get(name)
        if earlier is not None and earlier.data.tags.get(r.STEP_STATUS) == _DONE:
            found = reusable(earlier, target.outputs, self.allow_pickle)
            if found is not None and found.key == key:
                return found
        if self.cache and target.cache:
            return lookup(self.client, self.experiment_id, key, target.outputs, self.allow_pickle)
        return None

    def _submit(self, name: str) -> None:
        target = self.graph.steps[name]
        run, _ = self.running[name]
        kwargs = dict(self.graph.step_params(name, self.params))
        for i in target.inputs:
            if i in self.graph.producer:
                kwargs[i] = self._input(self.refs[i])
        folder = self.scratch / f"{name}.{self.attempts[name]}"
        folder.mkdir(parents=True)
        self.in_flight.add(name)
        settings = self.client.settings
        self.executor.submit(
            Task(
                name=name,
                fn=target.fn,
                spec=StepSpec(name, target.outputs, target.tuple_return, target.metrics),
                kwargs=kwargs,
                folder=folder,
                timeout=target.timeout,
                run=run,
                settings=(settings.resolved_tracking_uri(), settings.resolved_artifacts_uri()),
                code=self.codes.get(name),
            )
        )

    def _input(self, ref: OutputRef) -> Any:
        if self.executor.wants_files:
            return FileInput(
                ref.meta, str(ref.local_folder(self.client, self.scratch)), ref.trusted
            )
        return ref.load(self.client, self.scratch)

    def _ended(self, name: str, outcome: Any) -> None:
        run, _ = self.running[name]
        run_id = run.info.run_id
        attempt = self.attempts[name]
        target = self.graph.steps[name]
        if outcome.cancelled:
            del self.running[name]
            self.recorder.step_cancelled(run_id)
            self.results[name] = StepResult(
                name,
                "CANCELLED",
                run_id,
                None,
                attempt + 1,
                "cancelled",
                run.info.start_time,
                now_ms(),
            )
            return
        folder = self.scratch / f"{name}.{attempt}"
        if outcome.ok:
            try:
                self.recorder.step_succeeded(
                    run_id, folder, outcome.metas, outcome.metrics, attempt + 1
                )
            except Exception as exc:  # noqa: BLE001 - storing failed: the step failed
                outcome.ok, outcome.error, outcome.retryable = False, r.error_text(exc), False
        if outcome.ok:
            del self.running[name]
            for output, meta in outcome.metas.items():
                value = outcome.values.get(output, _MISSING)
                kwargs = {} if value is _MISSING else {"value": value}
                self.refs[output] = OutputRef(meta, run_id, folder=folder, trusted=True, **kwargs)
            self.results[name] = StepResult(
                name, _DONE, run_id, None, attempt + 1, None, run.info.start_time, now_ms()
            )
            return
        if outcome.retryable and attempt < target.retries:
            self.recorder.attempt_failed(run_id, attempt + 1, outcome.error or "failed")
            self.attempts[name] = attempt + 1
            self.retry_at[name] = time.monotonic() + target.retry_wait(attempt)
            self.pending.insert(0, name)
            return
        del self.running[name]
        self.recorder.step_failed(run_id, outcome.error or "failed", attempt + 1)
        self.results[name] = StepResult(
            name, "FAILED", run_id, None, attempt + 1, outcome.error, run.info.start_time, now_ms()
        )

    def _cancel(self, pending: list[str]) -> None:
        for name, outcome in self.executor.cancel():
            self.in_flight.discard(name)
            self._ended(name, outcome)
        for name in list(self.running):  # waiting for a retry: nothing to stop
            run, _ = self.running.pop(name)
            self.recorder.step_cancelled(run.info.run_id)
            self.results[name] = StepResult(name, "CANCELLED", run.info.run_id, error="cancelled")
        for name in pending:
            self.results.setdefault(name, StepResult(name, "CANCELLED", error="cancelled"))
        pending.clear()

    def _abort(self, exc: BaseException) -> None:
        """Record an interrupted run (KeyboardInterrupt, a store outage) as FAILED, if possible."""
        error = r.error_text(exc)
        # Best effort: the original error propagates whatever happens here.
        with contextlib.suppress(Exception):
            for name, (run, _) in list(self.running.items()):
                self.recorder.step_failed(run.info.run_id, error, self.attempts[name] + 1)
        with contextlib.suppress(Exception):
            self.recorder.finish_pipeline("FAILED", error)

    def _finish(self, cancelled: bool) -> PipelineRun:
        failed = [s for s in self.results.values() if s.status == "FAILED"]
        status = "CANCELLED" if cancelled else ("FAILED" if failed else _DONE)
        error = None
        if failed:
            error = f"step {failed[0].name!r} failed: {(failed[0].error or '').splitlines()[0]}"
        elif cancelled:
            error = "cancelled"
        ordered = {n: self.results[n] for n in self.graph.order if n in self.results}
        self.recorder.log_summary(
            {
                "pipeline": self.name,
                "status": status,
                "params": {k: param_text(v) for k, v in self.params.items()},
                "steps": [
                    {
                        "name": s.name,
                        "status": s.status,
                        "run_id": s.run_id,
                        "cached_from": s.cached_from,
                    }
                    for s in ordered.values()
                ],
            }
        )
        self.recorder.finish_pipeline(status, error)
        result = PipelineRun(
            self.recorder.run_id,
            self.name,
            status,
            ordered,
            LazyOutputs(self.refs, self.client, self.scratch),
            error=error,
            refs=dict(self.refs),
        )
        # The scratch folder holds outputs not read yet; it goes when the result does.
        weakref.finalize(result, shutil.rmtree, self.scratch, True)
        return result


_MISSING = object()
