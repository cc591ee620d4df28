"""The main job, first version: train several scikit-learn models on a built-in data set and track them.

Each model gets a nested run under one parent run with: its params, per-fold cross-validation
metrics (step = fold), a learning curve per epoch or boosting stage where the model has one,
held-out test metrics, the training and test datasets as inputs, the fitted model (skops, a
format that loads without pickle), and a ROC plot.

Held-out evaluation goes through `perennia.evaluate`: every metric, curves, slices, bootstrap
intervals and a fairness view, logged as `test_*` metrics plus a JSON result and an HTML
report per run. The breast-cancer data has no demographic column, so the demo adds a
**synthetic** sensitive attribute, `clinic` (A, B or C), drawn at random with a seed and
skewed by diagnosis so that per-group selection rates differ. It is not a model feature; it
exists only to show the fairness view. The best model's report is also written to
`$PERENNIA_HOME/reports/` and the comparison of the best two models, judged by example
promotion gates, beside it.

Then the best model goes live (`perennia.demo.deployment`): it is deployed and served by the
real inference server inside this process, the runner-up shadows it and is canaried through
25% and 50% of the held-out traffic, judged from the prediction log between steps, and
promoted. Last, a monitor watches the deployment's traffic against the training data's profile
(`perennia.demo.monitoring`) and the drift report joins the others.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import perennia
from perennia.errors import InvalidInput

EXPERIMENT = "perennia-demo"
PRIMARY_METRIC = "test_roc_auc"
EPOCHS = 40
BOOTSTRAP = 200
REGISTERED_MODEL = "breast-cancer-classifier"
CHAMPION_GATE = 0.95  # the demo's champion must reach this test ROC AUC
DEMO_REVIEWER = "demo-reviewer"
CARD_SECTIONS = {
    "intended_use": "Teaching and demonstration: shows how Perennia tracks, evaluates, registers "
    "and governs a classifier. Predicts malignant vs benign from the Wisconsin breast cancer "
    "features.",
    "out_of_scope_use": "Any clinical decision. The model has not been validated on patients.",
    "limitations": "569 samples from one source; the 'clinic' attribute is synthetic, so the "
    "fairness results illustrate the method, not a real population.",
}
# scikit-learn's models refuse NaN, so the missing-value check would only repeat that per column.
ROBUSTNESS_CHECKS = ["gaussian_noise", "permutation", "extreme_values", "edge_cases"]
# Example promotion gates: the best model must not be worse than the runner-up, and its error
# rates must not differ by clinic by more than 0.1. Selection rates do differ (the synthetic
# clinics see different case mixes), which the report's four-fifths column flags.
DEMO_GATES = {
    "roc_auc": ">= baseline - 0.005",
    "log_loss": "<= baseline * 1.25",
    "equalized_odds_difference": "<= 0.1",
}


@dataclass(frozen=True)
class ModelResult:
    """One trained candidate and where its run lives."""

    name: str
    run_id: str
    metrics: dict[str, float]
    seconds: float
    model: Any = None
    evaluation: Any = None


@dataclass(frozen=True)
class DemoSummary:
    """What the demo did: its runs, ranked by the primary metric, and where the data went."""

    experiment_id: str
    parent_run_id: str
    results: list[ModelResult]
    tracking_uri: str
    artifacts_uri: str
    report_path: Path | None = None
    registered: Any = None  # (model name, version, lineage graph) of the registered best model
    comparison_path: Path | None = None
    comparison_passed: bool | None = None
    card_path: Path | None = None
    primary_metric: str = PRIMARY_METRIC
    deployment: Any = None  # perennia.demo.deployment_summary.DeploymentSummary, when deployed
    monitoring: Any = None  # perennia.demo.monitoring.MonitoringSummary, when deployed
    data: Any = None  # perennia.demo.data_versions.DemoData: the registered versions


def _candidates(seed: int) -> dict[str, Any]:
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return {
        "logistic_regression": make_pipeline(
            StandardScaler(), LogisticRegression(C=1.0, max_iter=1000)
        ),
        "random_forest": RandomForestClassifier(
            n_estimators=200, min_samples_leaf=2, random_state=seed, n_jobs=1
        ),
        "gradient_boosting": GradientBoostingClassifier(
            n_estimators=120, learning_rate=0.1, max_depth=3, random_state=seed
        ),
        "mlp": make_pipeline(
            StandardScaler(),
            MLPClassifier(
                hidden_layer_sizes=(32,),
                learning_rate_init=0.01,
                max_iter=EPOCHS,
                random_state=seed,
            ),
        ),
    }


def _scores(model: Any, X: Any, y: Any, prefix: str) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score

    proba = model.predict_proba(X)[:, 1]
    predicted = (proba >= 0.5).astype(int)
    return {
        f"{prefix}_roc_auc": float(roc_auc_score(y, proba)),
        f"{prefix}_accuracy": float(accuracy_score(y, predicted)),
        f"{prefix}_f1": float(f1_score(y, predicted)),
        f"{prefix}_log_loss": float(log_loss(y, proba)),
    }


def _simple_params(model: Any) -> dict[str, Any]:
    params = model.get_params(deep=True)
    return {k: v for k, v in params.items() if isinstance(v, str | int | float | bool | type(None))}


def _learning_curve(
    name: str, model: Any, X_train: Any, y_train: Any, X_test: Any, y_test: Any
) -> None:
    """Log per-epoch (MLP) or per-stage (boosting) curves; refits the MLP epoch by epoch."""
    import numpy as np
    from sklearn.metrics import log_loss

    if name == "gradient_boosting":
        for stage, proba in enumerate(model.staged_predict_proba(X_test)):
            perennia.log_metric("val_log_loss", float(log_loss(y_test, proba[:, 1])), step=stage)
    elif name == "mlp":
        scaler, mlp = model.steps[0][1], model.steps[1][1]
        X_scaled = scaler.fit_transform(X_train)
        X_val = scaler.transform(X_test)
        classes = np.unique(y_train)
        for epoch in range(EPOCHS):
            mlp.partial_fit(X_scaled, y_train, classes=classes)
            perennia.log_metrics(
                {
                    "train_loss": float(mlp.loss_),
                    "val_log_loss": float(log_loss(y_test, mlp.predict_proba(X_val)[:, 1])),
                },
                step=epoch,
            )


def _roc_figure(name: str, model: Any, X_test: Any, y_test: Any):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_auc_score, roc_curve

    proba = model.predict_proba(X_test)[:, 1]
    fpr, tpr, _ = roc_curve(y_test, proba)
    figure, axis = plt.subplots(figsize=(4.5, 4.5))
    axis.plot(
        fpr, tpr, color="#2563eb", linewidth=2, label=f"AUC = {roc_auc_score(y_test, proba):.3f}"
    )
    axis.plot([0, 1], [0, 1], color="#9ca3af", linestyle="--", linewidth=1)
    axis.set(xlabel="False positive rate", ylabel="True positive rate", title=f"ROC: {name}")
    axis.legend(loc="lower right", frameon=False)
    axis.spines[["top", "right"]].set_visible(False)
    return figure


def _train_one(name: str, model: Any, data: dict[str, Any], seed: int) -> ModelResult:
    import matplotlib.pyplot as plt
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold

    from perennia.evaluate import evaluate

    X_train, y_train, X_test, y_test = (
        data["X_train"],
        data["y_train"],
        data["X_test"],
        data["y_test"],
    )
    started = time.perf_counter()
    with perennia.start_run(run_name=name, nested=True, tags={"model_family": name}) as run:
        perennia.log_params(_simple_params(model))
        # Recorded as reads of the registered versions: the lineage from data to model.
        perennia.data.load(data["versions"].train, context="training")
        perennia.data.load(data["versions"].test, context="evaluation")
        folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
        for fold, (fit_idx, val_idx) in enumerate(folds.split(X_train, y_train)):
            fold_model = clone(model).fit(X_train.iloc[fit_idx], y_train.iloc[fit_idx])
            perennia.log_metrics(
                _scores(fold_model, X_train.iloc[val_idx], y_train.iloc[val_idx], "cv"), step=fold
            )
        if name == "mlp":
            _learning_curve(
                name, model, X_train, y_train, X_test, y_test
            )  # trains the model epoch by epoch
        else:
            model.fit(X_train, y_train)
            _learning_curve(name, model, X_train, y_train, X_test, y_test)
        evaluation = evaluate(
            model,
            data["test_frame"],
            targets="target",
            sensitive_features="clinic",
            slices="clinic",
            dataset_name="test",
            model_name=name,
            bootstrap=BOOTSTRAP,
            robustness_checks=ROBUSTNESS_CHECKS,
            log=True,
        )
        metrics = {f"test_{k}": v for k, v in evaluation.metrics.items()}
        # A model package: skops (no pickle), a manifest with every file's sha256, pinned
        # requirements, an input example and the signature inferred from it.
        perennia.log_model(model, name="model", signature="infer", input_example=X_test.head(5))
        figure = _roc_figure(name, model, X_test, y_test)
        perennia.log_figure(figure, "plots/roc.png")
        plt.close(figure)
    return ModelResult(name, run.run_id, metrics, time.perf_counter() - started, model, evaluation)


def _load_data(seed: int) -> dict[str, Any]:
    """Register the data as versions (on the active run), then read the split back."""
    from perennia.demo.data_versions import register_demo_data

    versions = register_demo_data(seed)
    train = perennia.data.load(versions.train, context=None)
    test = perennia.data.load(versions.test, context=None)
    features = [c for c in train.columns if c not in ("target", "clinic")]
    return {
        "versions": versions,
        "X_train": train[features],
        "y_train": train["target"],
        "X_test": test[features],
        "y_test": test["target"],
        "test_frame": test,
    }


def _write_reports(results: list[ModelResult], data: dict[str, Any]) -> tuple[Path, Path, bool]:
    """Write the best model's report and the best-vs-runner-up comparison; return their paths."""
    from perennia.evaluate import compare

    folder = perennia.Client().settings.home / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    best = results[0]
    report = best.evaluation.save_html(folder / f"{best.name}.html")
    runner_up = results[1] if len(results) > 1 else results[0]
    comparison = compare(
        best.model,
        runner_up.model,
        data["test_frame"],
        "target",
        gates=DEMO_GATES,
        sensitive_features="clinic",
        candidate_name=best.name,
        baseline_name=runner_up.name,
        dataset_name="test",
        n_resamples=BOOTSTRAP,
    )
    path = comparison.save_html(folder / f"compare-{best.name}-vs-{runner_up.name}.html")
    perennia.log_text(_json(comparison), "evaluation/comparison.json")
    perennia.log_artifact(path, artifact_path="evaluation")
    return report.resolve(), path.resolve(), comparison.passed


def _register_best(best: ModelResult) -> tuple[str, int, dict[str, Any], Path | None]:
    """Register the best model's package, have `champion` approved for it, write its card."""
    from perennia import registry

    version = registry.register_model(
        f"runs:/{best.run_id}/model",
        REGISTERED_MODEL,
        description=f"{best.name}, best of the demo by {PRIMARY_METRIC}",
    )
    _approve_champion(version.version)
    if registry.get_card(REGISTERED_MODEL) is None:
        registry.edit_card(REGISTERED_MODEL, comment="demo", **CARD_SECTIONS)
    _markdown, card = registry.write_card(REGISTERED_MODEL, version.version)
    graph = registry.lineage(REGISTERED_MODEL, version.version)
    return REGISTERED_MODEL, version.version, graph, card.resolve()


def _approve_champion(version: int) -> None:
    """Guard `champion` with a policy, request it for `version`, approve it as a second person."""
    from perennia import registry
    from perennia.errors import AlreadyExists

    registry.set_approval_policy(
        REGISTERED_MODEL,
        "champion",
        required_approvals=1,
        reviewer_role="manager",
        gates=[f"{PRIMARY_METRIC} >= {CHAMPION_GATE}"],
    )
    request = registry.request_approval(
        REGISTERED_MODEL, version, "champion", comment=f"best {PRIMARY_METRIC} of the demo"
    )
    store = registry._store()
    users = getattr(store, "users", None)
    if users is None:
        return  # a remote server: a signed-in manager approves it there
    # The embedded store has no sign-in; the demo names a second person, as a team would have.
    with contextlib.suppress(AlreadyExists):
        users.create_user(DEMO_REVIEWER, None)
    registry.set_model_role(REGISTERED_MODEL, DEMO_REVIEWER, "manager")
    registry.approve(
        request.request_id, comment="metrics and fairness checked", reviewer=DEMO_REVIEWER
    )


def _deploy(results: list[ModelResult], champion: int, data: dict[str, Any], seed: int) -> Any:
    """Serve the champion, then shadow and canary the challenger; return the summary."""
    from perennia.demo.deployment import register_challenger, run_deployment

    # The runner-up of the selection is the challenger: close to the champion offline, it has
    # to prove itself on live traffic. A one-model demo re-registers its only model instead.
    challenger = results[1] if len(results) > 1 else results[0]
    version = register_challenger(REGISTERED_MODEL, challenger.run_id, challenger.name)
    return run_deployment(REGISTERED_MODEL, champion, version, challenger.name, data, seed)


def _json(comparison: Any) -> str:
    import json

    return json.dumps(comparison.to_dict(), indent=2, allow_nan=False)


def run_demo(
    experiment: str = EXPERIMENT,
    models: list[str] | None = None,
    seed: int = 7,
    progress: Callable[[str], None] | None = None,
    deploy: bool = True,
) -> DemoSummary:
    """Train, track, register and (with `deploy`) serve the models; return what was done."""
    from sklearn.exceptions import ConvergenceWarning

    if deploy:
        from perennia.demo.deployment import check_requirements

        check_requirements()  # before a minute of training, not after
    candidates = _candidates(seed)
    chosen = models or list(candidates)
    unknown = [m for m in chosen if m not in candidates]
    if unknown:
        raise InvalidInput(f"unknown demo model(s) {unknown}; choose from {sorted(candidates)}")
    experiment_id = perennia.set_experiment(experiment).experiment_id
    results = []
    with perennia.start_run(run_name="model-selection", tags={"job": "demo"}) as parent:
        data = _load_data(seed)
        perennia.log_params(
            {"dataset": "breast_cancer", "seed": seed, "candidates": ",".join(chosen)}
        )
        for name in chosen:
            if progress is not None:
                progress(name)
            with warnings.catch_warnings():
                # A fixed epoch budget is the point of the learning curve; the warning is noise.
                warnings.simplefilter("ignore", ConvergenceWarning)
                results.append(_train_one(name, candidates[name], data, seed))
        results.sort(key=lambda r: r.metrics[PRIMARY_METRIC], reverse=True)
        perennia.set_tags({"best_model": results[0].name, "best_run_id": results[0].run_id})
        perennia.log_metric(f"best_{PRIMARY_METRIC}", results[0].metrics[PRIMARY_METRIC])
        report, comparison, passed = _write_reports(results, data)
        *registered, card = _register_best(results[0])
    deployment = _deploy(results, registered[1], data, seed) if deploy else None
    monitoring = None
    if deployment is not None:
        from perennia.demo.monitoring import watch

        best = results[0].run_id
        monitoring = watch(
            deployment.name,
            deployment.log_location,
            best,
            REGISTERED_MODEL,
            deployment.stable_version,
            data,
        )
    client = perennia.Client()
    return DemoSummary(
        experiment_id=experiment_id,
        parent_run_id=parent.run_id,
        results=results,
        tracking_uri=client.tracking_uri,
        artifacts_uri=client.get_experiment(experiment_id).artifact_location
        or client.settings.resolved_artifacts_uri(),
        report_path=report,
        registered=tuple(registered),
        card_path=card,
        comparison_path=comparison,
        comparison_passed=passed,
        deployment=deployment,
        monitoring=monitoring,
        data=data["versions"],
    )
