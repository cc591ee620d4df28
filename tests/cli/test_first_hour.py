"""What a new user meets first: which store a command uses, and the columns a search is about."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import perennia
from perennia.cli.runs import metrics_named_in
from tests.cli.test_cli import run_cli


def _perennia(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERENNIA_")}
    env["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-m", "perennia.cli.main", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_command_in_a_subfolder_uses_the_projects_store_above_it(tmp_path: Path) -> None:
    project = tmp_path / "project"
    deeper = project / "src" / "notebooks"
    deeper.mkdir(parents=True)
    logged = _perennia(project, "experiments", "create", "churn")
    assert logged.returncode == 0, logged.stderr
    found = _perennia(deeper, "info")
    assert found.returncode == 0, found.stderr
    assert str(project / ".perennia" / "perennia.db") in found.stdout
    assert "2 experiments" in found.stdout  # Default and churn
    assert not (deeper / ".perennia").exists()
    listed = _perennia(deeper, "runs", "list")
    assert listed.stdout.splitlines()[0] == f"store: sqlite:///{project / '.perennia/perennia.db'}"


def test_info_in_a_fresh_folder_says_there_is_no_store_and_creates_none(tmp_path: Path) -> None:
    shown = _perennia(tmp_path, "info")
    assert shown.returncode == 0, shown.stderr
    assert "nothing yet" in shown.stdout and str(tmp_path / ".perennia") in shown.stdout
    assert not (tmp_path / ".perennia").exists()


def test_info_hides_a_database_password(
    tracking: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from perennia.cli.info import display_uri

    assert display_uri("postgresql+psycopg://me:s3cret@db:5432/x") == (
        "postgresql+psycopg://me:***@db:5432/x"
    )
    code, out, _ = run_cli(capsys, "info")
    assert code == 0 and "1 experiments, 0 runs" in out


def test_search_shows_the_metrics_it_filtered_and_ordered_on_first(
    tracking: str, capsys: pytest.CaptureFixture[str]
) -> None:
    perennia.set_experiment("columns")
    with perennia.start_run(run_name="only"):
        perennia.log_metrics({"aaa": 1.0, "bbb": 2.0, "zeta": 0.25, "loss": 0.5})
    perennia.flush()
    code, out, _ = run_cli(
        capsys, "runs", "search", "-f", "metrics.zeta < 1", "-o", "metrics.`loss` DESC"
    )
    header = next(line for line in out.splitlines() if " run " in line)
    assert code == 0 and header.index("zeta") < header.index("loss")
    # Other metrics follow when the terminal has room; never ahead of the searched ones.
    assert all(header.index(k) > header.index("loss") for k in ("aaa", "bbb") if k in header)


@pytest.mark.parametrize(
    ("filter_string", "order_by", "keys"),
    [
        ("metrics.acc > 0.9 and metrics.`f1 score` < 1", None, ["acc", "f1 score"]),
        ("params.x = 'metrics.no'", ['metric."val/loss" DESC', "metrics.acc"], ["val/loss", "acc"]),
        ("attributes.status = 'FINISHED'", None, []),
    ],
)
def test_metric_references_are_read_from_filters_and_orderings(
    filter_string, order_by, keys
) -> None:
    assert metrics_named_in(filter_string, order_by) == keys


def test_an_empty_audit_log_says_what_it_covers(
    tracking: str, capsys: pytest.CaptureFixture[str]
) -> None:
    perennia.set_experiment("unaudited")
    code, out, _ = run_cli(capsys, "audit")
    assert code == 0 and "requests answered by `perennia server`" in " ".join(out.split())


def test_prompts_registered_through_mlflow_are_not_listed_as_models(
    tracking: str, capsys: pytest.CaptureFixture[str]
) -> None:
    perennia.registry.create_registered_model("fraud")
    # What MLflow's register_prompt sends: a registered model carrying the prompt tag.
    perennia.registry.create_registered_model("greeting", tags={"mlflow.prompt.is_prompt": "true"})
    code, out, _ = run_cli(capsys, "models", "list")
    assert code == 0 and "fraud" in out and "greeting" not in out.split("prompt(s) not shown")[0]
    assert "1 prompt(s) not shown" in out
    code, out, _ = run_cli(capsys, "models", "list", "--prompts")
    assert code == 0 and "greeting" in out and "fraud" not in out


def test_help_texts_promise_only_what_exists(capsys: pytest.CaptureFixture[str]) -> None:
    texts = []
    for argv in (["--help"], ["server", "--help"]):
        code, out, _ = run_cli(capsys, *argv)
        assert code == 0
        texts.append(" ".join(out.split()))
    for text in texts:
        assert "later" not in text and "to come" not in text
    # The monitor group exists now, so the help may name it, and it answers.
    assert run_cli(capsys, "monitor", "--help")[0] == 0
    assert "MLflow" in texts[1]
