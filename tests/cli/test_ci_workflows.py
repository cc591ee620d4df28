"""The CI examples in docs/ci run as written: the test reads each YAML file, takes the shell
commands that call `perennia`, and runs exactly those in a subprocess against a prepared store
(a champion, success criteria, a good and a worse candidate), with the variables the workflow
sets."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.cli.test_ci_check import prepare
from tests.conftest import reset_tracking

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "ci"
_EXPRESSION = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")


@pytest.fixture
def store(sqlite_uri, tmp_path, monkeypatch):
    """A store with the model `fraud` ready for a check, and the job's working folder."""
    env = {
        "PERENNIA_HOME": str(tmp_path / "home"),
        "PERENNIA_TRACKING_URI": sqlite_uri,
        "PERENNIA_ARTIFACTS_URI": str(tmp_path / "artifacts"),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    reset_tracking()
    work = tmp_path / "repo"
    prepared = prepare(work / "data")
    # The workflows' training step registers its candidate, so the check writes its card.
    from perennia import registry

    for kind in ("good", "bad"):
        version = registry.register_model(prepared.uris[kind], "fraud").version
        prepared.uris[kind] = f"models:/fraud/{version}"
    reset_tracking()
    return prepared, work, env


def _substitute(value: str, secrets: dict[str, str]) -> str:
    def replace(match: re.Match) -> str:
        expression = match.group(1)
        assert expression in secrets, f"the test does not know {expression!r}; add it"
        return secrets[expression]

    return _EXPRESSION.sub(replace, str(value))


def _run(script: str, work: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    full = {**os.environ, **env, "PATH": path}
    return subprocess.run(
        ["bash", "-e", "-c", script], cwd=work, env=full, capture_output=True, text=True
    )


def _github() -> tuple[dict[str, str], list[str], dict]:
    workflow = yaml.safe_load((DOCS / "github-actions.yml").read_text())
    secrets = {
        "secrets.PERENNIA_TRACKING_URI": "",  # filled per test from the runner's store
        "secrets.PERENNIA_TRACKING_TOKEN": "",
    }
    env = {k: _substitute(v, secrets) for k, v in workflow["env"].items()}
    (job,) = workflow["jobs"].values()
    scripts = [s["run"] for s in job["steps"] if "perennia " in s.get("run", "")]
    return env, scripts, job


def _gitlab() -> tuple[dict[str, str], list[str], dict]:
    config = yaml.safe_load((DOCS / "gitlab-ci.yml").read_text())
    job = config["model-check"]
    env = {k: str(v) for k, v in job["variables"].items()}
    scripts = [line for line in job["script"] if line.startswith("perennia ")]
    return env, scripts, job


@pytest.mark.slow
@pytest.mark.parametrize("read", [_github, _gitlab], ids=["github", "gitlab"])
def test_the_workflows_check_pass_and_fail_as_the_gates_say(store, read) -> None:
    prepared, work, runner = store
    env, scripts, job = read()
    assert len(scripts) == 1 and "perennia ci check" in scripts[0]
    env = {**runner, **{k: v for k, v in env.items() if v}}
    env["PERENNIA_TRACKING_URI"] = runner["PERENNIA_TRACKING_URI"]
    summary = work / re.search(r"--summary (\S+)", scripts[0]).group(1)
    for candidate, code, head in (
        ("good", 0, "## ✅ perennia ci check passed: fraud"),
        ("bad", 1, "## ❌ perennia ci check failed: fraud — 2 of 2 gates failed"),
    ):
        (work / "candidate_uri.txt").write_text(prepared.uris[candidate] + "\n")
        summary.unlink(missing_ok=True)
        done = _run(scripts[0], work, env)
        assert done.returncode == code, done.stdout + done.stderr
        text = summary.read_text()
        assert text.startswith(head)
        if code:
            assert "roc_auc >= baseline - 0.01" in text.splitlines()[0]
            assert "FAILED: roc_auc" in text
        assert (work / "ci" / "model-card.md").is_file() and (work / "ci" / "result.json").is_file()
    # What the job publishes is the folder the check wrote into.
    published = yaml.safe_dump(job)
    assert "ci/summary.md" in published or "ci/" in job.get("artifacts", {}).get("paths", [])


def test_the_github_workflow_posts_the_summary_the_check_writes() -> None:
    _env, scripts, job = _github()
    summary = re.search(r"--summary (\S+)", scripts[0]).group(1)
    (post,) = [s for s in job["steps"] if "gh pr comment" in s.get("run", "")]
    assert f"--body-file {summary}" in post["run"]
    assert f'cat {summary} >> "$GITHUB_STEP_SUMMARY"' in post["run"]
    assert post["if"].startswith("always()")  # a failed check still comments
