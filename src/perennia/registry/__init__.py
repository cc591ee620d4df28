"""The model registry SDK: register packages as versions, move aliases, roll back, trace lineage.

Every call goes to the tracking store's registry (the embedded SQL store by default) and is
recorded in its event log with the acting user. Alias moves are compare-and-set: `set_alias`
reads where the alias points and moves it only if nobody moved it in between.
"""

from __future__ import annotations

import re
from typing import Any

from perennia.entities import ModelVersion, RegisteredModel, RegistryEvent
from perennia.errors import InvalidInput, NotFound
from perennia.registry.governance import (
    approve,
    cancel_request,
    edit_card,
    get_approval_policy,
    get_approval_request,
    get_card,
    list_approval_requests,
    reject,
    request_approval,
    set_approval_policy,
    set_model_role,
    write_card,
)
from perennia.registry.session import acting_user as _user
from perennia.registry.session import current_store as _store
from perennia.registry.session import sends_webhooks
from perennia.registry.success_criteria import (
    clear_success_criteria,
    compare_with_champion,
    get_success_criteria,
    set_success_criteria,
)

__all__ = [
    "approve",
    "archive_model_version",
    "cancel_request",
    "clear_success_criteria",
    "compare_with_champion",
    "create_registered_model",
    "delete_alias",
    "deprecate_model_version",
    "edit_card",
    "get_approval_policy",
    "get_approval_request",
    "get_card",
    "get_latest_version",
    "get_model_version",
    "get_model_version_by_alias",
    "get_registered_model",
    "get_success_criteria",
    "history",
    "lineage",
    "list_approval_requests",
    "register_model",
    "reject",
    "request_approval",
    "resolve",
    "rollback",
    "search_model_versions",
    "search_registered_models",
    "sends_webhooks",
    "set_alias",
    "set_approval_policy",
    "set_model_role",
    "set_success_criteria",
    "write_card",
]
_MODELS_URI = re.compile(
    r"^models:/(?P<name>[^/@]+)(?:/(?P<version>\d+|latest)|@(?P<alias>[^/]+))$"
)


@sends_webhooks
def create_registered_model(
    name: str, description: str = "", tags: dict[str, str] | None = None, owner: str | None = None
) -> RegisteredModel:
    """Return a new registered model (its owner defaults to the current user)."""
    user = _user()
    return _store().registry.create_registered_model(name, description, tags, owner, username=user)


def get_registered_model(name: str) -> RegisteredModel:
    """Return a registered model by name."""
    return _store().registry.get_registered_model(name)


def search_registered_models(
    name_like: str | None = None, max_results: int = 100
) -> list[RegisteredModel]:
    """Return registered models whose names match a LIKE pattern (all by default)."""
    return list(_store().registry.search_registered_models(name_like, max_results))


@sends_webhooks
def register_model(
    model_uri: str, name: str, *, description: str = "", tags: dict[str, str] | None = None
) -> ModelVersion:
    """Return a new version of `name` (created if new) for the package at `model_uri`."""
    from perennia.models.uri import _RUNS

    store = _store()
    user = _user()
    try:
        store.registry.get_registered_model(name)
    except NotFound:
        store.registry.create_registered_model(name, username=user)
    run_id, digest = None, None
    match = _RUNS.match(model_uri)
    if match:
        run_id = match["run"]
        digest = _package_digest(run_id, match["path"])
    elif not model_uri.startswith("models:/"):
        raise InvalidInput(f"register a runs:/<run_id>/<path> URI, got {model_uri!r:.120}")
    return store.versions.create_model_version(
        name,
        model_uri,
        run_id=run_id,
        digest=digest,
        description=description,
        tags=tags,
        username=user,
    )


def _package_digest(run_id: str, path: str) -> str | None:
    """Return the digest of the package a run logged at `path` (None if it is not ours)."""
    from perennia.artifacts.digests import sha256_bytes
    from perennia.models.package import MANIFEST
    from perennia.tracking.client import Client

    client = Client()
    client.get_run(run_id)  # NotFound for an unknown run, before anything is registered
    try:
        return sha256_bytes(client.read_artifact(run_id, f"{path.rstrip('/')}/{MANIFEST}"))
    except NotFound:
        return None


def get_model_version(name: str, version: int | str) -> ModelVersion:
    """Return one version of a registered model."""
    return _store().versions.get_model_version(name, version)


def get_latest_version(name: str) -> ModelVersion:
    """Return the highest-numbered version of a registered model."""
    return _store().versions.get_latest_version(name)


def search_model_versions(name: str | None = None, run_id: str | None = None) -> list[ModelVersion]:
    """Return versions, newest first, of one model and/or produced by one run."""
    versions = _store().versions
    out, token = [], None
    while True:
        page = versions.search_model_versions(name, run_id, 1000, token)
        out.extend(page.items)
        token = page.next_page_token
        if token is None:
            return out


@sends_webhooks
def set_alias(
    name: str, alias: str, version: int | str, *, expected_version: Any = None
) -> int | None:
    """Move `alias` to `version`; return where it pointed. Conflict if someone moved it first.

    Without `expected_version` the alias is read first and moved only if it still points
    there; pass the version you saw to make the check span your own decision too.
    """
    aliases = _store().aliases
    if expected_version is None:
        try:
            expected_version = aliases.get_version_by_alias(name, alias).version
        except NotFound:
            expected_version = None
    return aliases.set_alias(
        name, alias, version, expected_version=expected_version, username=_user()
    )


@sends_webhooks
def delete_alias(name: str, alias: str) -> None:
    """Remove an alias from a registered model."""
    _store().aliases.delete_alias(name, alias, username=_user())


def get_model_version_by_alias(name: str, alias: str) -> ModelVersion:
    """Return the version an alias points at."""
    return _store().aliases.get_version_by_alias(name, alias)


@sends_webhooks
def rollback(name: str, alias: str) -> ModelVersion:
    """Move `alias` back to the version it held before its last move; return that version.

    Rollbacks undo moves in order: two rollbacks after three moves land on the first version.
    """
    return _store().aliases.rollback_alias(name, alias, username=_user())


@sends_webhooks
def archive_model_version(name: str, version: int | str) -> ModelVersion:
    """Archive a version (refused while an alias points at it)."""
    versions = _store().versions
    return versions.update_model_version(name, version, state="archived", username=_user())


@sends_webhooks
def deprecate_model_version(name: str, version: int | str) -> ModelVersion:
    """Mark a version deprecated: still loadable, flagged for replacement."""
    versions = _store().versions
    return versions.update_model_version(name, version, state="deprecated", username=_user())


def history(name: str, limit: int = 100) -> list[RegistryEvent]:
    """Return the registry events of a model, newest first (who, when, what, before, after)."""
    return _store().registry.events(name, limit)


def resolve(model_uri: str) -> ModelVersion:
    """Return the version a `models:/name/version`, `models:/name/latest` or `models:/name@alias` names."""
    match = _MODELS_URI.match(model_uri)
    if not match:
        raise InvalidInput(
            f"{model_uri!r:.120} is not models:/<name>/<version>, models:/<name>/latest or "
            "models:/<name>@<alias>"
        )
    if match["alias"]:
        return get_model_version_by_alias(match["name"], match["alias"])
    if match["version"] == "latest":
        return get_latest_version(match["name"])
    return get_model_version(match["name"], int(match["version"]))


def lineage(name: str, version: int | str) -> dict[str, Any]:
    """Return the version's lineage: datasets (digests) -> run (commit) -> version -> aliases, approvals."""
    from perennia.registry.graph import lineage_graph
    from perennia.tracking.client import Client

    found = get_model_version(name, version)
    run = Client().get_run(found.run_id) if found.run_id else None
    store = _store()
    graph = lineage_graph(found, run, store.approvals.list_requests(name, limit=10_000))
    if run is not None:
        _add_data_versions(graph["datasets"], run, store)
    return graph


def _add_data_versions(entries: list[dict[str, Any]], run: Any, store: Any) -> None:
    """Extend each dataset entry read as a registered version with that version's own source
    and the versions it derives from, so lineage reaches back past the run to the data."""
    from perennia.data.lineage import ancestry
    from perennia.data.session import resolve
    from perennia.data.versions import SOURCE_TYPE

    for entry, item in zip(entries, run.inputs.dataset_inputs, strict=True):
        if item.dataset.source_type != SOURCE_TYPE:
            continue
        try:
            version = resolve(item.dataset.source, store)
        except NotFound:
            entry["version"] = {"ref": item.dataset.source, "missing": True}
            continue
        entry["version"] = {"ref": version.ref, "source": version.source}
        entry["ancestry"] = ancestry(version, store)
