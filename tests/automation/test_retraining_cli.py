"""`perennia retrain`: set and show a policy, trigger and follow a retraining, list and show it."""

from __future__ import annotations

import pytest

from perennia.cli.main import main
from tests.automation import retraining_helpers as h
from tests.conftest import reset_tracking


@pytest.fixture
def env(sqlite_uri, tmp_path, monkeypatch):
    h.use_store(sqlite_uri, tmp_path, monkeypatch)
    monkeypatch.setenv("COLUMNS", "200")
    yield sqlite_uri
    reset_tracking()


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["retrain", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_policy_trigger_list_show_and_advance(env, capsys) -> None:
    h.champion()
    code, out, _ = _cli(
        capsys,
        "policy-set",
        h.MODEL,
        "--pipeline",
        h.GOOD,
        "--data",
        h.TRAIN,
        "--eval-data",
        h.EVAL,
        "--target",
        h.TARGET,
        "--param",
        "C=0.5",
        "--trigger",
        "new_data:bc-train",
        "--trigger",
        "schedule:0 3 * * *",
        "--auto-approve",
        "--cooldown",
        "30min",
    )
    assert code == 0 and "2 trigger(s), cooldown 1800 s" in out
    code, out, _ = _cli(capsys, "policy-show", h.MODEL)
    assert code == 0 and "0 3 * * *" in out and "auto-approve" in out
    code, out, _ = _cli(capsys, "trigger", h.MODEL, "--reason", "by hand", "--wait")
    assert code == 0 and "retraining 1 of bc started" in out and "promoted" in out
    code, out, _ = _cli(capsys, "trigger", h.MODEL)
    assert code == 1 and "cooldown holds" in out
    code, out, _ = _cli(capsys, "list", h.MODEL)
    assert code == 0 and "promoted" in out and "manual" in out
    code, out, _ = _cli(capsys, "show", "1")
    assert code == 0 and "challenger version 2 of bc registered" in out
    code, out, _ = _cli(capsys, "advance", "1")
    assert code == 0 and "promoted" in out


def test_bad_input_is_one_line_and_exits_non_zero(env, capsys) -> None:
    h.champion()
    code, _, err = _cli(
        capsys,
        "policy-set",
        h.MODEL,
        "--pipeline",
        h.GOOD,
        "--eval-data",
        h.EVAL,
        "--target",
        h.TARGET,
        "--trigger",
        "rumour:x",
    )
    assert code != 0 and "--trigger 'rumour:x' is not understood" in err
    code, _, err = _cli(capsys, "trigger", "ghost")
    assert code != 0 and "ghost" in err
