"""The `DeploymentStore` protocol over the native REST API (`/api/v1/deployments`).

The deployment is checked here before it is sent (the same checks the SQL store runs), so a bad
one costs no round trip and a name can never become a different URL path; the server checks
everything again, and decides who acts.
"""

from __future__ import annotations

from typing import Any

from perennia.entities import RegistryEvent, from_dict
from perennia.entities.deployment import Deployment
from perennia.store.deployment_checks import (
    check_action,
    check_deployment,
    check_deployment_name,
    check_detail,
)
from perennia.store.registry_checks import check_model_name
from perennia.store.rest.http import HttpSession
from perennia.store.rest.registry import segment

DEPLOYMENTS = "/api/v1/deployments"


def deployment_path(name: str, tail: str = "") -> str:
    """Return the path of one deployment (plus `tail`), or raise InvalidInput for the name."""
    return f"{DEPLOYMENTS}/{segment(check_deployment_name(name))}{tail}"


class RestDeploymentStore:
    """Deployments through the server (reads need viewer, changes editor on the model)."""

    def __init__(self, http: HttpSession) -> None:
        self.http = http

    def create(self, deployment: Deployment, username: str | None = None) -> Deployment:
        """Store a new deployment at revision 1 and return it as stored."""
        body = {"deployment": check_deployment(deployment).to_dict(), "username": username}
        return Deployment.from_dict(self.http.request("POST", DEPLOYMENTS, json=body))

    def get(self, name: str) -> Deployment:
        """Return the deployment called `name`, or raise NotFound."""
        return Deployment.from_dict(self.http.request("GET", deployment_path(name)))

    def list(self, model_name: str | None = None) -> list[Deployment]:
        """Return every deployment the caller may read (of one model, when given), by name."""
        params = {} if model_name is None else {"model_name": check_model_name(model_name)}
        found = self.http.request("GET", DEPLOYMENTS, params=params)["deployments"]
        return [Deployment.from_dict(d) for d in found]

    def update(
        self,
        deployment: Deployment,
        *,
        expected_revision: int,
        action: str,
        detail: dict[str, Any] | None = None,
        username: str | None = None,
    ) -> Deployment:
        """Replace the stored deployment if it is still at `expected_revision`; return it."""
        clean = check_deployment(deployment)
        body = {
            "deployment": clean.to_dict(),
            "expected_revision": expected_revision,
            "action": check_action(action),
            "detail": check_detail(detail),
            "username": username,
        }
        answer = self.http.request("PUT", deployment_path(clean.name), json=body)
        return Deployment.from_dict(answer)

    def delete(self, name: str, username: str | None = None) -> None:
        """Remove the deployment (the event log keeps its history)."""
        params = {} if username is None else {"username": username}
        self.http.request("DELETE", deployment_path(name), params=params)

    def events(self, name: str, limit: int = 100) -> list[RegistryEvent]:
        """Return the deployment's registry events, newest first."""
        data = self.http.request("GET", deployment_path(name, "/events"), params={"limit": limit})
        return from_dict(list[RegistryEvent], data)
