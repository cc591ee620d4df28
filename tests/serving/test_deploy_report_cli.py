"""`perennia deploy report|advance`: a deployment judged from the prediction log a live server
wrote, by hand, the way the servers' own controller judges it."""

from __future__ import annotations

import re

import pytest

from perennia.cli.main import main
from perennia.entities import CanaryPolicy
from perennia.registry import deployments as sdk
from perennia.registry.session import current_store
from tests.serving.deployment_helpers import (
    MODEL,
    Traffic,
    deployment_config,
    wait_for,
)

# With test_rollouts.py on one worker, which registers the versions they copy once.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("registered-versions")]


def _serve_some(tmp_path, serve_app, count: int = 150) -> None:
    app = serve_app(deployment_config(tmp_path, "fraud-api", controller=False))
    traffic = Traffic(app.url).start()
    try:
        wait_for(lambda: len(traffic.answers) >= count)
    finally:
        traffic.stop()
    app.stop()  # flushes the prediction log


def test_report_and_advance_judge_a_canary_from_the_log(tmp_path, serve_app, versions, capsys):
    sdk.create_deployment("fraud-api", MODEL, versions["good"])
    sdk.start_canary(
        "fraud-api", versions["shifted"], CanaryPolicy(steps=(50.0, 100.0), min_requests=30)
    )
    _serve_some(tmp_path, serve_app)
    log = ["--log-location", str(tmp_path / "predlog")]
    assert main(["deploy", "report", "fraud-api", *log]) == 0
    out = " ".join(capsys.readouterr().out.split())
    # Each variant's row (name, no shadow mark, a request count), then the step's failed check.
    assert re.search(r"stable [\d,]+ ", out) and re.search(r"canary [\d,]+ ", out), out
    assert "Canary step 1: fail" in out and "prediction_psi fail" in out, out
    assert main(["deploy", "advance", "fraud-api", *log]) == 0
    assert "rollback" in capsys.readouterr().out
    assert current_store().deployments.get("fraud-api").state == "rolled_back"


def test_report_shows_the_shadows_agreement(tmp_path, serve_app, versions, capsys):
    sdk.create_deployment("fraud-api", MODEL, versions["good"])
    sdk.start_shadow("fraud-api", versions["healthy"])
    _serve_some(tmp_path, serve_app)
    assert main(["deploy", "report", "fraud-api", "--log-location", str(tmp_path / "predlog")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    # "paired rows" is printed even with no shadow row at all: the count must be above zero,
    # and the retrained model must mostly agree with the champion.
    agreement = re.search(r"vs stable: (\d+) paired rows, 0 failed in the shadow; (\d+) of", out)
    assert agreement is not None, out
    paired, equal = int(agreement[1]), int(agreement[2])
    assert paired > 0 and equal > 0.8 * paired, out


def test_advance_without_a_canary_in_progress_does_nothing(tmp_path, versions, capsys):
    sdk.create_deployment("fraud-api", MODEL, versions["good"])
    revision = current_store().deployments.get("fraud-api").revision
    assert main(["deploy", "advance", "fraud-api", "--log-location", str(tmp_path / "none")]) == 0
    assert "idle" in capsys.readouterr().out
    assert current_store().deployments.get("fraud-api").revision == revision
