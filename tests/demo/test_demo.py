"""`perennia demo`: the main job runs on a fresh folder with no configuration and tracks everything."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

# The demo job runs once for this module (about a minute of CPU): `make test-quick` leaves it out.
# One worker runs the module (--dist loadgroup), so the demo job runs once, not once per worker.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("demo")]


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    workdir = tmp_path_factory.mktemp("demo")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERENNIA_")}
    script = Path(sys.executable).with_name("perennia")
    result = subprocess.run(
        [str(script), "demo"],
        cwd=workdir,
        env={**env, "COLUMNS": "120"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    return workdir, result.stdout


def _client(workdir: Path):
    from perennia.tracking.client import Client

    return Client(tracking_uri=f"sqlite:///{workdir / '.perennia' / 'perennia.db'}")


def test_demo_uses_the_embedded_default_store(demo_home: tuple[Path, str]) -> None:
    workdir, out = demo_home
    assert (workdir / ".perennia" / "perennia.db").is_file()
    assert (workdir / ".perennia" / "artifacts" / "blobs").is_dir()
    assert str(workdir / ".perennia" / "perennia.db") in out.replace("\n", "")


def test_demo_prints_models_ranked_by_primary_metric(demo_home: tuple[Path, str]) -> None:
    workdir, out = demo_home
    client = _client(workdir)
    experiment = client.get_experiment_by_name("perennia-demo")
    children = client.search_runs(
        [experiment.experiment_id], "attributes.parent_run_id IS NOT NULL"
    ).items
    assert {r.info.run_name for r in children} == {
        "logistic_regression",
        "random_forest",
        "gradient_boosting",
        "mlp",
    }
    ranked = sorted(children, key=lambda r: r.data.metrics["test_roc_auc"], reverse=True)
    positions = [out.index(r.info.run_name) for r in ranked]
    assert positions == sorted(positions)


def test_each_model_run_has_folds_curves_inputs_model_and_plot(demo_home: tuple[Path, str]) -> None:
    workdir, _ = demo_home
    client = _client(workdir)
    experiment = client.get_experiment_by_name("perennia-demo")
    parent = client.search_runs(
        [experiment.experiment_id], "attributes.run_name = 'model-selection'"
    ).items[0]
    children = client.search_runs(
        [experiment.experiment_id], f"attributes.parent_run_id = '{parent.info.run_id}'"
    ).items
    assert len(children) == 4
    for run in children:
        assert run.info.status == "FINISHED"
        assert run.data.params
        folds = client.get_metric_history(run.info.run_id, "cv_roc_auc")
        assert [m.step for m in folds] == [0, 1, 2, 3, 4]
        contexts = {(i.dataset.name, i.context) for i in run.inputs.dataset_inputs}
        assert contexts == {
            ("breast-cancer-train", "training"),
            ("breast-cancer-test", "evaluation"),
        }
        paths = {a.path for a in client.store.artifacts.list(run.info.run_id)}
        # The best model's run also keeps its training data's profile, for the monitor.
        if run.info.run_id == parent.data.tags["best_run_id"]:
            paths.remove("reference_profile.json")
        assert paths == {
            "model/model.skops",
            "model/perennia-model.json",
            "model/requirements.txt",
            "model/input_example.json",
            "plots/roc.png",
            "evaluation/test/result.json",
            "evaluation/test/report.html",
        }
        assert client.read_artifact(run.info.run_id, "plots/roc.png").startswith(b"\x89PNG")
    curves = {
        r.info.run_name: client.get_metric_history(r.info.run_id, "val_log_loss") for r in children
    }
    assert len(curves["mlp"]) == 40 and len(curves["gradient_boosting"]) == 120
    assert parent.data.tags["best_model"] in {r.info.run_name for r in children}
    # The raw version was validated against its inferred contract on the parent run.
    assert parent.data.metrics["validation_success"] == 1.0


def test_demo_model_artifact_loads_without_pickle(
    demo_home: tuple[Path, str], tmp_path: Path
) -> None:
    import skops.io as skops_io  # the demo saves with skops: a missing skops is a failure

    workdir, _ = demo_home
    client = _client(workdir)
    experiment = client.get_experiment_by_name("perennia-demo")
    run = client.search_runs(
        [experiment.experiment_id], "attributes.run_name = 'logistic_regression'"
    ).items[0]
    local = Path(client.download_artifacts(run.info.run_id, "model/model.skops", tmp_path))
    untrusted = skops_io.get_untrusted_types(file=local)
    model = skops_io.load(local, trusted=untrusted)
    from sklearn.datasets import load_breast_cancer

    X = load_breast_cancer(as_frame=True).frame.drop(columns="target").head(5)
    assert model.predict_proba(X).shape == (5, 2)


def test_demo_evaluates_each_model_with_fairness_and_writes_reports(
    demo_home: tuple[Path, str],
) -> None:
    import json

    workdir, out = demo_home
    client = _client(workdir)
    experiment = client.get_experiment_by_name("perennia-demo")
    run = client.search_runs(
        [experiment.experiment_id], "attributes.run_name = 'random_forest'"
    ).items[0]
    result = json.loads(client.read_artifact(run.info.run_id, "evaluation/test/result.json"))
    assert result["fairness"]["features"] == ["clinic"]
    assert {g["group"] for g in result["fairness"]["groups"]} == {"A", "B", "C"}
    assert {s["value"] for s in result["slices"]} == {"A", "B", "C"}
    for name in ("roc_auc", "disparate_impact", "ece", "matthews_corrcoef"):
        assert run.data.metrics[f"test_{name}"] == result["metrics"][name]
    html = client.read_artifact(run.info.run_id, "evaluation/test/report.html").decode()
    assert "<svg" in html and "clinic" in html
    flat = " ".join(out.split())
    reports = workdir / ".perennia" / "reports"
    written = sorted(p.name for p in reports.iterdir())
    assert len(written) == 3 and any(n.startswith("compare-") for n in written)
    assert "drift.html" in written
    for name in written:
        assert str(reports / name) in flat.replace(" ", "") or name in flat


def test_demo_has_champion_approved_and_writes_its_card_and_lineage(
    demo_home: tuple[Path, str],
) -> None:
    import perennia

    workdir, out = demo_home
    client = _client(workdir)
    experiment = client.get_experiment_by_name("perennia-demo")
    parent = client.search_runs(
        [experiment.experiment_id], "attributes.run_name = 'model-selection'"
    ).items[0]
    perennia.set_tracking_uri(client.tracking_uri)
    try:
        champion = perennia.registry.get_model_version_by_alias(
            "breast-cancer-classifier", "champion"
        )
        assert champion.run_id == parent.data.tags["best_run_id"]
        loaded = perennia.models.load("models:/breast-cancer-classifier@champion")
        from sklearn.datasets import load_breast_cancer

        X = load_breast_cancer(as_frame=True).frame.drop(columns="target").head(5)
        assert loaded.predict_proba(X).shape == (5, 2)
        # champion moved through the policy: requested by the author, approved by a manager.
        requests = perennia.registry.list_approval_requests("breast-cancer-classifier")
        assert [(r.alias, r.version, r.status) for r in requests] == [
            ("champion", champion.version, "APPLIED")
        ]
        assert [(v.reviewer, v.decision) for v in requests[0].reviews] == [
            ("demo-reviewer", "approve")
        ]
        assert requests[0].requested_by == champion.user_id != "demo-reviewer"
        policy = perennia.registry.get_approval_policy("breast-cancer-classifier", "champion")
        assert [str(g) for g in policy.gates] == ["test_roc_auc >= 0.95"]
        actions = [e.action for e in perennia.registry.history("breast-cancer-classifier")]
        assert {"request_approval", "review_approval", "approve_alias", "edit_card"} <= set(actions)
    finally:
        perennia.set_tracking_uri(None)
    flat = " ".join(out.split())
    assert "breast-cancer-classifier version 1" in flat
    assert (
        "approval: request 1 for @champion" in flat and "APPLIED (demo-reviewer approved)" in flat
    )
    assert "lineage:" in flat and "breast-cancer-train@1" in flat and "→ @champion" in flat
    assert "data: breast-cancer@1 split into breast-cancer-train@1" in flat
    assert "passed" in flat.split("data:", 1)[1].split("registered:", 1)[0]
    card = workdir / ".perennia" / "cards" / "breast-cancer-classifier" / "v1.html"
    assert card.is_file() and str(card) in flat.replace(" ", "")
    assert card.with_suffix(".md").is_file()
    html = card.read_text()
    assert "<strong>breast-cancer-train@1</strong>" in html  # the card names the data versions
    assert "Teaching and demonstration" in html and "demo-reviewer" in html


# -- the deployment: champion served, challenger shadowed, canaried and promoted ---------------

DEPLOYMENT = "breast-cancer-api"


def _ranked_runs(client) -> list:
    experiment = client.get_experiment_by_name("perennia-demo")
    children = client.search_runs(
        [experiment.experiment_id], "attributes.parent_run_id IS NOT NULL"
    ).items
    return sorted(children, key=lambda r: r.data.metrics["test_roc_auc"], reverse=True)


def _log_location(workdir: Path) -> Path:
    return workdir / ".perennia" / "artifacts" / "prediction-log"


def test_demo_promotes_the_runner_up_through_shadow_and_canary(
    demo_home: tuple[Path, str],
) -> None:
    workdir, _ = demo_home
    client = _client(workdir)
    store = client.store
    deployment = store.deployments.get(DEPLOYMENT)
    champion = store.aliases.get_version_by_alias("breast-cancer-classifier", "champion")
    production = store.aliases.get_version_by_alias("breast-cancer-classifier", "production")
    best, runner_up = _ranked_runs(client)[:2]
    # The challenger is the runner-up's package; it now serves all traffic as the stable variant.
    assert champion.run_id == best.info.run_id and production.run_id == runner_up.info.run_id
    assert deployment.state == "promoted" and deployment.alias == "production"
    assert [(v.name, v.version, v.weight, v.shadow) for v in deployment.variants] == [
        ("stable", production.version, 100.0, False)
    ]
    assert [(v.name, v.version) for v in deployment.previous] == [("stable", champion.version)]
    # The reviewed alias is not moved by the live analysis: only an approval moves it.
    assert champion.version != production.version
    actions = [e.action for e in reversed(store.deployments.events(DEPLOYMENT))]
    assert actions == [
        "deploy_create",
        "deploy_start_shadow",
        "deploy_start_canary",
        "deploy_canary_step",
        "deploy_promote",
    ]


def test_demo_canary_steps_carry_their_passing_analysis_in_the_events(
    demo_home: tuple[Path, str],
) -> None:
    workdir, _ = demo_home
    events = _client(workdir).store.deployments.events(DEPLOYMENT)
    analysed = [e for e in reversed(events) if e.action in ("deploy_canary_step", "deploy_promote")]
    assert [e.before["variants"][1]["weight"] for e in analysed] == [25.0, 50.0]
    for event in analysed:
        analysis = event.after["detail"]["analysis"]
        checks = {c["name"]: c["verdict"] for c in analysis["checks"]}
        assert analysis["verdict"] == "pass" and not analysis["no_data"]
        assert checks == {
            "sample_size": "pass",
            "error_rate": "pass",
            "latency_p99_ratio": "pass",
            "latency_p99": "pass",
            "prediction_psi": "pass",
            "accuracy": "pass",
        }
        assert min(analysis["counts"]["stable"], analysis["counts"]["canary"]) >= 100
        assert analysis["counts"]["canary_labels"] >= 100  # labels came back through /feedback


def test_demo_prediction_log_holds_both_variants_the_shadow_and_the_labels(
    demo_home: tuple[Path, str],
) -> None:
    from perennia.data.predlog import join_feedback, read_feedback, read_predictions
    from perennia.serving.experiments import shadow_agreement

    workdir, _ = demo_home
    location = str(_log_location(workdir))
    assert (_log_location(workdir) / "predictions" / f"deployment={DEPLOYMENT}").is_dir()
    client = _client(workdir)
    champion = client.store.aliases.get_version_by_alias("breast-cancer-classifier", "champion")
    challenger = client.store.deployments.get(DEPLOYMENT).stable.version
    log = read_predictions(location, deployment=DEPLOYMENT).to_pandas()
    served = {(v, s): set(g["model_version"]) for (v, s), g in log.groupby(["variant", "shadow"])}
    assert served == {
        ("stable", False): {champion.version, challenger},  # champion, then after promotion
        ("shadow", True): {challenger},
        ("canary", False): {challenger},
    }
    assert bool(log["ok"].all())
    primary, shadow = log[~log["shadow"]], log[log["shadow"]]
    assert len(shadow) >= 100 and set(shadow["request_id"]) <= set(primary["request_id"])
    assert "input.mean radius" in log.columns and "output.prediction" in log.columns
    # Every answered prediction got its label back, and the labels are the rows' own: the
    # models are ~97% accurate on held-out data, so misjoined labels could not score this well.
    joined = join_feedback(
        read_predictions(location, deployment=DEPLOYMENT), read_feedback(location)
    ).to_pandas()
    labelled = joined[~joined["shadow"]]
    assert labelled["ground_truth"].notna().all()
    assert (labelled["output.prediction"] == labelled["ground_truth"]).mean() > 0.9
    agreement = shadow_agreement(log, primary="stable", shadow="shadow")
    assert agreement.n_pairs == len(shadow) and agreement.agreement > 0.9


STAGE_ROW = re.compile(
    r"^\s*(serving|shadow|canary \d+%|promoted)\s+(stable|shadow|canary)\s+v\d+\s+(\S+)\s+(\d+)\s"
)


def test_demo_prints_the_deployment_table_the_log_and_the_commands(
    demo_home: tuple[Path, str],
) -> None:
    workdir, out = demo_home
    flat = " ".join(out.split())
    assert f"Deployment '{DEPLOYMENT}'" in flat and "shadowed, canaried and promoted" in flat
    # One table row per stage and variant, each with its traffic share and some requests.
    rows = [match.groups() for match in map(STAGE_ROW.match, out.splitlines()) if match]
    assert [row[:3] for row in rows] == [
        ("serving", "stable", "100%"),
        ("shadow", "stable", "100%"),
        ("shadow", "shadow", "copy"),
        ("canary 25%", "stable", "75%"),
        ("canary 25%", "canary", "25%"),
        ("canary 50%", "stable", "50%"),
        ("canary 50%", "canary", "50%"),
        ("promoted", "stable", "100%"),
    ], out
    assert all(int(row[3]) > 0 for row in rows)
    assert "pass -> next step" in flat and "pass -> promoted" in flat
    assert "analysis at 25%: pass" in flat and "prediction_psi" in flat
    assert re.search(r"shadow: v\d+ agreed with v\d+ on [\d.]+% of the requests", flat)
    assert str(_log_location(workdir)) in flat.replace(" ", "")
    protocols = re.search(r"requests by protocol: (\d+) mlflow, (\d+) oip", flat)
    assert protocols is not None and min(int(n) for n in protocols.groups()) > 0
    assert "read_predictions(" in flat and "read_parquet(" in flat
    assert f"perennia serve --deployment {DEPLOYMENT}" in flat
    assert f"perennia deploy show {DEPLOYMENT}" in flat


def test_demo_monitors_the_deployment_against_the_training_profile(
    demo_home: tuple[Path, str],
) -> None:
    from perennia.monitoring.monitors.reference import PROFILE_TAG

    workdir, out = demo_home
    flat = " ".join(out.split())
    found = re.search(r"monitor: breast-cancer-inputs: ([\d,]+) served rows in (\d+) window", flat)
    assert found is not None, flat
    client = _client(workdir)
    store = client.store
    (monitor,) = store.monitors.list_monitors().items
    assert monitor.deployment == DEPLOYMENT and monitor.last_window_end_ms is not None
    points = store.monitors.list_points(monitor.name, keys=["rows"])
    assert sum(p.value for p in points) == int(found.group(1).replace(",", ""))
    experiment = client.get_experiment_by_name("perennia-demo")
    parent = client.search_runs(
        [experiment.experiment_id], "attributes.run_name = 'model-selection'"
    ).items[0]
    assert PROFILE_TAG in client.get_run(parent.data.tags["best_run_id"]).data.tags
    page = (workdir / ".perennia" / "reports" / "drift.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page
