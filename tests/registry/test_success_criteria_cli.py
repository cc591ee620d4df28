"""`perennia models criteria set|show|clear` and `perennia evaluate compare` without --gate."""

from __future__ import annotations

import pytest

from perennia import registry
from tests.cli.test_ci_check import CRITERIA, prepare
from tests.cli.test_cli import run_cli


@pytest.fixture
def prepared(tracking, tmp_path):
    return prepare(tmp_path / "ci")


def test_criteria_commands_set_show_and_clear(capsys, prepared) -> None:
    code, out, err = run_cli(
        capsys,
        "models",
        "criteria",
        "set",
        "fraud",
        "--goal",
        "Rank risky payments.",
        "--gate",
        "recall_at_fpr_1pct>=0.3",
        "--gate",
        "pr_auc >= baseline",
    )
    assert code == 0 and "2 gate(s)" in out
    assert registry.get_success_criteria("fraud").gates == (
        "recall_at_fpr_1pct >= 0.3",
        "pr_auc >= baseline",
    )
    code, out, err = run_cli(capsys, "models", "criteria", "show", "fraud")
    assert code == 0 and "Rank risky payments." in out
    # The champion's run logged no metrics: the absolute gate is not measured on v1.
    assert "not measured" in out and "needs a baseline" in out and "v1" in out
    code, out, err = run_cli(
        capsys, "models", "criteria", "set", "fraud", "--goal", "x", "--gate", "auc => 1"
    )
    assert code == 1 and "did you mean '>='" in (out + err).replace("\n", " ")
    assert registry.get_success_criteria("fraud").goal == "Rank risky payments."
    assert run_cli(capsys, "models", "criteria", "clear", "fraud")[0] == 0
    assert registry.get_success_criteria("fraud") is None


def test_evaluate_compare_defaults_to_the_criteria(capsys, prepared) -> None:
    common = ["--data", str(prepared.data), "--target", "label", "--resamples", "20"]
    code, out, err = run_cli(
        capsys,
        "evaluate",
        "compare",
        "--candidate",
        prepared.uris["bad"],
        "--baseline",
        "models:/fraud@champion",
        *common,
    )
    assert code == 1 and "the success criteria of fraud" in out
    for gate in CRITERIA:
        assert gate.split()[0] in out
    code, out, err = run_cli(
        capsys,
        "evaluate",
        "compare",
        "--candidate",
        prepared.uris["good"],
        "--baseline",
        "models:/fraud@champion",
        *common,
    )
    assert code == 0 and "all 2 gates passed" in out
    # Neither model registered and no --gate: a usage error naming the fix.
    code, out, err = run_cli(
        capsys,
        "evaluate",
        "compare",
        "--candidate",
        prepared.uris["good"],
        "--baseline",
        prepared.uris["bad"],
        *common,
    )
    assert code == 1 and "--gate" in err
