"""`perennia demo --loop`: the closed loop runs in a fresh folder and says where each record is."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("demo-loop")]


def test_demo_loop_drifts_retrains_and_promotes(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERENNIA_")}
    script = Path(sys.executable).with_name("perennia")
    result = subprocess.run(
        [str(script), "demo", "--loop"],
        cwd=tmp_path,
        env={**env, "COLUMNS": "160"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "alert InputsDrifted fired" in out
    assert "reason:     version 2 promoted to @champion (was 1)" in out
    retraining = int(re.search(r"perennia retrain show (\d+)", out).group(1))
    run_id = re.search(r"pipeline:   run ([0-9a-f]{32})", out).group(1)

    from perennia.store import open_store

    store = open_store(f"sqlite:///{tmp_path / '.perennia' / 'perennia.db'}")
    try:
        found = store.retraining.get_retraining(retraining)
        assert (found.state, found.pipeline_run_id) == ("promoted", run_id)
        assert found.trigger["kind"] == "alert"
        assert store.aliases.get_version_by_alias("breast-cancer-loop", "champion").version == 2
        assert store.approvals.get_request(found.approval_request_id).status == "APPLIED"
        deployment = store.deployments.get(found.deployment)
        assert (deployment.state, deployment.stable.version) == ("promoted", 2)
        monitor = store.monitors.get_monitor("breast-cancer-loop-inputs")
        assert monitor.reference == "models:/breast-cancer-loop/2"
    finally:
        store.close()
