"""The retraining state machine, first half: train the challenger, register it, judge it.

`step(retraining, policy, store)` moves a retraining on by one state and records each thing it
did as an event (`store.retraining.update_retraining`), so `perennia retrain show ID` reads as
the story of the retraining: the trigger, the pipeline run (tagged with the retraining's id),
the challenger registered from it, the comparison with the champion on fresh labelled data and
each gate's outcome. A failed pipeline or a failed gate ends the retraining with its reason and
touches nothing the champion depends on. The second half (approval, canary, promotion) is in
`promotion.py`.

Registry writes go through the registry SDK, so they act on the process's tracking store (the
server's own inside `perennia server`) as the process's user, and are audited as such.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any

from perennia.automation.retraining import promotion
from perennia.automation.retraining.moves import Superseded, move
from perennia.clock import now_ms
from perennia.entities import Retraining, RetrainingPolicy
from perennia.errors import InvalidInput, NotFound

log = logging.getLogger(__name__)
RETRAINING_TAG = "perennia.retraining"
# A retraining found "training" is either being trained by another advance (maybe in another
# process) or was abandoned by one that died. Its pipeline's tracking run says which: alive while
# RUNNING with a fresh heartbeat. Without a recorded run (a function entrypoint, or the moments
# before the pipeline starts) only this long a silence counts as abandoned.
STALE_TRAINING_MS = 15 * 60 * 1000
# Once the pipeline run has ended, the advance that ran it registers the model; only when nothing
# moved the retraining on for this long was that advance lost.
HANDOFF_MS = 5 * 60 * 1000
DEFAULT_RESAMPLES = 200


def step(retraining: Retraining, policy: RetrainingPolicy, store: Any) -> Retraining:
    """Return the retraining after moving it on by one state (as it was when it must wait).

    Raises Superseded when another process moved it meanwhile.
    """
    if not retraining.active:
        return retraining
    if retraining.state == "training":
        why = abandoned(retraining, store)
        if why is None:
            return retraining
        again = move(store, retraining, "triggered", f"training abandoned: {why}; retrying")
        return train(again, policy, store, again=True)
    handlers = {
        "triggered": train,
        "evaluating": evaluate,
        "awaiting_approval": promotion.check_approval,
        "canary": promotion.watch_canary,
    }
    return handlers[retraining.state](retraining, policy, store)


def abandoned(retraining: Retraining, store: Any) -> str | None:
    """Return why a "training" retraining counts as abandoned, or None while it is being trained."""
    now = now_ms()
    run_id = retraining.detail.get("live_run")
    if not run_id:
        quiet = now - retraining.updated_ms
        if quiet < STALE_TRAINING_MS:
            return None
        return f"no pipeline run recorded and nothing heard for {quiet // 60_000} min"
    try:
        info = store.runs.get(run_id).info
    except NotFound:
        return f"its pipeline run {run_id} is gone"
    if info.status == "RUNNING":
        silent = now - (info.heartbeat_time or info.start_time)
        if silent <= _heartbeat_timeout_ms():
            return None
        return f"its pipeline run {run_id} sent no heartbeat for {silent // 1000} s"
    if now - max(info.end_time or 0, retraining.updated_ms) < HANDOFF_MS:
        return None
    return f"its pipeline run {run_id} ended {info.status} and nothing moved the retraining on"


def _heartbeat_timeout_ms() -> int:
    from perennia.config import Settings

    return int(Settings.from_env().heartbeat_timeout * 1000)


class _RunRecorder:
    """Records the pipeline's run on the retraining the moment it starts (its liveness)."""

    def __init__(self, store: Any, retraining: Retraining) -> None:
        self.store, self.retraining = store, retraining
        self.lost: Superseded | None = None

    def started(self, run_id: str) -> None:
        """Record `run_id` as the retraining's live pipeline run (never raises into the runner)."""
        try:
            self.retraining = move(
                self.store,
                self.retraining,
                "training",
                f"pipeline run {run_id} started",
                pipeline_run_id=run_id,
                detail={"live_run": run_id},
            )
        except Superseded as exc:
            self.lost = exc
        except Exception:  # noqa: BLE001 - the pipeline runs on; liveness falls back to time
            log.warning(
                "retraining %s: recording run %s failed", self.retraining.id, run_id, exc_info=True
            )

    def current(self) -> Retraining:
        """Return the retraining as last moved; Superseded when another process took it over."""
        if self.lost is not None:
            raise self.lost
        return self.retraining


def train(
    retraining: Retraining, policy: RetrainingPolicy, store: Any, *, again: bool = False
) -> Retraining:
    """Return the retraining after its pipeline ran: evaluating a registered challenger, or failed."""
    params, data_ref = _params(policy, store)
    note = " again (the previous attempt did not finish)" if again else ""
    detail = {"params": params, "live_run": None, **({"data": data_ref} if data_ref else {})}
    training = move(
        store, retraining, "training", f"pipeline {policy.pipeline} started{note}", detail=detail
    )
    recorder = _RunRecorder(store, training)
    run_id, model_uri, error = _run_pipeline(policy, training.id, params, recorder.started)
    training = recorder.current()
    if error is not None:
        return move(
            store,
            training,
            "failed",
            "pipeline failed; the champion is untouched",
            pipeline_run_id=run_id,
            reason=f"the pipeline failed: {error}"[:2000],
        )
    finished = move(
        store,
        training,
        "training",
        f"pipeline run {run_id or '(untracked)'} finished with model {model_uri}",
        pipeline_run_id=run_id,
        detail={"model_uri": model_uri},
    )
    return _register(finished, policy, store, model_uri)


def _register(
    retraining: Retraining, policy: RetrainingPolicy, store: Any, model_uri: str
) -> Retraining:
    from perennia.registry import register_model

    tags = {RETRAINING_TAG: str(retraining.id), f"{RETRAINING_TAG}.trigger": _kind(retraining)}
    try:
        version = register_model(
            model_uri,
            policy.model_name,
            description=f"challenger of retraining {retraining.id}",
            tags=tags,
        )
    except (InvalidInput, NotFound) as exc:
        return move(
            store,
            retraining,
            "failed",
            "the challenger could not be registered; the champion is untouched",
            reason=f"registering {model_uri} failed: {exc}"[:2000],
        )
    champion = promotion.champion_version(policy)
    return move(
        store,
        retraining,
        "evaluating",
        f"challenger version {version.version} of {policy.model_name} registered",
        challenger_version=version.version,
        champion_version=champion,
        detail={"model_uri": model_uri},
    )


def evaluate(retraining: Retraining, policy: RetrainingPolicy, store: Any) -> Retraining:
    """Return the retraining after comparing the challenger with the champion under the gates."""
    config = policy.config
    alias = config.get("alias", "champion")
    if retraining.champion_version is None:
        noted = move(
            store,
            retraining,
            "evaluating",
            f"no @{alias} yet: version {retraining.challenger_version} has no champion to beat",
        )
        return promotion.seek_approval(noted, policy, store)
    try:
        comparison, eval_ref = _compare(retraining, policy)
    except Exception as exc:  # noqa: BLE001 - any failure to judge leaves the champion in place
        return move(
            store,
            retraining,
            "failed",
            "the comparison could not run; the champion is untouched",
            reason=f"comparing with @{alias} failed: {type(exc).__name__}: {exc}"[:2000],
        )
    outcomes = [o.to_dict() for o in comparison.outcomes]
    detail = {"comparison": {"eval_data": eval_ref, "passed": comparison.passed, "gates": outcomes}}
    if not comparison.passed:
        failed = "; ".join(str(o) for o in comparison.failures())
        return move(
            store,
            retraining,
            "gate_failed",
            f"challenger lost to @{alias} on {eval_ref}; the champion is untouched",
            reason=f"gate failed: {failed}"[:2000],
            detail=detail,
        )
    passed = move(
        store,
        retraining,
        "evaluating",
        f"challenger passed {len(outcomes)} gate(s) against @{alias} on {eval_ref}",
        detail=detail,
    )
    return promotion.seek_approval(passed, policy, store)


def _compare(retraining: Retraining, policy: RetrainingPolicy) -> tuple[Any, str]:
    """Return the comparison of challenger and champion, and the evaluation data's version."""
    from perennia.data.session import resolve
    from perennia.data.versions import load
    from perennia.registry.success_criteria import compare_with_champion

    config = policy.config
    version = resolve(config["eval_data"])
    frame = load(version, context=None)
    result = compare_with_champion(
        f"models:/{policy.model_name}/{retraining.challenger_version}",
        frame,
        config["target"],
        name=policy.model_name,
        alias=config.get("alias", "champion"),
        gates=config.get("gates"),
        task=config.get("task", "binary"),
        n_resamples=int(config.get("n_resamples", DEFAULT_RESAMPLES)),
        dataset_name=version.ref,
    )
    return result, version.ref


def _params(policy: RetrainingPolicy, store: Any) -> tuple[dict[str, Any], str | None]:
    """Return the pipeline's params, with `data` resolved to the version it trains on."""
    from perennia.data.session import resolve

    params = dict(policy.config.get("params") or {})
    data = policy.config.get("data")
    if not data:
        return params, None
    ref = resolve(data, store).ref
    params["data"] = ref
    return params, ref


def _run_pipeline(
    policy: RetrainingPolicy,
    retraining_id: int,
    params: dict[str, Any],
    on_start: Callable[[str], None],
) -> tuple[str | None, str | None, str | None]:
    """Return (run id, model URI, error): the pipeline's run and model, or why it failed.

    A Pipeline calls `on_start(run_id)` once its tracking run exists.
    """
    from perennia.automation.pipeline.pipeline import Pipeline
    from perennia.automation.retraining.policy import check_target

    try:
        target = check_target(policy.pipeline)
        if inspect.isroutine(target) or not callable(getattr(target, "run", None)):
            uri = target(**params)
            if not isinstance(uri, str) or not uri:
                return None, None, f"{policy.pipeline} returned {uri!r:.80}, not a model URI"
            run_id = _run_of(uri)
            _tag(run_id, retraining_id)
            return run_id, uri, None
        if isinstance(target, Pipeline):
            run = target.run(params=params, on_start=on_start)
        else:
            run = target.run(params=params)
    except Exception as exc:  # noqa: BLE001 - the training code is the user's: record any failure
        log.warning(
            "retraining %s: pipeline %s raised", retraining_id, policy.pipeline, exc_info=True
        )
        return None, None, f"{type(exc).__name__}: {exc}"
    _tag(run.run_id, retraining_id)
    if run.status != "FINISHED":
        return run.run_id, None, f"run {run.run_id} {run.status}: {run.error or 'no error given'}"
    try:
        return run.run_id, run.model_uri(policy.config.get("output", "model")), None
    except Exception as exc:  # noqa: BLE001 - a pipeline without the model output
        return run.run_id, None, f"{type(exc).__name__}: {exc}"


def _run_of(uri: str) -> str | None:
    """Return the run id of a runs:/ URI (None for another kind of URI)."""
    if not uri.startswith("runs:/"):
        return None
    return uri[len("runs:/") :].split("/", 1)[0] or None


def _tag(run_id: str | None, retraining_id: int) -> None:
    """Tag the pipeline's run with the retraining that started it."""
    from perennia.tracking.client import Client

    if run_id:
        Client().set_tag(run_id, RETRAINING_TAG, str(retraining_id))


def _kind(retraining: Retraining) -> str:
    return str(retraining.trigger.get("kind", "manual"))
