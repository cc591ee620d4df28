"""Usage errors print one line naming the problem and the help to read, and exit 2, as click does."""

from __future__ import annotations

import subprocess
import sys

import pytest

CASES = {
    "an unknown option": (
        ["runs", "list", "--bogus"],
        "No such option: --bogus",
        "perennia runs list --help",
    ),
    "an unknown command": (["bogus"], "No such command 'bogus'", "perennia --help"),
    "a missing argument": (
        ["users", "create"],
        "Missing argument 'username'",
        "perennia users create --help",
    ),
    "a bad option value": (
        ["runs", "list", "--max", "many"],
        "Invalid value for '--max'",
        "perennia runs list --help",
    ),
}


@pytest.mark.parametrize("kind", list(CASES))
def test_a_usage_error_is_one_line_and_exit_status_2(kind: str, tmp_path) -> None:
    argv, problem, helper = CASES[kind]
    done = subprocess.run(
        [sys.executable, "-m", "perennia.cli.main", *argv],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "200", "PERENNIA_HOME": str(tmp_path / "h")},
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ") and problem in lines[0] and helper in lines[0]
    assert "Traceback" not in done.stderr and done.stdout == ""
