"""`perennia demo --loop`: the closed loop, from drifting traffic to a promoted challenger.

Everything is real and runs in this process on the embedded store in `./.perennia`:
  train     version 1 of the model is trained on a registered data version and is @champion;
            @champion is guarded: moving it needs a reviewer's approval.
  serve     the inference server (`perennia serve --deployment`, `live_server.py`) answers
            for the deployment, which follows @champion, and logs every prediction.
  drift     the callers' rows drift (every feature scaled up, as after a change of units
            upstream); a monitor of the deployment compares the traffic with the training
            profile, and its drift rule fires an alert.
  retrain   the retraining policy's alert trigger starts a retraining (`check_due_policies`,
            what `perennia server` runs on its own): the training function runs on the newest
            data version, the challenger is registered and compared with the champion on fresh
            labelled rows under the model's success criteria.
  approve   an approval request waits for the reviewer, who approves it.
  canary    the challenger answers half the traffic, then all of it; between steps the
            rollout controller analyses the log (errors, latency, prediction drift).
  promote   the canary is promoted, @champion is the challenger, and the monitor's reference
            moves to the new version's training profile.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from perennia.errors import NotFound, PerenniaError

MODEL = "breast-cancer-loop"
DEPLOYMENT = "breast-cancer-loop-api"
MONITOR = "breast-cancer-loop-inputs"
TRAIN = "breast-cancer-loop-train"
EVAL = "breast-cancer-loop-eval"
TARGET = "target"
REVIEWER = "demo-reviewer"
DRIFT = 1.6  # the drifted stream's features are the held-out rows' times this
HOUR = 3_600_000
CHUNK = 50
MAX_CHUNKS = 40


def train(data: str, C: float = 1.0) -> str:
    """Return the runs:/ URI of a logistic regression trained on dataset version `data`.

    This is the loop's training pipeline: the retraining policy names it by entrypoint
    (`perennia.demo.loop:train`), as it would name a user's script.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from perennia.data.versions import load
    from perennia.models import log_model
    from perennia.models.signature import infer_signature
    from perennia.monitoring.monitors.reference import log_reference_profile
    from perennia.tracking import fluent

    with fluent.start_run(run_name=f"train C={C:g}"):
        frame = load(data)
        X, y = frame.drop(columns=[TARGET]), frame[TARGET]
        model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=1000))
        fluent.log_params({"C": C, "data": data})
        info = log_model(model.fit(X, y), "model", signature=infer_signature(X))
        log_reference_profile(X)
    return info.model_uri


@dataclass
class LoopSummary:
    """Where each record of the loop is: ids, versions, events, files."""

    model: str
    champion_version: int
    retraining: Any = None
    events: list[Any] = field(default_factory=list)
    alert: Any = None
    approval: Any = None
    deployment_events: list[Any] = field(default_factory=list)
    monitor_reference: str = ""
    tracking_uri: str = ""
    log_location: str = ""


def run_loop(seed: int = 0, say: Callable[[str], None] | None = None) -> LoopSummary:
    """Run the whole loop once (see the module docstring) and return where everything is."""
    from perennia.data.predlog import default_location
    from perennia.demo.deployment import check_requirements
    from perennia.tracking.client import Client

    check_requirements()
    tell = say or (lambda _text: None)
    client = Client()
    log_location = default_location(client.settings)
    eval_frame = _register_data(seed)
    champion = _train_champion()
    tell(f"trained version {champion} of {MODEL} (@champion, guarded by an approval policy)")
    summary = LoopSummary(MODEL, champion, tracking_uri=client.tracking_uri)
    summary.log_location = log_location
    _fresh_deployment(champion)
    _monitor(champion)
    _policy()
    _serve_and_close_the_loop(summary, eval_frame, log_location, seed, tell)
    _collect(summary, client.store)
    return summary


def _register_data(seed: int) -> Any:
    """Register the training and the fresh labelled versions; return the labelled frame."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    from perennia.data.versions import register

    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    train_rows, eval_rows = train_test_split(
        frame, test_size=0.4, stratify=frame[TARGET], random_state=seed
    )
    register(TRAIN, train_rows.reset_index(drop=True), description="the loop's training rows")
    register(EVAL, eval_rows.reset_index(drop=True), description="fresh labelled rows")
    return eval_rows.reset_index(drop=True)


def _train_champion() -> int:
    from perennia.registry import register_model, set_alias, set_approval_policy
    from perennia.registry.success_criteria import set_success_criteria

    version = register_model(train(f"{TRAIN}@latest", C=0.01), MODEL).version
    try:
        set_alias(MODEL, "champion", version)
    except PerenniaError:
        # A second run in the same folder: @champion is guarded since the first.
        from perennia.registry import approve, request_approval

        approve(request_approval(MODEL, version, "champion").request_id, reviewer=REVIEWER)
    set_success_criteria(
        MODEL,
        "tell malignant from benign as well as the champion does",
        ["roc_auc >= baseline - 0.01"],
    )
    set_approval_policy(MODEL, "champion", required_approvals=1, reviewer_role="any")
    return version


def _fresh_deployment(version: int) -> Any:
    from perennia.registry import deployments

    with contextlib.suppress(NotFound):
        deployments.delete_deployment(DEPLOYMENT)
    return deployments.create_deployment(
        DEPLOYMENT, MODEL, version, alias="champion", description="perennia demo --loop"
    )


def _monitor(version: int) -> None:
    from perennia.monitoring import create_monitor, delete_monitor

    with contextlib.suppress(NotFound):
        delete_monitor(MONITOR)
    rule = {
        "name": "InputsDrifted",
        "monitor": MONITOR,
        "value": "drift.share_drifted",
        "op": ">",
        "threshold": 0.25,
    }
    create_monitor(
        MONITOR,
        deployment=DEPLOYMENT,
        reference=f"models:/{MODEL}/{version}",
        window="1h",
        model=f"models:/{MODEL}/{version}",
        alerts=[rule],
    )


def _policy() -> Any:
    from perennia.automation.retraining import delete_policy, set_policy
    from perennia.entities import CanaryPolicy

    # A second run in the same folder starts afresh (no cooldown from the first); the first
    # run's retrainings stay as history.
    with contextlib.suppress(NotFound):
        delete_policy(MODEL)
    canary = CanaryPolicy(
        steps=(50.0, 100.0),
        min_requests=60,
        max_p99_latency_ratio=1000.0,  # both models answer in about a millisecond: see
        max_p99_latency_ms=1000.0,  # perennia.demo.deployment.CANARY_POLICY
        max_prediction_psi=0.5,
    )
    return set_policy(
        MODEL,
        pipeline="perennia.demo.loop:train",
        triggers=[{"kind": "alert", "monitor": MONITOR, "rule": "InputsDrifted"}],
        data=TRAIN,
        params={"C": 1.0},
        eval_data=EVAL,
        target=TARGET,
        deployment=DEPLOYMENT,
        canary=canary,
        cooldown="1h",
    )


def _serve_and_close_the_loop(
    summary: LoopSummary, frame: Any, log_location: str, seed: int, tell: Callable[[str], None]
) -> None:
    from perennia.demo.live_server import LiveServer
    from perennia.demo.traffic import Traffic

    server = LiveServer(_serve_config(summary.tracking_uri, log_location)).start()
    X = frame.drop(columns=[TARGET]) * DRIFT
    traffic = Traffic(server.url, DEPLOYMENT, X, frame[TARGET], seed)
    try:
        traffic.label(traffic.send(200))
        server.flush_log(expected_rows=traffic.answered)
        tell(f"served 200 requests of drifted rows (features x{DRIFT:g}) through {server.url}")
        summary.alert = _watch(log_location)
        tell(f"monitor {MONITOR}: alert {summary.alert.rule} fired")
        retraining = _retrain(summary, tell)
        if retraining.state == "canary":
            retraining = _drive_canary(retraining.id, server, traffic, log_location, tell)
        summary.retraining = retraining
    finally:
        traffic.close()
        server.stop()


def _serve_config(tracking_uri: str, log_location: str) -> Any:
    from perennia.serving.config import ServeConfig

    return ServeConfig(
        deployment=DEPLOYMENT,
        tracking_uri=tracking_uri,
        log_location=log_location,
        poll_interval_s=0.05,
        controller=False,  # the loop calls the rollout controller's `advance` between chunks
    )


def _watch(log_location: str) -> Any:
    """Run the monitor over the served hour; return the alert event it raised."""
    from perennia.clock import now_ms
    from perennia.data.session import current_store
    from perennia.monitoring import run_monitor

    run_monitor(MONITOR, until_ms=now_ms() + 2 * HOUR, location=log_location)
    events = current_store().alerts.list_alert_events(monitor=MONITOR, status="firing", limit=1)
    if not events:
        raise PerenniaError(f"monitor {MONITOR} raised no alert on the drifted traffic")
    return events[0]


def _retrain(summary: LoopSummary, tell: Callable[[str], None]) -> Any:
    """Let the policy's check start the retraining; approve it as the reviewer; return it."""
    from perennia.automation.retraining import advance, check_due_policies, list_retrainings
    from perennia.clock import now_ms
    from perennia.data.session import current_store
    from perennia.registry import approve

    before = {r.id for r in list_retrainings(MODEL)}
    check_due_policies(current_store(), "perennia-demo", now_ms=now_ms())
    started = [r for r in list_retrainings(MODEL) if r.id not in before]
    if not started:
        raise PerenniaError(f"the alert started no retraining of {MODEL}")
    retraining = started[0]
    tell(f"retraining {retraining.id}: {retraining.trigger.get('reason')} -> {retraining.state}")
    if retraining.state != "awaiting_approval":
        return retraining
    summary.approval = approve(
        retraining.approval_request_id, comment="gates passed; go", reviewer=REVIEWER
    )
    tell(f"{REVIEWER} approved request {retraining.approval_request_id}")
    return advance(retraining.id)


def _drive_canary(
    retraining_id: int, server: Any, traffic: Any, log_location: str, tell: Callable[[str], None]
) -> Any:
    """Send traffic and run the rollout controller until the retraining leaves its canary."""
    from perennia.automation.retraining import advance
    from perennia.data.session import current_store
    from perennia.registry.deployments import get_deployment
    from perennia.serving.rollout import advance as analyse

    store = current_store()
    for _ in range(MAX_CHUNKS):
        server.wait_applied(get_deployment(DEPLOYMENT).revision)
        traffic.label(traffic.send(CHUNK))
        server.flush_log(expected_rows=traffic.answered)
        decision = analyse(store, DEPLOYMENT, log_location, no_data_after_s=120.0)
        if decision.action not in ("idle", "waiting"):
            tell(f"canary analysis: {decision.analysis.get('verdict')} -> {decision.action}")
        retraining = advance(retraining_id)
        if retraining.state != "canary":
            return retraining
    raise PerenniaError(f"the canary of retraining {retraining_id} was still undecided")


def _collect(summary: LoopSummary, store: Any) -> None:
    from perennia.automation.retraining import retraining_events
    from perennia.monitoring import get_monitor
    from perennia.registry import get_approval_request

    retraining = summary.retraining
    summary.events = retraining_events(retraining.id)
    if retraining.approval_request_id and summary.approval is None:
        summary.approval = get_approval_request(retraining.approval_request_id)
    summary.deployment_events = list(reversed(store.deployments.events(DEPLOYMENT, 20)))
    summary.monitor_reference = get_monitor(MONITOR).reference
