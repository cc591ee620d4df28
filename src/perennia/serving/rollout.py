"""The canary controller: analyse the current step from the prediction log, then act on it.

`advance` is safe to run from every replica at once: it reads the deployment, analyses the
step's window, and writes the next state by compare-and-set on the revision it read, so of
several replicas deciding the same step exactly one write lands and the rest see a Conflict.

Decisions: a passing analysis moves to the next weight (or promotes at 100); a failing one
rolls back at once; an inconclusive one (too few predictions or labels) waits, and once the
step has waited `no_data_after_s` without enough data it pauses or fails as the policy's
`on_no_data` says. "No data" never passes.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from typing import Any

from perennia.errors import Conflict

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decision:
    """What one call to `advance` did: its action, the analysis behind it, the new revision."""

    action: str  # idle | waiting | canary_step | promote | rollback | pause | raced
    analysis: dict[str, Any] = field(default_factory=dict)
    revision: int | None = None


def read_window(log_location: str, deployment: str, since_ms: int) -> Any:
    """Return the step's predictions (joined with any feedback) as a pandas DataFrame."""
    from perennia.data.predlog import join_feedback, read_feedback, read_predictions

    predictions = read_predictions(log_location, deployment=deployment, since_ms=since_ms)
    feedback = read_feedback(log_location, since_ms=since_ms)
    return join_feedback(predictions, feedback).to_pandas()


def analyse_step(deployment: Any, window: Any, store: Any = None) -> Any:
    """Return the analysis of a canary's current step over its window of the log.

    Too little data is inconclusive here whatever the policy says: the controller judges
    "no data" against the step's age, not at its first look. Given the `store`, a policy
    without `min_metric` takes its bounds from the model's success criteria
    (`criteria_bounds`), and the analysis notes which criteria it used and which it could not.
    """
    from perennia.entities import CanaryPolicy
    from perennia.serving.analysis import analyse_canary

    policy = replace(deployment.policy or CanaryPolicy(), on_no_data="pause")
    notes: list[str] = []
    if not policy.min_metric and store is not None:
        gates = _criteria_gates(store, deployment.model_name)
        bounds, notes = criteria_bounds(gates)
        policy = replace(policy, min_metric=bounds)
    analysis = analyse_canary(window, policy, since_ms=deployment.step_started)
    return replace(analysis, notes=tuple(notes))


def criteria_bounds(gates: Any) -> tuple[dict[str, float], list[str]]:
    """Return the `min_metric` bounds a canary analysis can take from success-criteria gates,
    and a note for each gate saying how it was used or why it was not.

    Only absolute gates on metrics the live analysis computes from labels qualify: a floor on
    accuracy (>= or >, judged as >=) and a ceiling on rmse (<= or <, judged as <=); of several
    on one metric the strictest wins. Gates relative to a baseline, other metrics, and bounds
    the wrong way round are left to offline comparison, with the reason noted.
    """
    from perennia.evaluate.gates import parse_gates
    from perennia.serving.analysis import LIVE_METRICS

    bounds: dict[str, float] = {}
    notes = []
    for gate in parse_gates(list(gates)):
        why = _unusable(gate, LIVE_METRICS)
        if why:
            notes.append(f"success criterion '{gate.text}' not checked live: {why}")
            continue
        higher = LIVE_METRICS[gate.metric]
        value = gate.threshold()
        old = bounds.get(gate.metric)
        bounds[gate.metric] = value if old is None else (max if higher else min)(old, value)
        kind = "floor" if higher else "ceiling"
        notes.append(f"success criterion '{gate.text}' is the canary's {gate.metric} {kind}")
    return bounds, notes


def _unusable(gate: Any, live: dict[str, bool]) -> str | None:
    if gate.needs_baseline:
        return "it is relative to a baseline (bound the canary against stable with max_metric_drop)"
    if gate.metric not in live:
        return f"the live analysis computes only {', '.join(live)} from labels"
    wanted = (">=", ">") if live[gate.metric] else ("<=", "<")
    if gate.op not in wanted:
        return f"a live {gate.metric} bound must use {' or '.join(wanted)}"
    return None


def _criteria_gates(store: Any, model_name: str) -> tuple[str, ...]:
    """Return the gate texts of the model's success criteria (none when it has none)."""
    from perennia.entities.registry import SUCCESS_CRITERIA_TAG, SuccessCriteria

    text = store.registry.get_registered_model(model_name).tags.get(SUCCESS_CRITERIA_TAG)
    return () if text is None else SuccessCriteria.from_json(text).gates


def advance(
    store: Any,
    name: str,
    log_location: str,
    *,
    no_data_after_s: float = 600.0,
    now_ms: int | None = None,
) -> Decision:
    """Analyse deployment `name`'s canary step and move it on; return what was done."""
    from perennia.entities import CanaryPolicy, RolloutState, Strategy

    deployment = store.deployments.get(name)
    if deployment.strategy != Strategy.CANARY or deployment.state != RolloutState.PROGRESSING:
        return Decision("idle")
    now = int(time.time() * 1000) if now_ms is None else now_ms
    window = read_window(log_location, name, deployment.step_started)
    analysis = analyse_step(deployment, window, store)
    detail = analysis.to_dict()
    policy = deployment.policy or CanaryPolicy()
    action, new = _next(deployment, analysis.verdict, policy, now, no_data_after_s)
    if new is None:
        return Decision(action, detail)
    try:
        stored = store.deployments.update(
            new,
            expected_revision=deployment.revision,
            action=action,
            detail={"analysis": detail},
        )
    except Conflict:
        return Decision("raced", detail)
    logger.info("deployment %s: %s (revision %s)", name, action, stored.revision)
    return Decision(action, detail, stored.revision)


def _next(
    deployment: Any, verdict: str, policy: Any, now: int, no_data_after_s: float
) -> tuple[str, Any]:
    from perennia.entities import RolloutState
    from perennia.registry import rollout_steps

    if verdict == "pass":
        # The step after the last (or a step at 100%, where the stable variant would have
        # nothing left to be compared with) is the promotion itself.
        following = rollout_steps.next_canary_step(deployment, now)
        promoted = following.state == RolloutState.PROMOTED
        return ("promote" if promoted else "canary_step"), following
    if verdict == "fail":
        return "rollback", rollout_steps.rolled_back(deployment)
    waited_s = (now - deployment.step_started) / 1000.0
    if waited_s < no_data_after_s:
        return "waiting", None
    if policy.on_no_data == "fail":
        return "rollback", rollout_steps.rolled_back(deployment)
    return "pause", rollout_steps.paused(deployment)


def shadow_report(store: Any, name: str, log_location: str, *, since_ms: int = 0) -> Any:
    """Return how often deployment `name`'s shadow agreed with the variant that answered."""
    from perennia.serving.experiments import shadow_agreement

    deployment = store.deployments.get(name)
    shadows = deployment.shadows
    if not shadows:
        return None
    window = read_window(log_location, name, since_ms)
    return shadow_agreement(window, primary=deployment.stable.name, shadow=shadows[0].name)
