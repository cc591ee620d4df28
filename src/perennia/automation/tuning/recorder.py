"""Each trial as a nested run of the study's run, written through the tracking context's batching writer.

A trial's run is created when the trial starts (so a long trial shows as RUNNING, and is the
active run inside the objective); when it ends, its params, reported intermediate values, final
value(s) and state are queued on the writer in three calls and the run gets its terminal status.
That is two small transactions per trial (create, end) plus a share of the writer's batches: no
transaction per `trial.report`.

Statuses: COMPLETE -> FINISHED, PRUNED -> KILLED (stopped early on purpose; the
`perennia.tune.state` tag says PRUNED, not a crash), FAIL -> FAILED with the objective's exception (or
the return value Optuna refused) as the run's error.
"""

from __future__ import annotations

import logging
import threading
import traceback
from dataclasses import dataclass
from typing import Any

from perennia.clock import now_ms
from perennia.entities import MetricBatch
from perennia.errors import InvalidInput
from perennia.store.validation import validate_key, validate_param_value
from perennia.tracking.context import TrackingContext
from perennia.tracking.source import current_user, git_commit, source_name

logger = logging.getLogger(__name__)

TAG_STUDY = "perennia.tune.study"
TAG_TRIAL = "perennia.tune.trial"
TAG_STATE = "perennia.tune.state"
# The trial's user attribute naming its run: Optuna's own record points back to the tracker.
RUN_ID_ATTR = "perennia.run_id"
_STATUS = {"COMPLETE": "FINISHED", "PRUNED": "KILLED", "FAIL": "FAILED"}


@dataclass
class BestTrial:
    """The best complete trial this process has seen: its number, value, run and kept model."""

    number: int
    value: float
    run_id: str
    model: Any = None


class TrialRecorder:
    """Opens a run per trial, records it when the trial ends, and keeps the best trial's model."""

    def __init__(
        self,
        context: TrackingContext,
        *,
        experiment_id: str,
        parent_run_id: str,
        study_name: str,
        metrics: list[str],
        directions: list[str],
        keep_models: bool,
    ) -> None:
        self.context = context
        self.experiment_id = experiment_id
        self.parent_run_id = parent_run_id
        self.study_name = study_name
        self.metrics = metrics
        self.directions = directions
        self.keep_models = keep_models and len(directions) == 1
        self.best: BestTrial | None = None
        self.run_ids: dict[int, str] = {}  # every trial this process ran
        self._open: dict[int, str] = {}  # trials whose run has not ended yet
        self._models: dict[int, Any] = {}  # models of trials still running
        self._errors: dict[int, str] = {}  # why a trial's objective failed (Optuna keeps no reason)
        self._lock = threading.Lock()

    def start(self, trial: Any) -> Any:
        """Create and return the RUNNING run of a trial that is starting."""
        number = trial.number
        run = self.context.store.runs.create(
            self.experiment_id,
            run_name=f"trial-{number}",
            user_id=current_user(),
            tags={TAG_STUDY: self.study_name, TAG_TRIAL: str(number), TAG_STATE: "RUNNING"},
            parent_run_id=self.parent_run_id,
            source_name=source_name(),
            git_commit=git_commit(),
        )
        run_id = run.info.run_id
        self.context.heartbeat.add(run_id)
        with self._lock:
            self._open[number] = run_id
            self.run_ids[number] = run_id
        trial.set_user_attr(RUN_ID_ATTR, run_id)
        return run

    def keep_model(self, number: int, model: Any) -> None:
        """Hold a trial's model until the trial ends; it is kept only if the trial is the best."""
        if not self.keep_models:
            if len(self.directions) != 1:
                raise InvalidInput(
                    "log_trial_model needs a single-objective study: with several directions "
                    "there is no one best model; log models with perennia.models.log_model instead"
                )
            return
        with self._lock:
            self._models[number] = model

    def note_failure(self, number: int, error: BaseException | None, returned: Any = None) -> None:
        """Remember why a trial may fail: its exception, or the value Optuna may refuse."""
        if error is not None:
            text = "".join(traceback.format_exception_only(type(error), error)).strip()
        else:
            text = f"the objective returned {returned!r:.200}, which Optuna refused"
        with self._lock:
            self._errors[number] = text

    def finish(self, frozen: Any) -> None:
        """Record an ended trial (params, intermediate and final values, state) on its run."""
        with self._lock:
            run_id = self._open.pop(frozen.number, None)
            model = self._models.pop(frozen.number, None)
            reason = self._errors.pop(frozen.number, None)
        if run_id is None:
            return  # not this process's trial, or already recorded
        state = frozen.state.name
        end = _ms(frozen.datetime_complete) or now_ms()
        writer = self.context.writer
        batch = self._metrics(frozen, end)
        if batch:
            writer.log_metrics(run_id, batch)
        params = _params(frozen.params)
        if params:
            writer.log_params(run_id, params)
        writer.set_tags(run_id, {TAG_STATE: state})
        self.context.heartbeat.remove(run_id)
        error = (reason or "the trial failed") if state == "FAIL" else None
        self.context.store.runs.update(
            run_id, status=_STATUS.get(state, "FAILED"), end_time=end, error=error
        )
        if state == "COMPLETE":
            self._consider_best(frozen, run_id, model, end)

    def finish_leftovers(self, study: Any) -> None:
        """Record the trials whose callback never ran (an exception or interrupt ended the study)."""
        with self._lock:
            numbers = set(self._open)
        if not numbers:
            return
        for frozen in study.get_trials(deepcopy=False):
            if frozen.number in numbers:
                self.finish(frozen)

    def _metrics(self, frozen: Any, end: int) -> MetricBatch:
        batch = MetricBatch()
        if frozen.intermediate_values:
            key = f"intermediate_{self.metrics[0]}"
            for step, value in sorted(frozen.intermediate_values.items()):
                batch.append(key, float(value), int(step), end)
        for key, value in zip(self.metrics, frozen.values or (), strict=False):
            batch.append(key, float(value), 0, end)
        return batch

    def _consider_best(self, frozen: Any, run_id: str, model: Any, end: int) -> None:
        if len(self.directions) != 1:
            return
        value = float(frozen.values[0])
        with self._lock:
            best = self.best
            improved = best is None or (
                value < best.value if self.directions[0] == "minimize" else value > best.value
            )
            if not improved:
                return
            self.best = BestTrial(frozen.number, value, run_id, model)
        # The study run's best-so-far curve: step = trial number.
        self.context.writer.log_metric(
            self.parent_run_id, f"best_{self.metrics[0]}", value, frozen.number, end
        )


def _params(params: dict[str, Any]) -> dict[str, str]:
    """Return the trial's params as Perennia params, skipping names the tracker cannot hold."""
    clean: dict[str, str] = {}
    for key, value in params.items():
        try:
            clean[validate_key(key, "param key")] = validate_param_value(key, value)
        except InvalidInput as error:
            # The trial has already run; refusing now would lose it. Optuna keeps the value.
            logger.warning("trial param %r not recorded: %s", key, error)
    return clean


def _ms(moment: Any) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)
