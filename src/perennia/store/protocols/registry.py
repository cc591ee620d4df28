"""The model registry's parts: registered models (with the event log), versions, and aliases.

Every mutating method takes the acting `username` and records a registry event (with before
and after) in the same transaction as the change.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from perennia.entities import ModelVersion, Page, Reader, RegisteredModel, RegistryEvent
from perennia.store.registry_checks import ANY


class RegisteredModelStore(Protocol):
    """Registered models, their tags, and the registry's event log (`store.registry`)."""

    def create_registered_model(
        self,
        name: str,
        description: str = "",
        tags: dict[str, str] | None = None,
        owner: str | None = None,
        username: str | None = None,
    ) -> RegisteredModel:
        """Return the new registered model; AlreadyExists when the name is taken."""
        ...

    def get_registered_model(self, name: str) -> RegisteredModel:
        """Return the registered model, or raise NotFound."""
        ...

    def search_registered_models(
        self,
        name_like: str | None = None,
        max_results: int = 100,
        page_token: str | None = None,
        reader: Reader | None = None,
    ) -> Page[RegisteredModel]:
        """Return one page of registered models whose names match the LIKE pattern (with a
        `reader`, only those it may read)."""
        ...

    def update_registered_model(
        self,
        name: str,
        description: str | None = None,
        owner: str | None = None,
        username: str | None = None,
    ) -> RegisteredModel:
        """Return the model after changing its description and/or owner."""
        ...

    def rename_registered_model(
        self, name: str, new_name: str, username: str | None = None
    ) -> RegisteredModel:
        """Return the model under its new name (versions, aliases and roles follow)."""
        ...

    def delete_registered_model(self, name: str, username: str | None = None) -> None:
        """Delete the model with its versions, tags and aliases."""
        ...

    def set_registered_model_tag(
        self, name: str, key: str, value: str, username: str | None = None
    ) -> None:
        """Set one tag on a registered model."""
        ...

    def delete_registered_model_tag(self, name: str, key: str, username: str | None = None) -> None:
        """Delete one tag of a registered model."""
        ...

    def events(self, name: str | None = None, limit: int = 100) -> list[RegistryEvent]:
        """Return registry events, newest first, optionally for one model."""
        ...


class ModelVersionStore(Protocol):
    """The versions of registered models and their tags (`store.versions`)."""

    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        digest: str | None = None,
        description: str = "",
        tags: dict[str, str] | None = None,
        status: str = "READY",
        username: str | None = None,
    ) -> ModelVersion:
        """Return a new version numbered one past the model's last (atomic under concurrency)."""
        ...

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        """Return one version, or raise NotFound."""
        ...

    def get_latest_version(self, name: str) -> ModelVersion:
        """Return the highest-numbered version; NotFound when the model has none."""
        ...

    def search_model_versions(
        self,
        name: str | None = None,
        run_id: str | None = None,
        max_results: int = 100,
        page_token: str | None = None,
        reader: Reader | None = None,
        *,
        name_like: str | None = None,
        order_by: Sequence[tuple[str, bool]] | None = None,
    ) -> Page[ModelVersion]:
        """Return one page of versions, by model and/or source run, by a case-sensitive LIKE on
        the model name, ordered by (field, descending) pairs then name and version descending
        (with a `reader`, only of models it may read)."""
        ...

    def update_model_version(
        self,
        name: str,
        version: int | str,
        description: str | None = None,
        status: str | None = None,
        status_message: str | None = None,
        state: str | None = None,
        username: str | None = None,
    ) -> ModelVersion:
        """Return the version after changing the given fields."""
        ...

    def delete_model_version(
        self, name: str, version: int | str, username: str | None = None
    ) -> None:
        """Delete one version (and the aliases pointing at it)."""
        ...

    def set_model_version_tag(
        self, name: str, version: int | str, key: str, value: str, username: str | None = None
    ) -> None:
        """Set one tag on a version."""
        ...

    def delete_model_version_tag(
        self, name: str, version: int | str, key: str, username: str | None = None
    ) -> None:
        """Delete one tag of a version."""
        ...


class AliasStore(Protocol):
    """Named pointers to versions, moved by compare-and-set (`store.aliases`)."""

    def set_alias(
        self,
        name: str,
        alias: str,
        version: int | str,
        *,
        expected_version: Any = ANY,
        username: str | None = None,
    ) -> int | None:
        """Point the alias at `version` and return where it pointed before.

        With `expected_version` (None: must be unset) the move is compare-and-set and raises
        Conflict when someone moved it first. An alias guarded by an approval policy is
        refused: it moves only through an approved request, or by `rollback_alias`.
        """
        ...

    def rollback_alias(self, name: str, alias: str, username: str | None = None) -> ModelVersion:
        """Move the alias back one step of its history; return the version it points at now."""
        ...

    def delete_alias(self, name: str, alias: str, username: str | None = None) -> None:
        """Remove the alias."""
        ...

    def get_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        """Return the version the alias points at, or raise NotFound."""
        ...
