"""The study and its run: create or join an Optuna study, find or create its parent run, close it.

Several processes sharing a study through RDB storage must end up under one parent run. The
process whose `create_new_study` succeeded creates the run and writes its id into the study's
user attributes (`perennia.parent_run_id`) before it runs a trial; a process that joined the
study waits for that attribute, so no two parents are made for one study. A study made earlier
by plain Optuna (trials but no attribute) gets a parent at once.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from typing import Any

from perennia.clock import now_ms
from perennia.entities import MetricBatch, Param, Run, RunTag
from perennia.errors import Conflict, InvalidInput, NotFound
from perennia.store.validation import validate_key, validate_param_value
from perennia.tracking.context import TrackingContext
from perennia.tracking.source import current_user, git_commit, source_name

logger = logging.getLogger(__name__)

PARENT_ATTR = "perennia.parent_run_id"
_WAIT_SECONDS = 10.0


def open_study(
    storage: Any,
    study_name: str | None,
    directions: list[str],
    sampler: Any,
    pruner: Any,
    load_if_exists: bool,
) -> tuple[Any, bool]:
    """Return (the study, whether this call created it)."""
    import optuna

    try:
        study = optuna.create_study(
            storage=storage,
            sampler=sampler,
            pruner=pruner,
            study_name=study_name,
            directions=directions,
            load_if_exists=False,
        )
        return study, True
    except optuna.exceptions.DuplicatedStudyError:
        if not load_if_exists:
            raise Conflict(
                f"study {study_name!r} already exists in the storage; pass load_if_exists=True "
                "to add trials to it, or choose another study_name"
            ) from None
    study = optuna.load_study(
        study_name=study_name, storage=storage, sampler=sampler, pruner=pruner
    )
    found = [d.name.lower() for d in study.directions]
    if found != directions:
        raise InvalidInput(
            f"study {study_name!r} has directions {found}, not {directions}; pass the same "
            "direction(s) as the study was created with"
        )
    return study, False


def open_parent(
    context: TrackingContext,
    study: Any,
    created: bool,
    *,
    experiment_id: str,
    parent_of: str | None,
    run_name: str | None,
    tags: dict[str, str],
) -> Run:
    """Return the study's parent run: made now by the study's creator, else the creator's."""
    existing = None if created else _wait_for_parent(study)
    if existing is not None:
        try:
            run = context.store.runs.get(existing)
        except NotFound:
            raise NotFound(
                f"study {study.study_name!r} belongs to run {existing}, which is not in the tracking "
                f"store {context.tracking_uri!r}; track to the store the study was started with"
            ) from None
        context.store.runs.update(existing, status="RUNNING")
    else:
        run = context.store.runs.create(
            experiment_id,
            run_name=run_name or study.study_name,
            user_id=current_user(),
            tags=tags,
            parent_run_id=parent_of,
            source_name=source_name(),
            git_commit=git_commit(),
        )
        study.set_user_attr(PARENT_ATTR, run.info.run_id)
    context.heartbeat.add(run.info.run_id)
    return run


def _wait_for_parent(study: Any) -> str | None:
    """Return the parent run id the study's creator recorded, waiting while it is being made."""
    deadline = time.monotonic() + _WAIT_SECONDS
    while True:
        parent = study.user_attrs.get(PARENT_ATTR)
        if parent is not None:
            return str(parent)
        # Trials but no parent: the study was made without Perennia, so this process adopts it.
        if study.get_trials(deepcopy=False) or time.monotonic() > deadline:
            return None
        time.sleep(0.05)


def record_best(
    context: TrackingContext, study: Any, parent_run_id: str, metric: str
) -> tuple[Any, str | None]:
    """Write the study's best trial on the parent (params, best value, tags); return (trial, run id)."""
    from optuna.trial import TrialState

    from perennia.automation.tuning.recorder import RUN_ID_ATTR

    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    tags = [RunTag("perennia.tune.n_trials", str(len(trials)))]
    if len(study.directions) != 1 or not complete:
        if complete:
            front = ",".join(str(t.number) for t in study.best_trials)
            tags.append(RunTag("perennia.tune.best_trials", front[:4000]))
        context.store.log_batch(parent_run_id, tags=tags)
        return None, None
    best = study.best_trial
    best_run = best.user_attrs.get(RUN_ID_ATTR)
    tags += [RunTag("perennia.tune.best_trial", str(best.number))]
    if best_run:
        tags.append(RunTag("perennia.tune.best_run_id", str(best_run)))
    metrics = MetricBatch()
    # Step = trials in the study, past every trial number: the latest value is the final best.
    metrics.append(f"best_{metric}", float(best.value), len(trials), now_ms())
    context.store.log_batch(parent_run_id, metrics, (), tags)
    params = _best_params(best.params)
    try:
        context.store.log_batch(parent_run_id, params=params)
    except Conflict:
        # Params are immutable: in a shared study another process logged an earlier best's.
        logger.warning(
            "study run %s keeps its params from an earlier best; the tags "
            "perennia.tune.best_trial/best_run_id name the current best trial",
            parent_run_id,
        )
    return best, best_run


def _best_params(params: dict[str, Any]) -> list[Param]:
    clean = []
    for key, value in params.items():
        with contextlib.suppress(InvalidInput):  # the trial runs already warned about it
            clean.append(Param(validate_key(key), validate_param_value(key, value)))
    return clean


def log_model_on(run: Run, model: Any, name: str = "model") -> str:
    """Log `model` as a Perennia model package at `name` on `run`; return its runs:/ URI."""
    from perennia.models import log_model

    with active_run(run):
        return log_model(model, name=name).model_uri


@contextlib.contextmanager
def active_run(run: Run) -> Iterator[None]:
    """Make `run` this thread's active fluent run for the block (so fluent calls log to it)."""
    from perennia.tracking import fluent

    stack = fluent._stack()
    active = fluent.ActiveRun(run)
    stack.append(active)
    try:
        yield
    finally:
        # Remove exactly ours, even if the block left nested runs of its own open above it.
        for index in range(len(stack) - 1, -1, -1):
            if stack[index] is active:
                del stack[index]
                break
