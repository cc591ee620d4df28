"""`build_docker_context`: a Dockerfile that parses, pinned requirements, a verified package."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from perennia._version import __version__
from perennia.errors import IntegrityError, InvalidInput
from perennia.models.package import package_digest, verify
from perennia.serving.containers import build_docker_context
from tests.models.batch_helpers import fit_pipeline, make_rows, save_package

INSTRUCTIONS = {
    "FROM", "ENV", "COPY", "RUN", "USER", "WORKDIR", "EXPOSE", "HEALTHCHECK", "CMD", "LABEL",
}  # fmt: skip
PIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[a-z0-9,_-]+\])?==[^=\s]+$")

# One worker runs the module (--dist loadgroup): the context (a wheel build) is built once.
pytestmark = pytest.mark.xdist_group("docker-context")


def parse_dockerfile(text: str) -> list[tuple[str, str]]:
    """Return (INSTRUCTION, arguments) pairs, with continuation lines joined as Docker does."""
    steps, pending = [], ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        instruction, _, arguments = (pending + line).strip().partition(" ")
        steps.append((instruction, arguments.strip()))
        pending = ""
    assert not pending, "a continuation line ends the file"
    return steps


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("docker")
    save_package(root / "pkg")
    return root / "pkg", build_docker_context(root / "pkg", root / "ctx")


def test_dockerfile_parses_and_runs_the_server_as_a_user_with_a_healthcheck(built) -> None:
    _, context = built
    steps = parse_dockerfile((context / "Dockerfile").read_text())

    names = [name for name, _ in steps]
    assert names[0] == "FROM" and set(names) <= INSTRUCTIONS
    assert steps[0][1] == f"python:{sys.version_info.major}.{sys.version_info.minor}-slim"
    command = json.loads(dict(steps)["CMD"])
    assert command == [
        "perennia", "serve", "/model", "--host", "0.0.0.0", "--insecure", "--port", "8080",
        "--workers", "2",
    ]  # fmt: skip
    users = [args for name, args in steps if name == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert names.index("USER") < names.index("CMD")
    health = dict(steps)["HEALTHCHECK"]
    assert "--interval=" in health
    probe = json.loads(health.split(" CMD ", 1)[1])
    assert probe[:2] == ["python", "-c"] and "http://127.0.0.1:8080/ping" in probe[2]
    assert dict(steps)["EXPOSE"] == "8080"
    for source in [args.split()[0] for name, args in steps if name == "COPY"]:
        assert (context / source).exists(), f"COPY {source} is not in the context"


def test_the_copied_package_verifies_against_the_digest_the_image_records(built) -> None:
    package, context = built
    steps = parse_dockerfile((context / "Dockerfile").read_text())
    envs = [args for name, args in steps if name == "ENV" and "PERENNIA_MODEL_DIGEST" in args]
    recorded = envs[0].split("=", 1)[1]

    assert recorded == package_digest(package)
    verify(context / "model", recorded)
    assert f'org.perennia.model.digest="{recorded}"' in dict(steps)["LABEL"]


def test_requirements_are_pinned_and_cover_the_model_and_the_server(built) -> None:
    package, context = built
    lines = [
        line
        for line in (context / "requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]

    assert lines and all(PIN.match(line) for line in lines), lines
    assert set(verify(package).requirements) <= set(lines)  # the versions the model was saved with
    for name in ("fastapi", "uvicorn", "prometheus_client", "pyarrow", "sqlalchemy", "starlette"):
        pinned = [line for line in lines if line.lower().startswith(name.lower() + "==")]
        assert pinned == [f"{pinned[0].split('==')[0]}=={version(name)}"], name
    assert not any(line.lower().startswith("perennia") for line in lines)
    # pip reads the file and finds the pins consistent (all installed here, so no index needed).
    check = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--no-index", "-q", "-r",
         str(context / "requirements.txt")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert check.returncode == 0, check.stderr


def test_perennia_is_installed_from_a_wheel_of_the_running_version(built) -> None:
    _, context = built
    wheels = list((context / "wheels").glob("*.whl"))

    assert [w.name for w in wheels] == [f"perennia-{__version__}-py3-none-any.whl"]
    with zipfile.ZipFile(wheels[0]) as archive:
        names = archive.namelist()
        assert "perennia/serving/containers.py" in names
        assert not any("__pycache__" in name for name in names)
    run = [
        args
        for name, args in parse_dockerfile((context / "Dockerfile").read_text())
        if name == "RUN"
    ]
    assert any(f"pip install --no-deps /build/wheels/{wheels[0].name}" in args for args in run)


def test_a_tampered_package_is_refused_and_leaves_no_context(tmp_path: Path, built) -> None:
    package, _ = built
    shutil.copytree(package, tmp_path / "pkg")
    (tmp_path / "pkg" / "model.skops").write_bytes(b"changed")

    with pytest.raises(IntegrityError, match="altered after it was saved"):
        build_docker_context(tmp_path / "pkg", tmp_path / "ctx", perennia_wheel=None)

    assert not (tmp_path / "ctx").exists()


def test_options_reach_the_image_and_a_used_folder_is_refused(tmp_path: Path, built) -> None:
    package, _ = built
    context = build_docker_context(
        package,
        tmp_path / "ctx",
        base_image="python:3.12-slim-bookworm",
        port=9000,
        workers=4,
        trusted_types=["mylib.Thing"],
        perennia_wheel=None,
    )
    steps = dict(parse_dockerfile((context / "Dockerfile").read_text()))

    assert steps["FROM"] == "python:3.12-slim-bookworm"
    assert json.loads(steps["CMD"])[-6:] == [
        "--port",
        "9000",
        "--workers",
        "4",
        "--trust",
        "mylib.Thing",
    ]

    assert "127.0.0.1:9000/ping" in steps["HEALTHCHECK"]
    assert f"perennia[serving]=={__version__}" in (context / "requirements.txt").read_text()
    assert not (context / "wheels").exists()
    with pytest.raises(InvalidInput, match="exists and is not an empty folder"):
        build_docker_context(package, context, perennia_wheel=None)
    with pytest.raises(InvalidInput, match="port must be an integer from 1 to 65535"):
        build_docker_context(package, tmp_path / "other", port=0, perennia_wheel=None)


def test_a_registered_version_is_copied_with_its_registered_digest(
    tracking: str, tmp_path: Path
) -> None:
    import perennia

    with perennia.start_run():
        info = perennia.log_model(
            fit_pipeline(make_rows(200)), name="model", registered_model_name="fraud"
        )

    context = build_docker_context("models:/fraud/1", tmp_path / "ctx", perennia_wheel=None)

    assert package_digest(context / "model") == info.digest
    assert "models:/fraud/1" in (context / "Dockerfile").read_text()


def test_build_docker_command_writes_the_context(tmp_path: Path, built) -> None:
    from perennia.cli.packaging import build_docker

    package, _ = built
    app = typer.Typer()
    app.command("build-docker")(build_docker)
    app.callback()(lambda: None)

    result = CliRunner().invoke(
        app, ["build-docker", str(package), "--out", str(tmp_path / "ctx"), "--port", "9001"]
    )

    assert result.exit_code == 0, result.output
    assert "Build context written to" in result.output
    assert "--port" in (tmp_path / "ctx" / "Dockerfile").read_text()
    assert '"9001"' in (tmp_path / "ctx" / "Dockerfile").read_text()
    verify(tmp_path / "ctx" / "model", package_digest(package))
