"""Helpers for the retraining loop's tests: breast-cancer data as registered versions, plain
training functions a policy names by entrypoint (good, weak, broken), and a champion to beat.

The training functions are what a user's training script looks like: read the data version
named by `data`, fit, log the model package (with its reference profile) in a run of its own,
return the package's runs:/ URI.
"""

from __future__ import annotations

from typing import Any

MODEL = "bc"
TRAIN = "bc-train"
EVAL = "bc-eval"
TARGET = "target"
HELPERS = "tests.automation.retraining_helpers"
GOOD = f"{HELPERS}:train"
WEAK = f"{HELPERS}:train_weak"
BROKEN = f"{HELPERS}:train_broken"
COUNTED = f"{HELPERS}:train_counted"
GATES = ["roc_auc >= baseline - 0.02"]


def frames(seed: int = 0) -> tuple[Any, Any]:
    """Return (train, eval) frames of the breast-cancer data: 60/40, stratified, with `target`."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    frame = load_breast_cancer(as_frame=True).frame
    train, evaluation = train_test_split(
        frame, test_size=0.4, stratify=frame[TARGET], random_state=seed
    )
    return train.reset_index(drop=True), evaluation.reset_index(drop=True)


def register_data(seed: int = 0) -> tuple[str, str]:
    """Register the training and evaluation versions; return their references."""
    from perennia.data.versions import register

    train, evaluation = frames(seed)
    return register(TRAIN, train).ref, register(EVAL, evaluation).ref


def _fit_and_log(data: str, model: Any, run_name: str) -> str:
    from perennia.data.versions import load
    from perennia.models import log_model
    from perennia.models.signature import infer_signature
    from perennia.monitoring.monitors.reference import log_reference_profile
    from perennia.tracking import fluent

    with fluent.start_run(run_name=run_name):
        frame = load(data)
        X, y = frame.drop(columns=[TARGET]), frame[TARGET]
        model.fit(X, y)
        info = log_model(model, "model", signature=infer_signature(X))
        log_reference_profile(X)
    return info.model_uri


def train(data: str, C: float = 1.0) -> str:
    """Return the runs:/ URI of a scaled logistic regression trained on dataset `data`."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=1000))
    return _fit_and_log(data, model, "train")


def train_weak(data: str, C: float = 1.0) -> str:
    """Return the runs:/ URI of a model that predicts the prior (ROC AUC 0.5): it loses."""
    from sklearn.dummy import DummyClassifier

    return _fit_and_log(data, DummyClassifier(strategy="prior"), "train-weak")


def train_counted(data: str, C: float = 1.0, log: str = "") -> str:
    """Append one line to the file `log`, then train as `train` does: a test counts the lines."""
    from pathlib import Path

    with Path(log).open("a") as handle:
        handle.write("trained\n")
    return train(data, C=C)


def trainings(log: Any) -> int:
    """Return how many times `train_counted` ran with this `log` file."""
    from pathlib import Path

    path = Path(log)
    return len(path.read_text().splitlines()) if path.exists() else 0


def train_broken(data: str = "", C: float = 1.0) -> str:
    """Raise, as a training script does when its input is unusable."""
    raise RuntimeError(f"no rows to train on in {data}")


def champion(gates: list[str] | None = None) -> int:
    """Register the data and version 1 of MODEL as @champion, with success criteria; return 1."""
    from perennia.registry import register_model, set_alias
    from perennia.registry.success_criteria import set_success_criteria

    train_ref, _ = register_data()
    version = register_model(train(train_ref, C=0.05), MODEL).version
    set_alias(MODEL, "champion", version)
    set_success_criteria(MODEL, "tell malignant from benign", gates or GATES)
    return version


def policy(**overrides: Any) -> Any:
    """Return MODEL's retraining policy as stored, trained by GOOD unless overridden."""
    from perennia.automation.retraining import set_policy

    options: dict[str, Any] = {
        "pipeline": GOOD,
        "data": TRAIN,
        "eval_data": EVAL,
        "target": TARGET,
        "params": {"C": 1.0},
        "auto_approve": True,
        "cooldown": "1h",
    }
    options.update(overrides)
    return set_policy(MODEL, **options)


def use_store(uri: str, tmp_path: Any, monkeypatch: Any) -> None:
    """Point the SDK at store `uri` with artifacts and home under `tmp_path`."""
    from tests.conftest import reset_tracking

    monkeypatch.setenv("PERENNIA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PERENNIA_TRACKING_URI", uri)
    monkeypatch.setenv("PERENNIA_ARTIFACTS_URI", str(tmp_path / "artifacts"))
    reset_tracking()


DEPLOYMENT = "bc-api"
MONITOR = "bc-inputs"
DRIFT = 1.6


def drift_monitor(reference_version: int = 1, name: str = MONITOR) -> None:
    """Create monitor `name` over DEPLOYMENT with a drift rule, against `reference_version`."""
    from perennia.monitoring import create_monitor

    rule = {
        "name": "InputsDrifted",
        "monitor": name,
        "value": "drift.share_drifted",
        "op": ">",
        "threshold": 0.25,
    }
    create_monitor(
        name,
        deployment=DEPLOYMENT,
        reference=f"models:/{MODEL}/{reference_version}",
        window="1h",
        alerts=[rule],
    )


class Served:
    """DEPLOYMENT served by the real inference app on loopback, and callers sending drifted rows."""

    def __init__(self, tmp_path: Any, version: int) -> None:
        from perennia.demo.live_server import LiveServer
        from perennia.demo.traffic import Traffic
        from perennia.registry.deployments import create_deployment
        from perennia.serving.config import ServeConfig
        from perennia.tracking.client import Client

        self.log_location = str(tmp_path / "predlog")
        create_deployment(DEPLOYMENT, MODEL, version, alias="champion")
        config = ServeConfig(
            deployment=DEPLOYMENT,
            tracking_uri=Client().tracking_uri,
            log_location=self.log_location,
            poll_interval_s=0.05,
            controller=False,  # the test runs the rollout controller's step itself
        )
        self.server = LiveServer(config).start()
        _, evaluation = frames()
        X = evaluation.drop(columns=[TARGET]) * DRIFT  # every feature scaled: a drifted stream
        self.traffic = Traffic(self.server.url, DEPLOYMENT, X, evaluation[TARGET], seed=0)

    def send(self, n: int) -> None:
        """Send `n` labelled requests and flush the prediction log."""
        self.traffic.label(self.traffic.send(n))
        self.server.flush_log(expected_rows=self.traffic.answered)

    def alert(self, monitor: str = MONITOR) -> Any:
        """Run `monitor` over the served hour; return its newest firing alert event."""
        from perennia.clock import now_ms
        from perennia.data.session import current_store
        from perennia.monitoring import run_monitor

        run_monitor(monitor, until_ms=now_ms() + 2 * 3_600_000, location=self.log_location)
        return current_store().alerts.list_alert_events(monitor=monitor, status="firing")[0]

    def drive_canary(self, retraining_id: int, chunks: int = 30) -> Any:
        """Send traffic, run the rollout controller's step and advance the retraining until it
        leaves its canary; return it."""
        from perennia.automation.retraining import advance
        from perennia.data.session import current_store
        from perennia.registry.deployments import get_deployment
        from perennia.serving.rollout import advance as rollout_step

        retraining = advance(retraining_id)
        for _ in range(chunks):
            if retraining.state != "canary":
                return retraining
            self.server.wait_applied(get_deployment(DEPLOYMENT).revision)
            self.send(40)
            rollout_step(current_store(), DEPLOYMENT, self.log_location, no_data_after_s=120)
            retraining = advance(retraining_id)
        return retraining

    def close(self) -> None:
        """Stop the callers and the server."""
        self.traffic.close()
        self.server.stop()
