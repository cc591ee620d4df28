"""`perennia pipeline run | show | cancel`: a table of steps, exit 1 on failure, cancellation
from another process."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from perennia.cli.main import main
from tests.automation.pipelines_for_tests import executions, gated

pytestmark = pytest.mark.parametrize("sql_store_uri", ["sqlite"], indirect=True)
COUNTING = "tests.automation.pipelines_for_tests:counting"


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_run_prints_the_steps_and_a_second_run_is_cached(
    tracking: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = str(tmp_path / "log")
    code, out, _ = run_cli(
        capsys, "pipeline", "run", COUNTING, "--param", f"log={log}", "-p", "n=12"
    )
    assert code == 0, out
    for name in ("raw", "features", "labels", "summarize"):
        assert name in out
    assert "FINISHED" in out
    run_id = out.split(" run ")[1].split()[0]

    code, out, _ = run_cli(capsys, "pipeline", "run", COUNTING, "-p", f"log={log}", "-p", "n=12")
    assert code == 0 and len(executions(log)) == 4
    assert out.count("FINISHED") >= 4

    code, out, _ = run_cli(capsys, "pipeline", "show", run_id[:8])
    assert code == 0 and "summarize" in out and run_id in out

    code, _, err = run_cli(capsys, "pipeline", "cancel", run_id)
    assert code == 1 and "already ended" in err


def test_failed_run_exits_1_and_bad_input_is_one_line(
    tracking: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flag = tmp_path / "flag"
    flag.write_text("raise")
    code, out, _ = run_cli(
        capsys,
        "pipeline",
        "run",
        "tests.automation.pipelines_for_tests:resumable",
        "-p",
        f"log={tmp_path / 'log'}",
        "-p",
        f"flag={flag}",
    )
    assert code == 1 and "FAILED" in out and "SKIPPED" in out
    code, _, err = run_cli(capsys, "pipeline", "run", COUNTING, "-p", "colour=red")
    assert code == 1 and "unknown param(s) colour" in err
    code, _, err = run_cli(capsys, "pipeline", "run", "tests.automation.pipelines_for_tests:note")
    assert code == 1 and "not a Pipeline" in err
    code, _, err = run_cli(capsys, "pipeline", "run", COUNTING, "-p", "nonsense")
    assert code == 1 and "must be key=value" in err


def test_cancel_from_another_process(tracking: str, tmp_path: Path) -> None:
    log, flag = str(tmp_path / "log"), tmp_path / "go"
    outcome: dict[str, object] = {}

    def cancel_in_a_subprocess(run_id: str) -> None:
        def act() -> None:
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
            outcome["cli"] = subprocess.run(
                [sys.executable, "-m", "perennia.cli.main", "pipeline", "cancel", run_id],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            flag.touch()

        threading.Thread(target=act).start()

    result = gated.run({"log": log, "flag": str(flag)}, on_start=cancel_in_a_subprocess)
    cli = outcome["cli"]
    assert cli.returncode == 0, cli.stderr
    assert "cancellation requested" in cli.stdout
    assert result.status == "CANCELLED"
    assert executions(log) == ["gate"]
