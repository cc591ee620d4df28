"""Sign-in covers every route of the inference app. The routes are walked from the app's own
table, so a route added without the bearer-token check fails here unless it is a probe named
on the allow-list below."""

from __future__ import annotations

import re

import httpx

from tests.serving.conftest import NAME

# Probes that load balancers, Kubernetes and Prometheus call without a token.
OPEN = {
    "/ping",
    "/health",
    "/version",
    "/v2",
    "/v2/health/live",
    "/v2/health/ready",
    "/v2/models/{name}/ready",
    "/v2/models/{name}/versions/{version}/ready",
    "/metrics",
}
PARAMETER = re.compile(r"{(\w+)(?::\w+)?}")
VALUES = {"name": NAME, "version": "1"}


def concrete(path: str) -> str:
    """Return the route's path with its parameters filled in (the served model's name)."""
    return PARAMETER.sub(lambda match: VALUES.get(match[1], "x"), path)


def calls(app) -> list[tuple[str, str]]:
    """Return (method, path template) of every HTTP route of the app, HEAD left out."""
    found = []
    for route in app.routes:
        methods = getattr(route, "methods", None)
        assert methods, f"{route!r} is not a plain HTTP route: teach this walk to call it"
        found += [(method, route.path) for method in sorted(methods - {"HEAD"})]
    return found


def test_every_route_but_the_probes_refuses_a_caller_without_a_live_token(secured):
    app, token = secured
    routes = calls(app.app)
    assert {path for _, path in routes} >= OPEN, "the allow-list names a route the app lacks"
    guarded = [(method, path) for method, path in routes if path not in OPEN]
    assert ("POST", "/invocations") in guarded and ("POST", "/feedback") in guarded
    with httpx.Client(base_url=app.url, timeout=30) as client:
        for method, path in routes:
            url = concrete(path)
            anonymous = client.request(method, url, json={})
            if path in OPEN:
                assert anonymous.status_code != 401, f"probe {method} {path} asks for a token"
                continue
            assert anonymous.status_code == 401, f"{method} {path} answers without a token"
            assert "Bearer" in anonymous.text, f"{method} {path}: {anonymous.text}"
            wrong = client.request(method, url, json={}, headers={"authorization": "Bearer no"})
            assert wrong.status_code == 401, f"{method} {path} takes a dead token"
            # With the token the refusal is gone: what was refused was the caller, not the call.
            signed = client.request(
                method, url, json={}, headers={"authorization": f"Bearer {token}"}
            )
            assert signed.status_code != 401, f"{method} {path} refuses a live token"
