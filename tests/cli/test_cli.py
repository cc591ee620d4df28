"""The `perennia` command line: commands do their one job; errors are one line and exit non-zero."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import perennia
from perennia.cli.main import main


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def populated(tracking: str) -> dict[str, str]:
    perennia.set_experiment("cli-exp")
    ids = {}
    for name, acc in (("alpha", 0.91), ("beta", 0.75), ("gamma", 0.95)):
        with perennia.start_run(run_name=name) as run:
            perennia.log_param("model", "rf" if name != "beta" else "lr")
            perennia.log_metric("acc", acc)
            perennia.log_text(f"notes for {name}", "notes/readme.txt")
        ids[name] = run.run_id
    perennia.flush()
    return ids


def test_experiments_create_list_delete_restore(
    tracking: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(capsys, "experiments", "create", "fraud-model")
    assert code == 0 and "fraud-model" in out
    code, out, _ = run_cli(capsys, "experiments", "list")
    assert code == 0 and "fraud-model" in out and "Default" in out
    code, out, _ = run_cli(capsys, "experiments", "delete", "fraud-model")
    assert code == 0
    _, out, _ = run_cli(capsys, "experiments", "list")
    assert "fraud-model" not in out
    _, out, _ = run_cli(capsys, "experiments", "list", "--deleted")
    assert "fraud-model" in out
    assert run_cli(capsys, "experiments", "restore", "fraud-model")[0] == 0
    assert perennia.Client().get_experiment_by_name("fraud-model").lifecycle_stage == "active"


def test_duplicate_experiment_is_one_line_error(
    tracking: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(capsys, "experiments", "create", "dup")[0] == 0
    code, out, err = run_cli(capsys, "experiments", "create", "dup")
    assert code == 1
    assert err.strip().startswith("error:") and "already exists" in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in out + err


def test_runs_search_filters_and_orders(
    populated: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(
        capsys,
        "runs",
        "search",
        "-e",
        "cli-exp",
        "-f",
        "params.model = 'rf'",
        "-o",
        "metrics.acc DESC",
        "-m",
        "acc",
    )
    assert code == 0
    assert "gamma" in out and "alpha" in out and "beta" not in out
    assert out.index("gamma") < out.index("alpha")


def test_malformed_filter_points_at_token(
    populated: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(capsys, "runs", "search", "-f", "metrics.acc >> 0.5")
    assert code == 1
    assert "position 13" in err and "^" in err
    assert "Traceback" not in err


def test_runs_show_accepts_unique_prefix(
    populated: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    run_id = populated["gamma"]
    code, out, _ = run_cli(capsys, "runs", "show", run_id[:10])
    assert code == 0
    assert run_id in out and "0.95" in out and "notes/readme.txt" in out


def test_runs_show_unknown_run_fails_cleanly(
    tracking: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(capsys, "runs", "show", "f" * 32)
    assert code == 1 and "does not exist" in err


def test_runs_list_shows_newest_first(
    populated: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(capsys, "runs", "list", "-e", "cli-exp")
    assert code == 0
    assert out.index("gamma") < out.index("beta") < out.index("alpha")


def test_artifacts_list_and_get(
    populated: dict[str, str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run_id = populated["alpha"]
    code, out, _ = run_cli(capsys, "artifacts", "list", run_id)
    assert code == 0 and "notes/" in out
    code, _, _ = run_cli(
        capsys, "artifacts", "get", run_id, "notes/readme.txt", "--dest", str(tmp_path / "out")
    )
    assert code == 0
    assert (tmp_path / "out" / "notes" / "readme.txt").read_text() == "notes for alpha"


def test_artifacts_get_rejects_traversal(
    populated: dict[str, str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run_cli(
        capsys, "artifacts", "get", populated["alpha"], "../../etc/passwd", "--dest", str(tmp_path)
    )
    assert code == 1 and "artifact path" in err


def test_gc_purges_deleted_runs_and_orphan_blobs(
    populated: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    client = perennia.Client()
    client.delete_run(populated["beta"])
    # By default only trash older than 30 days goes, and gc says what it will do first.
    code, out, _ = run_cli(capsys, "gc", "--yes")
    said = " ".join(out.split())  # the console wraps long lines at its width
    assert code == 0 and "purge 0 runs and 0 experiments trashed more than 30d ago" in said
    assert client.get_run(populated["beta"]).info.lifecycle_stage == "deleted"
    code, out, _ = run_cli(capsys, "gc", "--older-than", "0", "--blob-grace", "0", "--yes")
    said = " ".join(out.split())
    assert code == 0 and "purge 1 runs" in said and "purged 1 runs" in said
    with pytest.raises(perennia.errors.NotFound):
        client.get_run(populated["beta"])
    # The other runs' artifacts survive garbage collection.
    assert client.read_artifact(populated["alpha"], "notes/readme.txt") == b"notes for alpha"


def test_gc_asks_before_purging_and_a_no_keeps_everything(
    populated: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    import io

    client = perennia.Client()
    client.delete_run(populated["beta"])
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    code, out, _ = run_cli(capsys, "gc", "--older-than", "0")
    said = " ".join(out.split())
    assert code == 130 and "purge 1 runs" in said and "Go ahead?" in said
    assert client.get_run(populated["beta"]).info.lifecycle_stage == "deleted"


def test_gc_rejects_bad_duration(tracking: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "gc", "--older-than", "soon")
    assert code == 1 and "--older-than" in err


def test_db_upgrade_reports_revision(tracking: str, capsys: pytest.CaptureFixture[str]) -> None:
    from perennia.store.sql.migrations import HEAD_REVISION

    code, out, _ = run_cli(capsys, "db", "upgrade")
    assert code == 0 and HEAD_REVISION in out


def test_console_script_runs_as_a_process(tmp_path: Path) -> None:
    env = {**os.environ, "PERENNIA_HOME": str(tmp_path / "home")}
    env.pop("PERENNIA_TRACKING_URI", None)
    script = Path(sys.executable).with_name("perennia")
    result = subprocess.run(
        [str(script), "experiments", "create", "from-shell"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "home" / "perennia.db").is_file()
    bad = subprocess.run(
        [str(script), "runs", "show", "zz"], env=env, capture_output=True, text=True, timeout=120
    )
    assert bad.returncode == 1
    assert bad.stderr.strip().startswith("error:") and "Traceback" not in bad.stderr
