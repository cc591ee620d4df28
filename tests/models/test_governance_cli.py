"""`perennia models policy|request|approve|reject|requests|card|role` on an embedded store."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

import perennia
from perennia.cli.main import main


@pytest.fixture
def fraud(tracking):
    """Two versions of 'fraud' logged by the current user; 'mia' manages it, 'zed' views it."""
    X, y = make_classification(
        n_samples=120, n_features=3, n_informative=2, n_redundant=0, random_state=1
    )
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    for c in (1.0, 0.01):
        model = LogisticRegression(C=c).fit(frame, y)
        with perennia.start_run():
            perennia.log_metric("test_roc_auc", 0.97 if c == 1.0 else 0.7)
            perennia.log_model(model, name="model", registered_model_name="fraud")
    store = perennia.registry._store()
    store.users.create_user("mia", None)
    store.users.create_user("zed", None)
    return store


def test_policy_request_approve_moves_the_alias_and_lineage_shows_it(fraud, capsys) -> None:
    assert main(["models", "role", "fraud", "mia", "manager"]) == 0
    assert main(["models", "role", "fraud", "zed", "viewer"]) == 0
    assert (
        main(["models", "policy", "set", "fraud", "champion", "--gate", "test_roc_auc >= 0.9"]) == 0
    )
    assert "needs 1 approval(s) by a manager; gates: test_roc_auc >= 0.9" in capsys.readouterr().out
    assert main(["models", "alias", "set", "fraud", "champion", "1"]) == 1
    assert "guarded by an approval policy" in capsys.readouterr().err
    assert main(["models", "request", "fraud", "1", "champion", "-m", "best auc"]) == 0
    out = capsys.readouterr().out
    assert "request 1: PENDING" in out and "1 more approval(s) by a manager" in out
    assert main(["models", "approve", "1", "--as", "zed"]) == 1
    assert "needs the manager role" in capsys.readouterr().err
    assert main(["models", "approve", "1", "--as", "mia", "-m", "ok"]) == 0
    assert "request 1: APPLIED (fraud@champion → version 1)" in capsys.readouterr().out
    assert perennia.registry.get_model_version_by_alias("fraud", "champion").version == 1
    assert main(["models", "request", "fraud", "2", "champion"]) == 0
    capsys.readouterr()
    assert main(["models", "reject", "2", "--as", "mia", "-m", "auc too low"]) == 0
    assert "REJECTED" in capsys.readouterr().out
    assert main(["models", "requests", "fraud"]) == 0
    out = capsys.readouterr().out
    assert "APPLIED" in out and "REJECTED" in out and "mia ✓" in out and "mia ✗" in out
    assert main(["models", "policy", "show", "fraud"]) == 0
    assert "test_roc_auc >= 0.9" in capsys.readouterr().out
    assert main(["models", "lineage", "fraud", "--version", "1", "--json"]) == 0
    graph = json.loads(capsys.readouterr().out)
    assert graph["aliases"] == ["champion"]
    assert graph["approvals"][0]["reviews"] == [
        {"reviewer": "mia", "decision": "approve", "comment": "ok"}
    ]
    assert main(["models", "history", "fraud"]) == 0
    assert "approve_alias" in capsys.readouterr().out
    assert main(["audit", "--registry", "--user", "mia", "--limit", "5"]) == 0
    out = capsys.readouterr().out
    assert "review_approval" in out and "create_model_version" not in out


def test_card_edits_are_versioned_and_written_as_markdown_and_html(fraud, capsys, tmp_path) -> None:
    assert (
        main(
            [
                "models",
                "card",
                "fraud",
                "--set",
                "intended_use=flag fraud",
                "--set",
                "limitations=EU only",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "revision 1" in out
    assert main(["models", "card", "fraud", "--set", "limitations=", "-m", "now global"]) == 0
    assert "revision 2" in capsys.readouterr().out
    assert perennia.registry.get_card("fraud").fields == {"intended_use": "flag fraud"}
    assert perennia.registry.get_card("fraud", 1).fields["limitations"] == "EU only"
    assert main(["models", "card", "fraud", "--version", "1", "--out", str(tmp_path)]) == 0
    assert "v1.md" in capsys.readouterr().out.replace("\n", "")
    markdown = (tmp_path / "v1.md").read_text()
    assert "flag fraud" in markdown and "EU only" not in markdown
    assert main(["models", "card", "fraud", "--set", "no-equals-sign"]) == 1
    assert "must be section=text" in capsys.readouterr().err
    assert main(["models", "card", "ghost"]) == 1
    assert "does not exist" in capsys.readouterr().err
