"""The registry's parts over the native REST API (`/api/v1/registered-models/...`): models,
versions and aliases.

Names, aliases and versions are checked here before they become part of a URL, so a value
can never turn into a different path; the server checks everything again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from perennia.entities import (
    ModelVersion,
    Page,
    Reader,
    RegisteredModel,
    RegistryEvent,
    from_dict,
)
from perennia.errors import InvalidInput
from perennia.store.registry_checks import (
    ANY,
    check_alias,
    check_model_name,
    check_version,
    check_version_order,
)
from perennia.store.rest.http import HttpSession

MODELS = "/api/v1/registered-models"
MAX_EVENTS = 100_000


def segment(value: str) -> str:
    """Return `value` as one URL path segment, every reserved character percent-encoded."""
    encoded = quote(value, safe="")
    # '.' and '..' are dot segments, which URL normalization would collapse.
    return encoded.replace(".", "%2E") if set(value) == {"."} else encoded


def model_path(name: str, tail: str = "") -> str:
    """Return the path of a registered model (plus `tail`), or raise InvalidInput for the name."""
    return f"{MODELS}/{segment(check_model_name(name))}{tail}"


def _version_path(name: str, version: int | str, tail: str = "") -> str:
    return model_path(name, f"/versions/{check_version(version)}{tail}")


def _alias_path(name: str, alias: str) -> str:
    if not isinstance(alias, str):
        raise InvalidInput(f"alias must be a string, got {type(alias).__name__}")
    return model_path(name, f"/aliases/{segment(alias)}")


def _params(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


class RestRegisteredModelStore:
    """The `RegisteredModelStore` protocol over HTTP."""

    def __init__(self, http: HttpSession) -> None:
        self.http = http

    def create_registered_model(
        self,
        name: str,
        description: str = "",
        tags: dict[str, str] | None = None,
        owner: str | None = None,
        username: str | None = None,
    ) -> RegisteredModel:
        """Return the new registered model; AlreadyExists when the name is taken."""
        model_path(name)
        body = {
            "name": name,
            "description": description or "",
            "tags": tags or {},
            "owner": owner,
            "username": username,
        }
        return from_dict(RegisteredModel, self.http.request("POST", MODELS, json=body))

    def get_registered_model(self, name: str) -> RegisteredModel:
        """Return the registered model, or raise NotFound."""
        return from_dict(RegisteredModel, self.http.request("GET", model_path(name)))

    def search_registered_models(
        self,
        name_like: str | None = None,
        max_results: int = 100,
        page_token: str | None = None,
        reader: Reader | None = None,
    ) -> Page[RegisteredModel]:
        """Return one page of registered models whose names match the LIKE pattern (the
        server lists what its signed-in user may read, so `reader` is not sent)."""
        params = _params(
            name_like=name_like or None, max_results=max_results, page_token=page_token
        )
        return from_dict(Page[RegisteredModel], self.http.request("GET", MODELS, params=params))

    def update_registered_model(
        self,
        name: str,
        description: str | None = None,
        owner: str | None = None,
        username: str | None = None,
    ) -> RegisteredModel:
        """Return the model after changing its description and/or owner."""
        body = {"description": description, "owner": owner, "username": username}
        return from_dict(RegisteredModel, self.http.request("PATCH", model_path(name), json=body))

    def rename_registered_model(
        self, name: str, new_name: str, username: str | None = None
    ) -> RegisteredModel:
        """Return the model under its new name (versions, aliases and roles follow)."""
        model_path(new_name)
        body = {"new_name": new_name, "username": username}
        data = self.http.request("POST", model_path(name, "/rename"), json=body)
        return from_dict(RegisteredModel, data)

    def delete_registered_model(self, name: str, username: str | None = None) -> None:
        """Delete the model with its versions, tags and aliases."""
        self.http.request("DELETE", model_path(name), params=_params(username=username))

    def set_registered_model_tag(
        self, name: str, key: str, value: str, username: str | None = None
    ) -> None:
        """Set one tag on a registered model."""
        body = {"key": key, "value": value, "username": username}
        self.http.request("POST", model_path(name, "/tags"), json=body)

    def delete_registered_model_tag(self, name: str, key: str, username: str | None = None) -> None:
        """Delete one tag of a registered model."""
        params = _params(key=key, username=username)
        self.http.request("DELETE", model_path(name, "/tags"), params=params)

    def events(self, name: str | None = None, limit: int = 100) -> list[RegistryEvent]:
        """Return registry events, newest first, optionally for one model."""
        # The SQL store clamps the limit rather than refusing it; so does this one.
        params = {"limit": max(1, min(int(limit), MAX_EVENTS))}
        path = "/api/v1/registry-events" if name is None else model_path(name, "/events")
        return from_dict(list[RegistryEvent], self.http.request("GET", path, params=params))


class RestModelVersionStore:
    """The `ModelVersionStore` protocol over HTTP."""

    def __init__(self, http: HttpSession) -> None:
        self.http = http

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
        body = {
            "source": source,
            "run_id": run_id,
            "digest": digest,
            "description": description or "",
            "tags": tags or {},
            "status": str(status),
            "username": username,
        }
        data = self.http.request("POST", model_path(name, "/versions"), json=body)
        return from_dict(ModelVersion, data)

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        """Return one version, or raise NotFound."""
        return from_dict(ModelVersion, self.http.request("GET", _version_path(name, version)))

    def get_latest_version(self, name: str) -> ModelVersion:
        """Return the newest version that is not archived."""
        data = self.http.request("GET", model_path(name, "/versions/latest"))
        return from_dict(ModelVersion, data)

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
        """Return one page of versions, by model, source run or name pattern, in the order
        asked (filtered by the server)."""
        path = "/api/v1/model-versions" if name is None else model_path(name, "/versions")
        order = [f"-{f}" if down else f for f, down in check_version_order(order_by)]
        params = _params(
            run_id=run_id,
            max_results=max_results,
            page_token=page_token,
            name_like=name_like,
            order_by=order or None,
        )
        return from_dict(Page[ModelVersion], self.http.request("GET", path, params=params))

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
        body = {
            "description": description,
            "status": None if status is None else str(status),
            "status_message": status_message,
            "state": state,
            "username": username,
        }
        data = self.http.request("PATCH", _version_path(name, version), json=body)
        return from_dict(ModelVersion, data)

    def delete_model_version(
        self, name: str, version: int | str, username: str | None = None
    ) -> None:
        """Delete one version (and the aliases pointing at it)."""
        params = _params(username=username)
        self.http.request("DELETE", _version_path(name, version), params=params)

    def set_model_version_tag(
        self, name: str, version: int | str, key: str, value: str, username: str | None = None
    ) -> None:
        """Set one tag on a version."""
        body = {"key": key, "value": value, "username": username}
        self.http.request("POST", _version_path(name, version, "/tags"), json=body)

    def delete_model_version_tag(
        self, name: str, version: int | str, key: str, username: str | None = None
    ) -> None:
        """Delete one tag of a version."""
        params = _params(key=key, username=username)
        self.http.request("DELETE", _version_path(name, version, "/tags"), params=params)


class RestAliasStore:
    """The `AliasStore` protocol over HTTP."""

    def __init__(self, http: HttpSession) -> None:
        self.http = http

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

        An absent `expected_version` travels as an absent field (no expectation); None travels
        as JSON null, which the server reads as "the alias must not exist yet".
        """
        check_alias(alias)
        body: dict[str, Any] = {"version": check_version(version), "username": username}
        if expected_version is not ANY and expected_version is not Ellipsis:
            body["expected_version"] = expected_version
        data = self.http.request("PUT", _alias_path(name, alias), json=body)
        return data["previous_version"]

    def rollback_alias(self, name: str, alias: str, username: str | None = None) -> ModelVersion:
        """Move the alias back one step of its history; return the version it points at now."""
        check_alias(alias)
        data = self.http.request(
            "POST", _alias_path(name, alias) + "/rollback", json={"username": username}
        )
        return from_dict(ModelVersion, data)

    def delete_alias(self, name: str, alias: str, username: str | None = None) -> None:
        """Remove the alias."""
        self.http.request("DELETE", _alias_path(name, alias), params=_params(username=username))

    def get_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        """Return the version the alias points at, or raise NotFound."""
        return from_dict(ModelVersion, self.http.request("GET", _alias_path(name, alias)))
