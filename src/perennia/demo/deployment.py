"""The demo's deployment: the champion served, a challenger shadowed, then canaried and promoted.

Everything runs on this machine and in this process, with the real components: the deployment
is stored in the demo's store, the inference server is the app `perennia serve --deployment`
runs (uvicorn on a loopback port, `live_server.py`), and its prediction log goes where that
command would write it, `<artifacts>/prediction-log` in the demo's folder. The callers send
the held-out rows the models never trained on, over both protocols, and post their labels.

The story, stage by stage:
  serving   the champion (`@champion`, approved by a reviewer) takes all traffic.
  shadow    the challenger (the runner-up of the model selection) gets a copy of every request;
            its answers are logged, never returned, and compared with the champion's.
  canary    the challenger answers 25%, then 50% of requests. Between steps `advance` (the
            rollout controller every server replica runs) analyses the step's predictions from
            the log: error rate, p99 latency against the stable variant, drift of the
            predictions (PSI), and live accuracy from the labels. A pass moves to the next step;
            the step after 50% is 100%, the promotion itself.
  promoted  the challenger is the stable variant and serves everything.

The controller would run on its own inside the server (`analysis_interval_s`); the demo calls
`advance` itself once each step has enough predictions, so no step waits for a timer.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

import perennia
from perennia.clock import now_ms
from perennia.demo.deployment_summary import (
    OUTCOMES,
    DeploymentSummary,
    Stage,
    Step,
    stage_rows,
)
from perennia.entities import CanaryPolicy
from perennia.errors import InvalidInput, NotFound, PerenniaError

DEPLOYMENT = "breast-cancer-api"
# The deployment follows its own alias, not `champion`. `champion` is guarded by an approval
# policy, and a deployment may only make a version stable that a guarded alias already points
# at (store/protocols/deployments.py): following `champion`, the canary's automatic promotion
# would stop and wait for a reviewer. That is the right setting for a team that wants a person
# to sign off every production change; the demo shows the other: the reviewed `@champion` is
# what was chosen offline, `@production` is what the live analysis has proven and serves.
ALIAS = "production"
# A canary must earn each step with at least `min_requests` predictions from each variant. On
# the 143 held-out rows 100 per side keeps the prediction-drift (PSI) check from reacting to
# which rows each side happened to draw. Both demo models answer in about a millisecond, where
# one scheduling pause on a busy laptop is already a large ratio, so the latency bound is loose
# here; the accuracy floor applies to labels posted through /feedback.
CANARY_POLICY = CanaryPolicy(
    steps=(25.0, 50.0, 100.0),
    min_requests=100,
    max_error_rate=0.01,
    # Both models answer in about a millisecond, and on a busy machine one scheduling hiccup
    # makes one variant's p99 several times the other's: the demo judges latency by an
    # absolute ceiling instead of a ratio of two noisy milliseconds.
    max_p99_latency_ratio=1000.0,
    max_p99_latency_ms=1000.0,
    max_prediction_psi=0.2,
    # The runner-up scores about 0.95 on held-out rows; with ~100 labels per step a floor of
    # 0.9 failed by sampling chance alone now and then, 0.85 does not.
    min_metric={"accuracy": 0.85},
)
SERVE_REQUESTS = 143  # one pass over the held-out rows
SHADOW_REQUESTS = 143
AFTER_REQUESTS = 60  # after the outcome, to show the new stable variant answering
CHUNK = 50  # requests between looks at a canary step's counts
MAX_CHUNKS_PER_STEP = 40
NO_DATA_AFTER_S = 120.0
_TERMINAL = ("promote", "rollback", "pause")


def register_challenger(model_name: str, run_id: str, candidate: str) -> int:
    """Register the challenger's package (logged by its training run); return its version."""
    from perennia import registry

    version = registry.register_model(
        f"runs:/{run_id}/model",
        model_name,
        description=f"{candidate}, the demo's challenger: shadowed, then canaried",
    )
    return version.version


def run_deployment(
    model_name: str,
    champion_version: int,
    challenger_version: int,
    challenger: str,
    data: dict[str, Any],
    seed: int,
) -> DeploymentSummary:
    """Deploy the champion, shadow and canary the challenger through a live server; summarise."""
    from perennia.data.predlog import default_location
    from perennia.demo.live_server import LiveServer
    from perennia.demo.traffic import Traffic

    client = perennia.Client()
    log_location = default_location(client.settings)
    created = _fresh_deployment(model_name, champion_version)
    server = LiveServer(_serve_config(client.tracking_uri, log_location)).start()
    try:
        traffic = Traffic(server.url, DEPLOYMENT, data["X_test"], data["y_test"], seed)
        rollout = _Rollout(server, traffic, client.store, log_location)
        try:
            stages = [rollout.serve(created, "serving", SERVE_REQUESTS)]
            shadow_stage, agreement = rollout.shadow(challenger_version)
            stages.append(shadow_stage)
            canary_stages, steps = rollout.canary(challenger_version)
            stages.extend(canary_stages)
            final = _deployments().get_deployment(DEPLOYMENT)
            stages.append(rollout.serve(final, final.state.replace("_", " "), AFTER_REQUESTS))
        finally:
            traffic.close()
    finally:
        server.stop()  # flushes the prediction log
    from perennia.serving.rollout import read_window

    frame = read_window(log_location, DEPLOYMENT, created.creation_time)
    labelled = int(frame["ground_truth"].notna().sum()) if "ground_truth" in frame else 0
    return DeploymentSummary(
        name=final.name,
        model_name=final.model_name,
        state=final.state,
        alias=final.alias,
        champion_version=champion_version,
        challenger_version=challenger_version,
        challenger=challenger,
        stable_version=final.stable.version,
        log_location=log_location,
        agreement=agreement,
        rows=tuple(stage_rows(frame, stages, agreement)),
        steps=tuple(steps),
        predictions=len(frame),
        labels=labelled,
        by_protocol=dict(traffic.by_protocol),
    )


def _serve_config(tracking_uri: str, log_location: str) -> Any:
    """Return the configuration of `perennia serve --deployment` for the demo's deployment."""
    from perennia.serving.config import ServeConfig

    return ServeConfig(
        deployment=DEPLOYMENT,
        tracking_uri=tracking_uri,
        log_location=log_location,
        poll_interval_s=0.05,  # follow each change at once: the demo waits for it
        controller=False,  # the demo calls `advance` itself (see the module docstring)
    )


def _deployments() -> Any:
    from perennia.registry import deployments

    return deployments


def _fresh_deployment(model_name: str, version: int) -> Any:
    """Return the demo's deployment serving `version`, replacing one an earlier demo left."""
    deployments = _deployments()
    try:
        deployments.get_deployment(DEPLOYMENT)
    except NotFound:
        pass
    else:
        # A second `perennia demo` in the same folder starts its story again; the first
        # deployment's changes stay in the registry's event log.
        deployments.delete_deployment(DEPLOYMENT)
    return deployments.create_deployment(
        DEPLOYMENT,
        model_name,
        version,
        alias=ALIAS,
        description="perennia demo: the champion, then a challenger shadowed and canaried",
    )


def _traffic_shares(deployment: Any) -> dict[str, str]:
    return {v.name: "copy" if v.shadow else f"{v.weight:g}%" for v in deployment.variants}


class _Rollout:
    """The stages of the demo's rollout, each driven through the live server."""

    def __init__(self, server: Any, traffic: Any, store: Any, log_location: str) -> None:
        self.server = server
        self.traffic = traffic
        self.store = store
        self.log_location = log_location

    def serve(self, deployment: Any, label: str, requests: int) -> Stage:
        """Return the stage of `requests` sent (and labelled) once `deployment` is applied."""
        self.server.wait_applied(deployment.revision)
        stage = Stage(label, now_ms(), _traffic_shares(deployment))
        self.traffic.label(self.traffic.send(requests))
        return stage

    def shadow(self, version: int) -> tuple[Stage, float | None]:
        """Return the stage of `version` shadowing the champion, and how often they agreed."""
        from perennia.serving.rollout import shadow_report

        deployment = _deployments().start_shadow(DEPLOYMENT, version)
        before = self.traffic.answered
        stage = self.serve(deployment, "shadow", SHADOW_REQUESTS)
        # Each answered request also gave the shadow a row, predicted off the response path.
        shadowed = self.traffic.answered - before
        self.server.flush_log(expected_rows=self.traffic.answered + shadowed)
        report = shadow_report(self.store, DEPLOYMENT, self.log_location, since_ms=stage.start_ms)
        return stage, None if report is None else report.agreement

    def canary(self, version: int) -> tuple[list[Stage], list[Step]]:
        """Return the canary's stages and analyses, stepped up until promoted or rolled back."""
        deployments = _deployments()
        deployment = deployments.start_canary(DEPLOYMENT, version, CANARY_POLICY)
        stages, steps = [], []
        while True:
            self.server.wait_applied(deployment.revision)
            weight = deployment.variant("canary").weight
            stage = Stage(f"canary {weight:g}%", now_ms(), _traffic_shares(deployment))
            decision = self._analyse_step()
            steps.append(Step(weight, decision.action, decision.analysis))
            outcome = OUTCOMES.get(decision.action, decision.action)
            verdict = f"{decision.analysis.get('verdict', '?')} -> {outcome}"
            stages.append(replace(stage, verdicts={"canary": verdict}))
            if decision.action in _TERMINAL:
                return stages, steps
            deployment = deployments.get_deployment(DEPLOYMENT)

    def _analyse_step(self) -> Any:
        """Return the decision on the current step, sending traffic until there is one."""
        from perennia.serving.rollout import advance

        per_variant: Counter[str] = Counter()
        decision = None
        for _ in range(MAX_CHUNKS_PER_STEP):
            sent = self.traffic.send(CHUNK)
            self.traffic.label(sent)
            per_variant.update(s.variant for s in sent)
            if min(per_variant["stable"], per_variant["canary"]) < CANARY_POLICY.min_requests:
                continue
            self.server.flush_log(expected_rows=self.traffic.answered)
            decision = advance(
                self.store, DEPLOYMENT, self.log_location, no_data_after_s=NO_DATA_AFTER_S
            )
            if decision.action in (*_TERMINAL, "canary_step"):
                return decision
        detail = "" if decision is None else f": {decision.analysis}"
        raise PerenniaError(
            f"the canary of {DEPLOYMENT!r} was still undecided after "
            f"{MAX_CHUNKS_PER_STEP * CHUNK} requests{detail}"
        )


def check_requirements() -> None:
    """Raise InvalidInput naming what is missing when the serving packages are not installed."""
    import importlib.util

    wanted = ("starlette", "uvicorn", "pyarrow", "prometheus_client", "orjson")
    missing = [name for name in wanted if importlib.util.find_spec(name) is None]
    if missing:
        raise InvalidInput(
            f"the demo's deployment needs {', '.join(missing)}: install perennia[demo] "
            "(pip install 'perennia[demo]'), or run the demo without deploying (deploy=False)"
        )
