"""Regression tests for MLflow's server CVE classes (../shared/reference/security-checklist.md)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from perennia.server.access import OPEN_PATHS

SRC = Path(__file__).resolve().parents[2] / "src" / "perennia"


def test_no_code_path_deserializes_pickles_or_builds_shell_commands() -> None:
    # CVE-2024-37052.. (pickle RCE), CVE-2023-4033 / CVE-2025-14287 (command injection)
    forbidden = re.compile(
        r"\b(pickle\.loads?|cloudpickle|joblib\.load|dill\.|os\.system|shell\s*=\s*True|eval\(|exec\()"
    )
    gated = {
        # The python_function model flavor, which the package loader reaches only with
        # allow_pickle=True (tests/models) and which nothing in the server imports.
        Path("models/flavors/pyfunc.py"),
        # The pipelines' transport: pickles only pass from a pipeline's process to the child it
        # started, through a folder only that user can read (deleted after), or through Ray's
        # object store when the user chose executor="ray"; never bytes from a store, a server or
        # an artifact (its docstring states the boundary). Nothing in the server imports it.
        Path("automation/pipeline/transport.py"),
    }
    offenders = [
        f"{path.relative_to(SRC)}:{number}"
        for path in SRC.rglob("*.py")
        if path.relative_to(SRC) not in gated
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if forbidden.search(line) and not line.lstrip().startswith("#")
    ]
    assert offenders == []
    server_code = "\n".join(p.read_text() for p in (SRC / "server").rglob("*.py"))
    assert "perennia.models" not in server_code
    assert "pipeline.transport" not in server_code


@pytest.fixture
def secured_url(rest_server) -> str:
    return rest_server[0]


def test_every_route_requires_sign_in_when_auth_is_on(secured_url: str) -> None:
    # CVE-2026-0545 / CVE-2026-2652 / CVE-2025-15381: routes left outside the auth layer
    from perennia.server.app import ROUTERS

    routes = [route for router in ROUTERS for route in router.routes]
    paths = {
        (method, route.path)
        for route in routes
        for method in getattr(route, "methods", set()) - {"HEAD", "OPTIONS"}
    }
    assert len(paths) > 40
    fillers = {
        "{experiment_id}": "1",
        "{run_id}": "a" * 32,
        "{digest}": "b" * 64,
        "{path}": "1/" + "a" * 32 + "/artifacts/x",
    }
    with httpx.Client(base_url=secured_url) as http:
        for method, path in sorted(paths):
            if path in OPEN_PATHS or path.startswith(("/docs", "/redoc")):
                continue
            concrete = path
            for placeholder, value in fillers.items():
                concrete = concrete.replace(placeholder.replace("}", ":path}"), value)
                concrete = concrete.replace(placeholder, value)
            answer = http.request(method, concrete, json={})
            assert answer.status_code == 401, (method, path, answer.status_code)


def test_reflected_headers_are_never_echoed(live_server) -> None:
    # CVE-2023-6568: Content-Type echoed unescaped into an error page
    url, _ = live_server
    payload = "<script>alert(1)</script>"
    answer = httpx.post(
        f"{url}/api/v1/experiments", content=b"{}", headers={"content-type": payload}
    )
    assert answer.headers["content-type"].startswith("application/json")
    assert payload not in answer.text


def test_default_install_has_no_users_and_no_default_credentials(rest_server) -> None:
    # CVE-2026-2635: shipped default admin credentials
    url, backing, _token = rest_server
    assert [u.username for u in backing.users.list_users()] == ["suite-admin"]
    basic = httpx.BasicAuth("admin", "password1234")
    assert httpx.get(f"{url}/api/v1/experiments", auth=basic).status_code == 401
