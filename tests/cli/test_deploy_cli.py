"""`perennia deploy`: every command changes or shows the stored deployment; errors are one line."""

from __future__ import annotations

import pytest

from perennia.registry import deployments as sdk
from perennia.registry.session import current_store
from tests.cli.test_cli import run_cli


@pytest.fixture
def fraud(tracking: str) -> str:
    """Return the name of a registered model with versions 1 to 3."""
    store = current_store()
    store.registry.create_registered_model("fraud")
    for _ in range(3):
        store.versions.create_model_version("fraud", f"runs:/{'a' * 32}/model")
    return "fraud"


def _shares(name: str = "api") -> list[tuple[str, int, float]]:
    return [(v.name, v.version, v.weight) for v in sdk.get_deployment(name).variants]


def test_create_list_show_and_delete(fraud, capsys) -> None:
    code, out, _ = run_cli(capsys, "deploy", "create", "api", "--model", fraud, "--version", "1")
    assert code == 0 and "created api" in out and "stable→v1 100%" in out
    assert _shares() == [("stable", 1, 100.0)]
    code, out, _ = run_cli(capsys, "deploy", "list")
    assert code == 0 and "api" in out and "fraud" in out and "stable" in out
    code, out, _ = run_cli(capsys, "deploy", "show", "api")
    assert code == 0 and "Variants" in out and "champion" in out and "100%" in out
    assert "revision" in out
    assert run_cli(capsys, "deploy", "delete", "api")[0] == 0
    assert sdk.list_deployments() == []
    code, _, err = run_cli(capsys, "deploy", "show", "api")
    assert code == 1 and err.strip().startswith("error:") and "'api' does not exist" in err


def test_canary_set_promote_and_history(fraud, capsys) -> None:
    run_cli(capsys, "deploy", "create", "api", "-m", fraud, "-v", "1")
    code, out, _ = run_cli(capsys, "deploy", "canary", "api", "2", "--steps", "10,50,100")
    assert code == 0 and "canary→v2 10%" in out
    assert sdk.get_deployment("api").policy.steps == (10.0, 50.0, 100.0)
    assert run_cli(capsys, "deploy", "set", "api", "--weights", "stable=70,canary=30")[0] == 0
    assert _shares() == [("stable", 1, 70.0), ("canary", 2, 30.0)]
    code, out, _ = run_cli(capsys, "deploy", "promote", "api")
    assert code == 0 and _shares() == [("stable", 2, 100.0)]
    code, out, _ = run_cli(capsys, "deploy", "rollback", "api", "--reason", "too slow")
    assert code == 0 and _shares() == [("stable", 1, 100.0)]
    code, out, _ = run_cli(capsys, "deploy", "history", "api")
    assert code == 0
    for action in ("create", "start_canary", "set_traffic", "promote", "rollback", "too slow"):
        assert action in out


def test_shadow_ab_and_switch(fraud, capsys) -> None:
    run_cli(capsys, "deploy", "create", "api", "-m", fraud, "-v", "1", "--no-alias")
    assert run_cli(capsys, "deploy", "shadow", "api", "2")[0] == 0
    assert sdk.get_deployment("api").shadows[0].version == 2
    code, out, _ = run_cli(capsys, "deploy", "ab", "api", "3", "--split", "20")
    assert code == 0 and _shares() == [("stable", 1, 80.0), ("challenger", 3, 20.0)]
    assert run_cli(capsys, "deploy", "rollback", "api")[0] == 0
    assert run_cli(capsys, "deploy", "switch", "api", "3")[0] == 0
    assert _shares() == [("stable", 3, 100.0)]
    assert sdk.get_deployment("api").alias is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("set", "api", "--weights", "stable=90,canary=20"), "no variant 'canary'"),
        (("set", "api", "--weights", "stable"), "variant=weight pairs"),
        (("set", "api", "--weights", "stable=60"), "sum to 100"),
        (("canary", "api", "2", "--steps", "5,fifty"), "numbers separated by commas"),
        (("canary", "api", "2", "--steps", "50,25,100"), "increase"),
        (("canary", "api", "9"), "no version 9"),
        (("create", "api", "-m", "fraud", "-v", "2"), "already exists"),
    ],
)
def test_bad_changes_are_one_line_errors_and_change_nothing(fraud, capsys, args, message):
    run_cli(capsys, "deploy", "create", "api", "-m", fraud, "-v", "1")
    before = sdk.get_deployment("api")
    code, out, err = run_cli(capsys, "deploy", *args)
    assert code == 1 and message in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in out + err
    assert sdk.get_deployment("api") == before
