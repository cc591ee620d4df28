"""`perennia schedule` and `perennia scheduler`: create (the target resolved, params parsed),
list, show, run-now, delete, and a foreground scheduler that fires due schedules until Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from perennia.automation import schedules
from perennia.cli.common import parse_params
from perennia.errors import InvalidInput
from tests.cli.test_cli import run_cli

TARGETS = "tests.automation.schedule_targets"


def test_the_schedule_commands(tracking, tmp_path, capsys) -> None:
    out = tmp_path / "firings"
    code, text, _ = run_cli(
        capsys,
        "schedule",
        "create",
        "nightly",
        f"{TARGETS}:record_firing",
        "--cron",
        "0 3 * * *",
        "--param",
        f"path={out}",
    )
    assert code == 0 and "nightly created" in text and "03:00:00" in text
    assert schedules.get_schedule("nightly").params == {"path": str(out)}
    code, text, _ = run_cli(capsys, "schedule", "list")
    assert code == 0 and "nightly" in text and "0 3 * * *" in text and "never" in text
    code, text, _ = run_cli(capsys, "schedule", "run-now", "nightly")
    assert code == 0 and "FINISHED" in text and len(out.read_text().splitlines()) == 1
    code, text, _ = run_cli(capsys, "schedule", "show", "nightly")
    folded = "".join(text.split())  # long values wrap across lines
    assert code == 0 and "record_firing" in folded and str(out) in folded
    code, text, _ = run_cli(capsys, "schedule", "create", "bad", f"{TARGETS}:fail", "--cron", "x")
    assert code != 0 and "cron" in text + _
    run_cli(capsys, "schedule", "create", "broken", f"{TARGETS}:fail", "--cron", "0 3 * * *")
    code, text, _ = run_cli(capsys, "schedule", "run-now", "broken")
    assert code == 1 and "FAILED" in text and "boom" in text
    code, text, _ = run_cli(capsys, "schedule", "delete", "nightly")
    assert code == 0 and [s.name for s in schedules.list_schedules()] == ["broken"]


def test_params_are_read_as_json_when_they_are_json() -> None:
    assert parse_params(["n=3", "on=true", "name=lyon", "list=[1, 2]", "path=/tmp/a=b"]) == {
        "n": 3,
        "on": True,
        "name": "lyon",
        "list": [1, 2],
        "path": "/tmp/a=b",
    }
    with pytest.raises(InvalidInput, match="key=value"):
        parse_params(["novalue"])


@pytest.mark.slow
def test_perennia_scheduler_fires_due_schedules_until_interrupted(sqlite_uri, tmp_path) -> None:
    from perennia.automation.schedules import next_fire_ms
    from perennia.clock import now_ms
    from perennia.entities import Schedule
    from perennia.store import open_store

    out = tmp_path / "firings"
    store = open_store(sqlite_uri)
    cron = "* * * * * *"
    draft = Schedule(
        "every-second",
        f"{TARGETS}:record_firing",
        cron,
        {"path": str(out)},
        next_run_ms=next_fire_ms(cron, now_ms()),
    )
    store.schedules.create_schedule(draft)
    env = {**os.environ, "PERENNIA_HOME": str(tmp_path / "home")}
    command = [sys.executable, "-m", "perennia.cli.main", "--tracking-uri", sqlite_uri]
    process = subprocess.Popen(
        [*command, "scheduler", "--interval", "0.1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while (not out.exists() or len(out.read_text().splitlines()) < 2) and (
            time.monotonic() < deadline and process.poll() is None
        ):
            time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=20)
    fired = store.schedules.get_schedule("every-second")
    store.close()
    assert "firing due schedules" in output and "stopping" in output, output
    assert len(out.read_text().splitlines()) >= 2
    assert fired.last_status == "FINISHED" and fired.lease_owner is None
    assert Path(out).read_text().split()[1] == str(process.pid)
