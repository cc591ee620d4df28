"""The deployments part: stored deployments, changed by compare-and-set, each change an event.

Every serving replica reads its deployment from here, so no replica holds state of its own;
a controller (any replica, or `perennia deploy`) changes it with `update`, and of two writers
racing on one revision exactly one wins.
"""

from __future__ import annotations

from typing import Any, Protocol

from perennia.entities import Deployment, RegistryEvent


class DeploymentStore(Protocol):
    """Deployments of registered models (`store.deployments`)."""

    def create(self, deployment: Deployment, username: str | None = None) -> Deployment:
        """Store a new deployment at revision 1 and return it as stored.

        Raises AlreadyExists when the name is taken, NotFound when the model or a variant's
        version does not exist, and InvalidInput when the variants do not add up (live weights
        must sum to 100, names must be unique).
        """
        ...

    def get(self, name: str) -> Deployment:
        """Return the deployment called `name`, or raise NotFound."""
        ...

    def list(self, model_name: str | None = None) -> list[Deployment]:
        """Return every deployment (of one model, when given), by name."""
        ...

    def update(
        self,
        deployment: Deployment,
        *,
        expected_revision: int,
        action: str,
        detail: dict[str, Any] | None = None,
        username: str | None = None,
    ) -> Deployment:
        """Replace the stored deployment if it is still at `expected_revision`; return it.

        Raises Conflict when another writer changed it first. The revision goes up by one and
        the change is recorded as the registry event `deploy_<action>` (with `detail`). When
        the stable variant's version changes, the deployment's alias follows it; if an approval
        policy guards that alias, the new version must be the one the alias already points at
        (moved there by an approved request), except for `action="rollback"`.
        """
        ...

    def delete(self, name: str, username: str | None = None) -> None:
        """Remove the deployment (the event log keeps its history)."""
        ...

    def events(self, name: str, limit: int = 100) -> list[RegistryEvent]:
        """Return the deployment's registry events, newest first."""
        ...
