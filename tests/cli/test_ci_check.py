"""`perennia ci check`: pass, fail (exit 1, the gate named), bad input (exit 2), and a data
contract failure (exit 1), with the evaluated metrics checked against scikit-learn."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.tree import DecisionTreeClassifier

import perennia
from perennia import registry
from perennia.data import infer_contract
from tests.cli.test_cli import run_cli

FEATURES = ["a", "b", "c", "d", "e"]
CRITERIA = ["roc_auc >= baseline - 0.01", "recall_at_fpr_1pct >= 0.3"]


def prepare(folder: Path) -> SimpleNamespace:
    """In the current tracking store: `fraud` with a champion and criteria, two candidates
    (one as good as the champion, one worse), and the evaluation data and contract files."""
    X, y = make_classification(
        n_samples=600, n_features=5, n_informative=4, n_redundant=0, class_sep=1.2, random_state=1
    )
    frame = pd.DataFrame(X, columns=FEATURES).assign(label=y)
    train, test = frame.iloc[:400], frame.iloc[400:].reset_index(drop=True)
    models = {
        "champion": LogisticRegression().fit(train[FEATURES], train["label"]),
        "good": LogisticRegression(C=0.5).fit(train[FEATURES], train["label"]),
        "bad": DecisionTreeClassifier(max_depth=1, random_state=0).fit(
            train[FEATURES], train["label"]
        ),
    }
    uris = {}
    for kind, model in models.items():
        with perennia.start_run():
            registered = "fraud" if kind == "champion" else None
            uris[kind] = perennia.log_model(
                model, name="model", registered_model_name=registered
            ).model_uri
    registry.set_alias("fraud", "champion", 1)
    registry.set_success_criteria("fraud", "Catch fraud at 1% false alarms.", CRITERIA)
    folder.mkdir(parents=True, exist_ok=True)
    data, contract = folder / "eval.csv", folder / "contract.json"
    test.to_csv(data, index=False)
    contract.write_text(infer_contract(test, label="label").to_json(), encoding="utf-8")
    broken = test.assign(a=test["a"] * 1000)  # far outside the contract's range
    broken.to_csv(folder / "drifted.csv", index=False)
    return SimpleNamespace(models=models, uris=uris, test=test, data=data, contract=contract)


@pytest.fixture
def prepared(tracking, tmp_path) -> SimpleNamespace:
    return prepare(tmp_path / "ci")


def _check(capsys, prepared, tmp_path, candidate: str, *extra: str) -> tuple[int, str, dict, str]:
    summary, report, card = tmp_path / "summary.md", tmp_path / "result.json", tmp_path / "card.md"
    code, out, _err = run_cli(
        capsys,
        "ci",
        "check",
        "--model",
        "fraud",
        "--candidate",
        candidate,
        "--data",
        str(prepared.data),
        "--target",
        "label",
        "--contract",
        str(prepared.contract),
        "--summary",
        str(summary),
        "--json",
        str(report),
        "--card",
        str(card),
        "--resamples",
        "50",
        *extra,
    )
    loaded = json.loads(report.read_text()) if report.exists() else {}
    text = summary.read_text() if summary.exists() else ""
    return code, out, loaded, text


def test_a_candidate_as_good_as_the_champion_passes(capsys, prepared, tmp_path) -> None:
    code, out, report, summary = _check(capsys, prepared, tmp_path, prepared.uris["good"])
    assert code == 0, out
    test = prepared.test
    expected = roc_auc_score(
        test["label"], prepared.models["good"].predict_proba(test[FEATURES])[:, 1]
    )
    assert report["candidate_metrics"]["roc_auc"] == pytest.approx(expected)
    champion = prepared.models["champion"].predict_proba(test[FEATURES])[:, 1]
    (auc_gate,) = [g for g in report["gates"] if g["metric"] == "roc_auc"]
    assert auc_gate["baseline"] == pytest.approx(roc_auc_score(test["label"], champion))
    assert report["gates_source"] == "the success criteria of fraud"
    assert [g["gate"] for g in report["gates"]] == CRITERIA
    assert summary.startswith("## ✅ perennia ci check passed: fraud")
    assert "| `roc_auc >= baseline - 0.01` |" in summary and "✅ pass" in summary
    assert "checks passed against contract" in summary
    assert "passed" in out


def test_an_unregistered_candidate_gets_no_card_and_says_why(capsys, prepared, tmp_path) -> None:
    code, out, report, summary = _check(capsys, prepared, tmp_path, prepared.uris["good"])
    assert code == 0
    # Not the champion's (or the latest version's) card: that would describe another model.
    assert not (tmp_path / "card.md").exists()
    assert report["card"]["path"] is None
    assert "not a registered version of fraud" in report["card"]["reason"]
    assert "model card: not written" in out and "model card: not written" in summary
    assert f"perennia models register {prepared.uris['good']} fraud" in summary


def test_a_registered_candidate_gets_its_own_versions_card(capsys, prepared, tmp_path) -> None:
    registry.register_model(prepared.uris["good"], "fraud")  # version 2
    for candidate in (prepared.uris["good"], "models:/fraud/2"):
        code, out, report, summary = _check(capsys, prepared, tmp_path, candidate)
        assert code == 0, out
        assert (tmp_path / "card.md").read_text().startswith("# Model card: fraud v2")
        assert report["card"] == {"path": str(tmp_path / "card.md"), "version": 2, "reason": None}
        assert "model card:" in summary and "(v2)" in summary
    (tmp_path / "card.md").unlink()
    registry.register_model(prepared.uris["good"], "other")  # another model's version 1
    code, _out, report, _summary = _check(capsys, prepared, tmp_path, "models:/other/1")
    assert code == 0 and report["card"]["path"] is None
    assert not (tmp_path / "card.md").exists()


def test_a_worse_candidate_fails_with_exit_1_and_the_gate_named(capsys, prepared, tmp_path) -> None:
    code, out, report, summary = _check(capsys, prepared, tmp_path, prepared.uris["bad"])
    assert code == 1
    failed = {g["metric"] for g in report["gates"] if g["status"] == "fail"}
    assert failed == {"roc_auc", "recall_at_fpr_1pct"}
    assert summary.startswith("## ❌ perennia ci check failed: fraud — 2 of 2 gates failed")
    assert "roc_auc >= baseline - 0.01" in summary.splitlines()[0]
    assert "❌ **fail**" in summary and "FAILED: roc_auc" in summary
    assert "FAILED: roc_auc" in out


def test_explicit_gates_replace_the_criteria(capsys, prepared, tmp_path) -> None:
    code, _out, report, _summary = _check(
        capsys, prepared, tmp_path, prepared.uris["bad"], "--gate", "accuracy >= 0.5"
    )
    assert code == 0 and [g["gate"] for g in report["gates"]] == ["accuracy >= 0.5"]


def test_without_a_champion_only_absolute_gates_are_judged(capsys, prepared, tmp_path) -> None:
    registry.delete_alias("fraud", "champion")
    code, _out, report, summary = _check(capsys, prepared, tmp_path, prepared.uris["good"])
    assert code == 0
    assert [g["status"] for g in report["gates"]] == ["skipped", "pass"]
    assert "no champion to compare with" in summary and "⚪ skipped" in summary
    code, *_ = _check(capsys, prepared, tmp_path, prepared.uris["bad"])
    assert code == 1  # its recall at 1% FPR is below the absolute floor


def test_data_failing_its_contract_exits_1(capsys, prepared, tmp_path) -> None:
    prepared.data = prepared.data.with_name("drifted.csv")
    code, _out, report, summary = _check(capsys, prepared, tmp_path, prepared.uris["good"])
    assert code == 1
    assert report["validation"]["success"] is False
    assert any(item["column"] == "a" for item in report["validation"]["failed"])
    assert "data validation failed" in summary.splitlines()[0]
    assert {g["status"] for g in report["gates"]} == {"skipped"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (["--model", "nobody"], "nobody"),
        (["--data", "missing.csv"], "missing.csv"),
        (["--candidate", "runs:/0123456789abcdef0123456789abcdef/model"], "0123456789abcdef"),
        (["--gate", "roc_auc => 0.8"], "did you mean '>='"),
        (["--contract", "no-such.json"], "no-such.json"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, prepared, tmp_path, change, message) -> None:
    args = {
        "--model": "fraud",
        "--candidate": prepared.uris["good"],
        "--data": str(prepared.data),
        "--target": "label",
    }
    extra = []
    for flag, value in zip(change[::2], change[1::2], strict=True):
        if flag in args:
            args[flag] = value
        else:
            extra += [flag, value]
    flat = [item for pair in args.items() for item in pair]
    code, out, err = run_cli(capsys, "ci", "check", *flat, *extra)
    assert code == 2, out + err
    (line,) = [x for x in (out + err).splitlines() if x.startswith("error:")]
    assert message in line


def test_a_model_without_criteria_or_gates_is_bad_input(capsys, prepared, tmp_path) -> None:
    registry.clear_success_criteria("fraud")
    code, out, _report, _summary = _check(capsys, prepared, tmp_path, prepared.uris["good"])
    assert code == 2 and "no gates" in out
