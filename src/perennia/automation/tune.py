"""`tune`: an Optuna study recorded as one tree of runs, the best trial's params and model on top.

    from perennia.automation.tune import tune, log_trial_model

    def objective(trial, params):             # params: the declared space, already suggested
        model = Ridge(alpha=params["alpha"]).fit(X_train, y_train)
        log_trial_model(trial, model)          # kept only if this trial ends best
        return mean_squared_error(y_val, model.predict(X_val))

    result = tune(objective, {"alpha": ("float", 1e-3, 10, {"log": True})}, n_trials=50, seed=0)
    result.best_params, result.best_value, result.model_uri   # runs:/<study run>/model

The objective is Optuna's define-by-run function: `objective(trial)` without a space, or
`objective(trial, params)` with one (the space's values are suggested first, in order, through
the trial's own `suggest_*` calls, so results match the same calls written by hand). It returns
the value (or one value per direction), may `trial.report(value, step)` and
`raise optuna.TrialPruned()` on `trial.should_prune()`, and runs with its trial's run active, so
`perennia.log_metric(...)` or `perennia.models.log_model(...)` inside it log to that trial.

Runs: one parent run for the study (tag `perennia.tune.study`), one nested run per trial with
its params, the metric `<metric>` (the final value), the history `intermediate_<metric>`
(step = report step), tags `perennia.tune.trial`, `perennia.tune.study`, `perennia.tune.state`
(COMPLETE, PRUNED, FAIL), and status FINISHED, KILLED (pruned) or FAILED. The parent gets the
best trial's params, `best_<metric>` (its history is the best-so-far curve), the tags
`perennia.tune.best_trial` and `perennia.tune.best_run_id`, and the model that trial passed to
`log_trial_model`, as a model package at `model`.

Several processes or machines share a study through Optuna's RDB storage: give the same
`study_name` and `storage` (a database URL, or "perennia" for the tracking store's own
database); their trials all land under one parent run. Ray is not wired in: run `tune` in each
Ray task against the same RDB storage if you need it.
"""

from __future__ import annotations

import contextlib
import threading
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from perennia.automation.tuning.options import (
    check_budget,
    check_callbacks,
    check_directions,
    check_n_jobs,
    check_objective,
    check_pruner,
    check_study_name,
    make_sampler,
    metric_names,
)
from perennia.automation.tuning.recorder import RUN_ID_ATTR, TAG_STUDY, TrialRecorder
from perennia.automation.tuning.space import check_space, suggest
from perennia.automation.tuning.storage import resolve_storage
from perennia.automation.tuning.study_run import (
    active_run,
    log_model_on,
    open_parent,
    open_study,
    record_best,
)
from perennia.clock import now_ms
from perennia.errors import AlreadyExists, Conflict, InvalidInput, PerenniaError
from perennia.store.validation import validate_name
from perennia.tracking.client import Client

__all__ = ["TuneResult", "log_trial_model", "tune"]

# The recorder of each study being optimised in this process, by id(study): log_trial_model
# finds its study's recorder from the trial alone.
_recorders: dict[int, TrialRecorder] = {}
_recorders_lock = threading.Lock()


@dataclass(frozen=True)
class TuneResult:
    """What `tune` did: the Optuna study, its parent run, the best trial and every trial's run."""

    study: Any
    parent_run_id: str
    best_params: dict[str, Any] | None
    best_value: float | None
    best_run_id: str | None
    trials: dict[int, str]
    model_uri: str | None = None


def log_trial_model(trial: Any, model: Any) -> None:
    """Hold `model` as this trial's model; if the trial ends best, it is logged on the study run."""
    with _recorders_lock:
        recorder = _recorders.get(id(getattr(trial, "study", None)))
    if recorder is None:
        raise InvalidInput(
            "log_trial_model(trial, model) works inside an objective that "
            "perennia.automation.tune.tune is running; pass it that objective's trial"
        )
    recorder.keep_model(trial.number, model)


def tune(
    objective: Callable[..., Any],
    space: dict[str, Any] | None = None,
    n_trials: int | None = None,
    *,
    timeout: float | None = None,
    direction: str | None = None,
    directions: Sequence[str] | None = None,
    metric: str | Sequence[str] = "value",
    sampler: Any = None,
    pruner: Any = None,
    n_jobs: int = 1,
    study_name: str | None = None,
    storage: Any = None,
    load_if_exists: bool = True,
    seed: int | None = None,
    experiment: str | None = None,
    run_name: str | None = None,
    log_best_model: bool = True,
    callbacks: Sequence[Callable[[Any, Any], None]] | None = None,
    catch: tuple[type[Exception], ...] = (),
) -> TuneResult:
    """Run an Optuna study with every trial tracked as a nested run; return a TuneResult.

    `direction` ("minimize", the default, or "maximize") or `directions` (one per value of a
    multi-objective study); `sampler` defaults to TPESampler(seed=seed) and `pruner` to Optuna's
    MedianPruner; `n_jobs` runs trials in threads as Optuna does; `catch` lists exception types
    that fail one trial without stopping the study. Every argument is checked before anything
    runs or is stored.
    """
    plan = _plan(
        objective,
        space,
        n_trials,
        timeout,
        direction,
        directions,
        metric,
        n_jobs,
        sampler,
        pruner,
        seed,
        callbacks,
        study_name,
        catch,
        run_name,
    )
    if not isinstance(log_best_model, bool) or not isinstance(load_if_exists, bool):
        raise InvalidInput("log_best_model and load_if_exists must be True or False")
    opened = _open(plan, storage, load_if_exists, experiment, keep_models=log_best_model)
    return _optimize(plan, *opened, log_model=log_best_model)


@dataclass(frozen=True)
class _Plan:
    """`tune`'s arguments once checked: what the study optimises, how, and for how long."""

    objective: Callable[..., Any]
    distributions: dict[str, Any]
    n_trials: int | None
    timeout: float | None
    directions: list[str]
    metrics: list[str]
    n_jobs: int
    sampler: Any
    pruner: Any
    callbacks: list[Callable[[Any, Any], None]]
    study_name: str | None
    catch: tuple[type[Exception], ...]
    run_name: str | None


def _plan(
    objective: Any,
    space: Any,
    n_trials: Any,
    timeout: Any,
    direction: Any,
    directions: Any,
    metric: Any,
    n_jobs: Any,
    sampler: Any,
    pruner: Any,
    seed: Any,
    callbacks: Any,
    study_name: Any,
    catch: Any,
    run_name: Any,
) -> _Plan:
    """Return `tune`'s study arguments checked, in its order; InvalidInput names the bad one."""
    distributions = check_space(space)
    objective = check_objective(objective, space is not None)
    n_trials, timeout = check_budget(n_trials, timeout)
    dirs = check_directions(direction, directions)
    return _Plan(
        objective=objective,
        distributions=distributions,
        n_trials=n_trials,
        timeout=timeout,
        directions=dirs,
        metrics=metric_names(metric, len(dirs)),
        n_jobs=check_n_jobs(n_jobs),
        sampler=make_sampler(sampler, seed),
        pruner=check_pruner(pruner),
        callbacks=list(check_callbacks(callbacks)),
        study_name=check_study_name(study_name),
        catch=_check_catch(catch),
        run_name=None if run_name is None else validate_name(run_name, "run_name"),
    )


def _optimize(
    plan: _Plan, context: Any, study: Any, parent: Any, recorder: TrialRecorder, *, log_model: bool
) -> TuneResult:
    """Return the result of running the study's trials; the parent ends FAILED if they fail."""
    with _registered(study, recorder):
        try:
            study.optimize(
                _tracked(plan.objective, plan.distributions, recorder),
                n_trials=plan.n_trials,
                timeout=plan.timeout,
                n_jobs=plan.n_jobs,
                catch=plan.catch,
                callbacks=[lambda _study, frozen: recorder.finish(frozen), *plan.callbacks],
            )
            # Inside the try: if recording the best fails, the parent still ends (FAILED).
            return _close(context, study, parent, recorder, plan.metrics[0], log_model)
        except BaseException as error:
            _close_failed(context, study, parent.info.run_id, recorder, error)
            raise


def _open(
    plan: _Plan, storage: Any, load_if_exists: bool, experiment: str | None, *, keep_models: bool
) -> tuple[Any, Any, Any, TrialRecorder]:
    """Return (tracking context, study, parent run, trial recorder), the study joined or created."""
    from perennia.tracking import fluent

    client = Client()
    context = client.context
    outer = fluent.active_run()
    experiment_id = _experiment_id(client, experiment, outer)
    rdb = resolve_storage(storage, context.tracking_uri, plan.n_jobs)
    study, created = open_study(
        rdb, plan.study_name, plan.directions, plan.sampler, plan.pruner, load_if_exists
    )
    parent = open_parent(
        context,
        study,
        created,
        experiment_id=experiment_id,
        parent_of=outer.run_id if outer is not None else None,
        run_name=plan.run_name,
        tags={
            TAG_STUDY: study.study_name,
            "perennia.tune.directions": ",".join(plan.directions),
            "perennia.tune.sampler": type(plan.sampler).__name__,
            "perennia.tune.pruner": type(study.pruner).__name__,
            "perennia.tune.storage": "memory" if rdb is None else type(rdb).__name__,
        },
    )
    recorder = TrialRecorder(
        context,
        experiment_id=parent.info.experiment_id,
        parent_run_id=parent.info.run_id,
        study_name=study.study_name,
        metrics=plan.metrics,
        directions=plan.directions,
        keep_models=keep_models,
    )
    return context, study, parent, recorder


def _tracked(
    objective: Callable[..., Any], distributions: dict[str, Any], recorder: TrialRecorder
) -> Callable[[Any], Any]:
    """Return the objective Optuna runs: open the trial's run, make it active, call the user's."""

    from optuna import TrialPruned

    def run_trial(trial: Any) -> Any:
        """Return the objective's value for `trial`, run with the trial's run active."""
        run = recorder.start(trial)
        with active_run(run):
            try:
                if distributions:
                    value = objective(trial, suggest(trial, distributions))
                else:
                    value = objective(trial)
            except TrialPruned:
                raise
            except (Exception, KeyboardInterrupt) as error:
                recorder.note_failure(trial.number, error)
                raise
        if not (isinstance(value, float | int) and value == value):  # NaN != NaN
            recorder.note_failure(trial.number, None, value)  # kept only if Optuna refuses it
        return value

    return run_trial


@contextlib.contextmanager
def _registered(study: Any, recorder: TrialRecorder):
    with _recorders_lock:
        _recorders[id(study)] = recorder
    try:
        yield
    finally:
        with _recorders_lock:
            _recorders.pop(id(study), None)


def _close(
    context: Any, study: Any, parent: Any, recorder: TrialRecorder, metric: str, log_model: bool
) -> TuneResult:
    """Record the best trial and its model on the parent, end the parent, return the result."""
    parent_id = parent.info.run_id
    recorder.finish_leftovers(study)
    best, best_run = record_best(context, study, parent_id, metric)
    model_uri = None
    kept = recorder.best
    if (
        log_model
        and best is not None
        and kept is not None
        and kept.number == best.number
        and kept.model is not None
    ):
        model_uri = log_model_on(parent, kept.model)
        context.store.log_batch(parent_id, tags=_tags({"perennia.tune.model_trial": best.number}))
    context.writer.flush()
    context.heartbeat.remove(parent_id)
    context.store.runs.update(parent_id, status="FINISHED", end_time=now_ms())
    trials = {
        t.number: str(t.user_attrs[RUN_ID_ATTR])
        for t in study.get_trials(deepcopy=False)
        if RUN_ID_ATTR in t.user_attrs
    }
    return TuneResult(
        study=study,
        parent_run_id=parent_id,
        best_params=dict(best.params) if best is not None else None,
        best_value=float(best.value) if best is not None else None,
        best_run_id=best_run,
        trials=trials,
        model_uri=model_uri,
    )


def _close_failed(
    context: Any, study: Any, parent_id: str, recorder: TrialRecorder, error: BaseException
) -> None:
    """End the trial runs left open and the parent as FAILED; the study's error propagates."""
    text = "".join(traceback.format_exception_only(type(error), error)).strip()
    try:
        recorder.finish_leftovers(study)
        context.writer.flush()
    except Exception as cleanup:  # noqa: BLE001 - the study's own error is the one to raise
        error.add_note(f"perennia: while recording the failed study: {cleanup}")
    finally:
        context.heartbeat.remove(parent_id)
        with contextlib.suppress(PerenniaError):
            context.store.runs.update(parent_id, status="FAILED", end_time=now_ms(), error=text)


def _experiment_id(client: Client, experiment: Any, outer: Any) -> str:
    """Return the experiment the study run goes to: named, the active run's, or the default."""
    if experiment is None:
        if outer is not None:
            return outer.info.experiment_id
        from perennia.tracking import fluent

        return fluent._default_experiment_id()
    name = validate_name(experiment, "experiment")
    found = client.get_experiment_by_name(name)
    if found is None:
        with contextlib.suppress(AlreadyExists):  # another worker created it first
            client.create_experiment(name)
        found = client.get_experiment_by_name(name)
    if found is None or found.lifecycle_stage != "active":
        raise Conflict(f"experiment {name!r} is deleted; restore it or choose another name")
    return found.experiment_id


def _check_catch(catch: Any) -> tuple[type[Exception], ...]:
    if isinstance(catch, type):
        catch = (catch,)
    if not isinstance(catch, tuple | list) or not all(
        isinstance(c, type) and issubclass(c, Exception) for c in catch
    ):
        raise InvalidInput("catch must be a tuple of exception classes, such as (ValueError,)")
    return tuple(catch)


def _tags(values: dict[str, Any]) -> list[Any]:
    from perennia.entities import RunTag

    return [RunTag(k, str(v)) for k, v in values.items()]
