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
from typing import Any

from perennia.automation.retraining import promotion
from perennia.clock import now_ms
from perennia.entities import Retraining, RetrainingPolicy
from perennia.errors import InvalidInput, NotFound

log = logging.getLogger(__name__)
RETRAINING_TAG = "perennia.retraining"
# A retraining found "training" was started by an advance that is still running the pipeline,
# or by one that died. Only once it has been quiet this long is the pipeline run again.
STALE_TRAINING_MS = 15 * 60 * 1000
DEFAULT_RESAMPLES = 200


def step(retraining: Retraining, policy: RetrainingPolicy, store: Any) -> Retraining:
    """Return the retraining after moving it on by one state (as it was when it must wait)."""
    if not retraining.active:
        return retraining
    if retraining.state == "training" and now_ms() - retraining.updated_ms < STALE_TRAINING_MS:
        return retraining
    handlers = {
        "triggered": train,
        "training": train,
        "evaluating": evaluate,
        "awaiting_approval": promotion.check_approval,
        "canary": promotion.watch_canary,
    }
    return handlers[retraining.state](retraining, policy, store)


def train(retraining: Retraining, policy: RetrainingPolicy, store: Any) -> Retraining:
    """Return the retraining after its pipeline ran: evaluating a registered challenger, or failed."""
    retrainings = store.retraining
    params, data_ref = _params(policy, store)
    again = " again (the previous attempt did not finish)" if retraining.state == "training" else ""
    retrainings.update_retraining(
        retraining.id,
        "training",
        f"pipeline {policy.pipeline} started{again}",
        detail={"params": params, **({"data": data_ref} if data_ref else {})},
    )
    run_id, model_uri, error = _run_pipeline(policy, retraining.id, params)
    if error is not None:
        return retrainings.update_retraining(
            retraining.id,
            "failed",
            "pipeline failed; the champion is untouched",
            pipeline_run_id=run_id,
            reason=f"the pipeline failed: {error}"[:2000],
        )
    retrainings.update_retraining(
        retraining.id,
        "training",
        f"pipeline run {run_id or '(untracked)'} finished with model {model_uri}",
        pipeline_run_id=run_id,
        detail={"model_uri": model_uri},
    )
    return _register(retraining, policy, store, model_uri)


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
        return store.retraining.update_retraining(
            retraining.id,
            "failed",
            "the challenger could not be registered; the champion is untouched",
            reason=f"registering {model_uri} failed: {exc}"[:2000],
        )
    champion = promotion.champion_version(policy)
    return store.retraining.update_retraining(
        retraining.id,
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
        store.retraining.update_retraining(
            retraining.id,
            "evaluating",
            f"no @{alias} yet: version {retraining.challenger_version} has no champion to beat",
        )
        return promotion.seek_approval(retraining, policy, store)
    try:
        comparison, eval_ref = _compare(retraining, policy)
    except Exception as exc:  # noqa: BLE001 - any failure to judge leaves the champion in place
        return store.retraining.update_retraining(
            retraining.id,
            "failed",
            "the comparison could not run; the champion is untouched",
            reason=f"comparing with @{alias} failed: {type(exc).__name__}: {exc}"[:2000],
        )
    outcomes = [o.to_dict() for o in comparison.outcomes]
    detail = {"comparison": {"eval_data": eval_ref, "passed": comparison.passed, "gates": outcomes}}
    if not comparison.passed:
        failed = "; ".join(str(o) for o in comparison.failures())
        return store.retraining.update_retraining(
            retraining.id,
            "gate_failed",
            f"challenger lost to @{alias} on {eval_ref}; the champion is untouched",
            reason=f"gate failed: {failed}"[:2000],
            detail=detail,
        )
    store.retraining.update_retraining(
        retraining.id,
        "evaluating",
        f"challenger passed {len(outcomes)} gate(s) against @{alias} on {eval_ref}",
        detail=detail,
    )
    return promotion.seek_approval(retraining, policy, store)


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
    policy: RetrainingPolicy, retraining_id: int, params: dict[str, Any]
) -> tuple[str | None, str | None, str | None]:
    """Return (run id, model URI, error): the pipeline's run and model, or why it failed."""
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
