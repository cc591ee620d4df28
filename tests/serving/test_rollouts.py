"""Deployments served live: a canary is analysed from the prediction log and promoted or rolled
back on its own; blue-green switches without dropping a request; shadows never answer."""

from __future__ import annotations

import pytest

from perennia.entities import CanaryPolicy
from perennia.registry import deployments as sdk
from perennia.registry.session import current_store
from tests.serving.deployment_helpers import (
    MODEL,
    Traffic,
    deployment_config,
    wait_for,
)

# With test_deploy_report_cli.py on one worker, which registers the versions they copy once.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("registered-versions")]

# Generous latency bounds: the machine is shared, and latency is not what these tests judge.
POLICY = CanaryPolicy(steps=(50.0, 100.0), min_requests=40, max_p99_latency_ratio=50.0)


def _state(name: str):
    return current_store().deployments.get(name)


def _run_canary(tmp_path, serve_app, versions, kind: str):
    sdk.create_deployment("fraud-api", MODEL, versions["good"])
    sdk.start_canary("fraud-api", versions[kind], POLICY)
    app = serve_app(deployment_config(tmp_path, "fraud-api"))
    traffic = Traffic(app.url).start()
    try:
        final = wait_for(
            lambda: (d := _state("fraud-api")).state in ("promoted", "rolled_back") and d
        )
    finally:
        answers = traffic.stop()
    return final, answers


def test_a_healthy_canary_is_promoted_and_the_alias_follows(tmp_path, serve_app, versions):
    final, answers = _run_canary(tmp_path, serve_app, versions, "healthy")
    assert final.state == "promoted"
    assert [(v.name, v.version, v.weight) for v in final.variants] == [
        ("stable", versions["healthy"], 100.0)
    ]
    assert (
        current_store().aliases.get_version_by_alias(MODEL, "champion").version
        == versions["healthy"]
    )
    assert {status for status, *_ in answers} == {200}
    events = current_store().deployments.events("fraud-api")
    analysed = [e for e in events if e.action == "deploy_promote"]
    assert analysed and analysed[0].after["detail"]["analysis"]["verdict"] == "pass"


def test_a_canary_that_raises_is_rolled_back_automatically(tmp_path, serve_app, versions):
    final, answers = _run_canary(tmp_path, serve_app, versions, "broken")
    assert final.state == "rolled_back"
    assert [(v.name, v.version) for v in final.variants] == [("stable", versions["good"])]
    assert (
        current_store().aliases.get_version_by_alias(MODEL, "champion").version == versions["good"]
    )
    failed = [a for a in answers if a[0] != 200]
    # The broken model raises a ValueError on every row: a 400, as MLflow answers, and only
    # ever from the canary.
    assert failed and all(a[0] == 400 and a[1] == "canary" for a in failed)
    event = next(
        e for e in current_store().deployments.events("fraud-api") if "rollback" in e.action
    )
    checks = {c["name"]: c["verdict"] for c in event.after["detail"]["analysis"]["checks"]}
    assert "fail" in checks.values()


def test_a_canary_with_shifted_predictions_is_rolled_back(tmp_path, serve_app, versions):
    final, answers = _run_canary(tmp_path, serve_app, versions, "shifted")
    assert final.state == "rolled_back"
    assert {status for status, *_ in answers} == {200}  # it answered: only its answers were off
    event = next(
        e for e in current_store().deployments.events("fraud-api") if "rollback" in e.action
    )
    failed = [
        c["name"] for c in event.after["detail"]["analysis"]["checks"] if c["verdict"] == "fail"
    ]
    assert any("psi" in name for name in failed)


def test_a_blue_green_switch_under_load_drops_no_request(tmp_path, serve_app, versions):
    sdk.create_deployment("fraud-api", MODEL, versions["good"], strategy="blue-green")
    app = serve_app(deployment_config(tmp_path, "fraud-api", controller=False))
    traffic = Traffic(app.url, threads=6).start()
    try:
        wait_for(lambda: len(traffic.answers) > 100)
        sdk.switch("fraud-api", versions["healthy"])
        new = str(versions["healthy"])
        wait_for(lambda: sum(a[2] == new for a in traffic.answers) > 100)
    finally:
        answers = traffic.stop()
    assert {status for status, *_ in answers} == {200}
    served = [a[2] for a in answers]
    assert served[0] == str(versions["good"]) and served[-1] == new
    # Once the new version answered, the old one never did again: the swap is one assignment.
    first_new = served.index(new)
    assert str(versions["good"]) not in served[first_new + 6 * 2 :]


def test_a_shadow_never_answers_and_is_logged_beside_the_primary(tmp_path, serve_app, versions):
    from perennia.data.predlog import read_predictions
    from perennia.serving.rollout import shadow_report

    sdk.create_deployment("fraud-api", MODEL, versions["good"])
    sdk.start_shadow("fraud-api", versions["shifted"])
    app = serve_app(deployment_config(tmp_path, "fraud-api"))
    traffic = Traffic(app.url).start()
    wait_for(lambda: len(traffic.answers) > 200)
    answers = traffic.stop()
    app.stop()
    assert {(a[0], a[1]) for a in answers} == {(200, "stable")}
    log = read_predictions(str(tmp_path / "predlog"), deployment="fraud-api").to_pandas()
    primary, shadow = log[~log["shadow"]], log[log["shadow"]]
    assert set(shadow["request_id"]) <= set(primary["request_id"])
    assert len(shadow) > 0.5 * len(primary)
    report = shadow_report(current_store(), "fraud-api", str(tmp_path / "predlog"))
    assert report.n_pairs > 0 and report.agreement < 0.8  # the shifted model disagrees


def test_ab_assignment_is_sticky_by_the_request_key(tmp_path, serve_app, versions):
    import httpx

    from tests.serving.deployment_helpers import rows_body

    sdk.create_deployment("fraud-api", MODEL, versions["good"])
    sdk.start_ab("fraud-api", versions["healthy"], split=50, sticky_header="x-user-id")
    app = serve_app(deployment_config(tmp_path, "fraud-api", controller=False))
    seen: dict[str, set[str]] = {}
    with httpx.Client() as client:
        for user in range(40):
            for _ in range(3):
                reply = client.post(
                    f"{app.url}/invocations", json=rows_body(), headers={"x-user-id": f"u{user}"}
                )
                assert reply.status_code == 200
                seen.setdefault(f"u{user}", set()).add(reply.headers["perennia-variant"])
    assert all(len(variants) == 1 for variants in seen.values())
    assert {v for variants in seen.values() for v in variants} == {"stable", "challenger"}
