"""`perennia monitor`: drift between files (exit 1 on drift), profiles, and the monitor commands."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import perennia
from perennia.monitoring import log_reference_profile
from tests.cli.test_cli import run_cli


@pytest.fixture
def frames(tmp_path) -> tuple[str, str, str]:
    rng = np.random.default_rng(3)
    n = 5_000
    ref = pd.DataFrame({"x": rng.normal(size=n), "city": rng.choice(["Lyon", "Oslo"], n)})
    same = pd.DataFrame({"x": rng.normal(size=n), "city": rng.choice(["Lyon", "Oslo"], n)})
    moved = pd.DataFrame({"x": rng.normal(1.0, 1.0, n), "city": rng.choice(["Lyon", "Oslo"], n)})
    paths = []
    for name, frame in (("ref", ref), ("same", same), ("moved", moved)):
        path = tmp_path / f"{name}.parquet"
        frame.to_parquet(path)
        paths.append(str(path))
    return paths[0], paths[1], paths[2]


def test_drift_exits_one_on_drift_and_writes_the_html_report(frames, tmp_path, capsys) -> None:
    ref, same, moved = frames
    code, out, _ = run_cli(capsys, "monitor", "drift", ref, same)
    assert code == 0 and "no drift" in out
    html = tmp_path / "drift.html"
    code, out, _ = run_cli(capsys, "monitor", "drift", ref, moved, "--html", str(html))
    assert code == 1 and "drift detected" in out and "DRIFT" in out
    page = html.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "drift detected" in page


def test_a_stored_profile_stands_in_for_the_reference(frames, tmp_path, capsys) -> None:
    ref, same, moved = frames
    profile = tmp_path / "ref.json"
    assert run_cli(capsys, "monitor", "profile", ref, "--out", str(profile))[0] == 0
    assert json.loads(profile.read_text())["rows"] == 5_000
    assert run_cli(capsys, "monitor", "drift", str(profile), same)[0] == 0
    assert run_cli(capsys, "monitor", "drift", str(profile), moved)[0] == 1


def test_create_list_show_run_delete(tracking, frames, tmp_path, capsys) -> None:
    ref, _, _ = frames
    with perennia.start_run():
        uri = log_reference_profile(pd.read_parquet(ref))
    code, out, _ = run_cli(
        capsys,
        "monitor",
        "create",
        "inputs",
        "--reference",
        uri,
        "--deployment",
        "shop",
        "--window",
        "1h",
        "--schedule",
        "1h",
    )
    assert code == 0 and "every 3600 s" in out
    code, out, _ = run_cli(capsys, "monitor", "list")
    assert code == 0 and "inputs" in out and "shop" in out
    log = str(tmp_path / "empty-log")
    code, out, _ = run_cli(capsys, "monitor", "run", "inputs", "--log-location", log)
    assert code == 0 and "0 window(s)" in out
    code, out, _ = run_cli(capsys, "monitor", "show", "inputs")
    assert code == 0 and "no window computed yet" in out
    code, _, err = run_cli(capsys, "monitor", "create", "inputs", "--reference", uri)
    assert code != 0 and "inputs" in err and "\n" not in err.strip()
    assert run_cli(capsys, "monitor", "delete", "inputs")[0] == 0
    code, _, err = run_cli(capsys, "monitor", "show", "inputs")
    assert code != 0 and "inputs" in err


def test_a_bad_reference_is_one_clear_line(tracking, capsys) -> None:
    code, _, err = run_cli(capsys, "monitor", "create", "m", "--reference", "nowhere.json")
    assert code != 0 and "nowhere.json" in err and len(err.strip().splitlines()) == 1


def test_prometheus_rules_and_a_grafana_dashboard_from_a_monitors_alerts(
    tracking, frames, tmp_path, capsys
) -> None:
    import yaml

    from perennia.monitoring import create_monitor

    ref, _, _ = frames
    with perennia.start_run():
        uri = log_reference_profile(pd.read_parquet(ref))
    rule = {
        "name": "Drifted",
        "monitor": "inputs",
        "value": "drift.share_drifted",
        "op": ">",
        "threshold": 0.3,
        "for_ms": 1_800_000,
    }
    create_monitor("inputs", reference=uri, deployment="shop", alerts=[rule])
    rules, board = tmp_path / "rules.yaml", tmp_path / "board.json"
    code, out, _ = run_cli(
        capsys, "monitor", "prometheus", "inputs", "--rules", str(rules), "--dashboard", str(board)
    )
    assert code == 0 and "1 rule(s)" in out
    (group,) = yaml.safe_load(rules.read_text())["groups"]
    (alert,) = group["rules"]
    assert alert["alert"] == "Drifted" and alert["for"] == "30m"
    assert "perennia_monitor_value" in alert["expr"] and "> 0.3" in alert["expr"]
    assert json.loads(board.read_text())["panels"]
