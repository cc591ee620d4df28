"""`perennia data`: each command shows or changes stored dataset versions; errors are one line."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import perennia
from tests.cli.test_cli import run_cli


@pytest.fixture
def parquet(tmp_path) -> str:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "id": np.arange(300),
            "x": rng.normal(size=300),
            "city": rng.choice(["Lyon", "Oslo"], 300),
            "label": rng.integers(0, 2, 300),
        }
    )
    path = tmp_path / "orders.parquet"
    frame.to_parquet(path)
    return str(path)


def test_register_list_versions_get_tag_alias(tracking, parquet, capsys) -> None:
    code, out, _ = run_cli(capsys, "data", "register", "orders", parquet, "--tag", "team=ops")
    assert code == 0 and "registered orders@1" in out
    assert run_cli(capsys, "data", "register", "orders", parquet)[0] == 0
    code, out, _ = run_cli(capsys, "data", "list")
    assert code == 0 and "orders" in out and "300" in out
    code, out, _ = run_cli(capsys, "data", "versions", "orders")
    assert code == 0 and out.index(" 2 ") < out.index(" 1 ")
    assert run_cli(capsys, "data", "alias", "orders@1", "golden")[0] == 0
    assert run_cli(capsys, "data", "tag", "orders@golden", "checked", "yes")[0] == 0
    code, out, _ = run_cli(capsys, "data", "get", "orders@golden")
    assert code == 0 and "orders@1" in out and "checked" in out and "golden" in out
    assert perennia.data.get("orders@1").tags == {"team": "ops", "checked": "yes"}


def test_diff_fetch_and_lineage(tracking, parquet, tmp_path, capsys) -> None:
    run_cli(capsys, "data", "register", "orders", parquet)
    frame = pd.read_parquet(parquet)
    frame.loc[frame["id"] < 30, "x"] += 5
    changed = tmp_path / "changed.parquet"
    frame.to_parquet(changed)
    run_cli(capsys, "data", "register", "orders", str(changed))
    code, out, _ = run_cli(capsys, "data", "diff", "orders@1", "orders@2", "--key", "id")
    assert code == 0 and "30" in out  # thirty rows changed
    code, out, _ = run_cli(capsys, "data", "fetch", "orders@2", str(tmp_path / "copy"))
    assert code == 0
    parts = sorted((tmp_path / "copy").rglob("*.parquet"))
    fetched = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
    pd.testing.assert_frame_equal(fetched, frame, check_dtype=False)
    code, out, _ = run_cli(capsys, "data", "split", "orders@2", "--fractions", "0.7,0.2,0.1")
    assert code == 0 and "orders-train@1" in out
    code, out, _ = run_cli(capsys, "data", "lineage", "orders@2")
    assert code == 0 and "orders-test@1" in out and "derived" in out


def test_infer_contract_then_validate_passes_and_a_broken_version_fails(
    tracking, parquet, tmp_path, capsys
) -> None:
    run_cli(capsys, "data", "register", "orders", parquet)
    contract_file = tmp_path / "contract.json"
    code, out, _ = run_cli(
        capsys,
        "data",
        "infer-contract",
        "orders@1",
        "--label",
        "label",
        "--output",
        str(contract_file),
    )
    assert code == 0 and "kept a contract" in out
    assert json.loads(contract_file.read_text())["expectations"]
    html = tmp_path / "report.html"
    code, out, _ = run_cli(capsys, "data", "validate", "orders@1", "--html", str(html))
    assert code == 0 and "failed" not in out and html.read_text().startswith("<!DOCTYPE html>")
    broken = pd.read_parquet(parquet)
    broken.loc[0:9, "city"] = "Atlantis"
    path = tmp_path / "broken.parquet"
    broken.to_parquet(path)
    run_cli(capsys, "data", "register", "orders", str(path))
    code, out, _ = run_cli(capsys, "data", "validate", "orders@2", "--contract", str(contract_file))
    assert code == 1 and "expect_column_values_to_be_in_set" in out and "failed" in out


def test_errors_are_one_line(tracking, tmp_path, capsys) -> None:
    code, _, err = run_cli(capsys, "data", "get", "nothing@1")
    assert code == 1 and err.strip().startswith("error:") and len(err.strip().splitlines()) == 1
    code, _, err = run_cli(capsys, "data", "register", "x", str(tmp_path / "absent.csv"))
    assert code == 1 and err.strip().startswith("error:")
    code, _, err = run_cli(capsys, "data", "register", "x", "a", "--tag", "novalue")
    assert code == 1 and "--tag takes KEY=VALUE" in err


def test_skew_compares_a_deployments_traffic_with_the_training_version(
    tracking, tmp_path, capsys
) -> None:
    from tests.data.test_skew import serving, training, write_log

    perennia.data.register("fraud-train", training())
    assert run_cli(capsys, "data", "infer-contract", "fraud-train@1", "--label", "label")[0] == 0
    steady, shifted = str(tmp_path / "steady"), str(tmp_path / "shifted")
    write_log(steady, serving(2_000, 1, shift_amount=False))
    write_log(shifted, serving(2_000, 1, shift_amount=True))
    code, out, _ = run_cli(
        capsys, "data", "skew", "fraud-train@1", "--deployment", "fraud", "--log", steady
    )
    assert code == 0 and "drifted" not in out and "amount" in out
    html = tmp_path / "skew.html"
    code, out, _ = run_cli(
        capsys,
        "data",
        "skew",
        "fraud-train@1",
        "--deployment",
        "fraud",
        "--log",
        shifted,
        "--html",
        str(html),
    )
    assert code == 1 and "drifted" in out and html.read_text().startswith("<!DOCTYPE html>")
