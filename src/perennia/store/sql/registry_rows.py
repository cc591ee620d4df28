"""Reading the registry's rows into entities, inside the caller's transaction.

A page of models or versions is loaded with a constant number of set-based queries (its rows,
then the tags and aliases of the whole page with `IN (...)`), never a few queries per row.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, func, select, tuple_

from perennia.entities import ModelVersion, RegisteredModel
from perennia.errors import NotFound
from perennia.store.sql import schema as s


def read_model(conn: Connection, name: str) -> RegisteredModel:
    """Return the registered model with its tags, aliases and latest version, or NotFound."""
    rm = s.registered_models
    found = models_of(conn, conn.execute(select(rm).where(rm.c.name == name)).all())
    if not found:
        raise NotFound(f"registered model {name!r} does not exist")
    return found[0]


def models_of(conn: Connection, rows: Sequence[Any]) -> list[RegisteredModel]:
    """Return `registered_models` rows as entities, in their order: three queries in all."""
    if not rows:
        return []
    names = [row.name for row in rows]
    t, a, mv = s.registered_model_tags, s.model_aliases, s.model_versions
    tags: dict[str, dict[str, str]] = defaultdict(dict)
    for name, key, value in conn.execute(
        select(t.c.name, t.c.key, t.c.value).where(t.c.name.in_(names))
    ):
        tags[name][key] = value
    aliases: dict[str, dict[str, int]] = defaultdict(dict)
    for name, alias, version in conn.execute(
        select(a.c.name, a.c.alias, a.c.version).where(a.c.name.in_(names))
    ):
        aliases[name][alias] = version
    latest = dict(
        conn.execute(
            select(mv.c.name, func.max(mv.c.version))
            .where(mv.c.name.in_(names))
            .group_by(mv.c.name)
        ).all()
    )
    return [
        RegisteredModel(
            row.name,
            row.description,
            row.owner,
            row.creation_time,
            row.last_updated_time,
            tags[row.name],
            aliases[row.name],
            latest.get(row.name),
        )
        for row in rows
    ]


def read_version(conn: Connection, name: str, version: int) -> ModelVersion:
    """Return one version with its tags and aliases, or NotFound (naming the model or version)."""
    mv = s.model_versions
    rows = conn.execute(select(mv).where(mv.c.name == name, mv.c.version == version)).all()
    if not rows:
        read_model(conn, name)
        raise NotFound(f"registered model {name!r} has no version {version}")
    return versions_of(conn, rows)[0]


def versions_of(conn: Connection, rows: Sequence[Any]) -> list[ModelVersion]:
    """Return `model_versions` rows as entities, in their order: two queries in all."""
    if not rows:
        return []
    keys = [(row.name, row.version) for row in rows]
    t, a = s.model_version_tags, s.model_aliases
    tags: dict[tuple[str, int], dict[str, str]] = defaultdict(dict)
    for name, version, key, value in conn.execute(
        select(t.c.name, t.c.version, t.c.key, t.c.value).where(
            tuple_(t.c.name, t.c.version).in_(keys)
        )
    ):
        tags[name, version][key] = value
    aliases: dict[tuple[str, int], list[str]] = defaultdict(list)
    for name, version, alias in conn.execute(
        select(a.c.name, a.c.version, a.c.alias).where(tuple_(a.c.name, a.c.version).in_(keys))
    ):
        aliases[name, version].append(alias)
    return [
        ModelVersion(
            row.name,
            row.version,
            row.creation_time,
            row.last_updated_time,
            row.description,
            row.user_id,
            row.source,
            row.run_id,
            row.digest,
            row.status,
            row.status_message,
            row.state,
            tags[row.name, row.version],
            sorted(aliases[row.name, row.version]),
        )
        for row in rows
    ]


def model_state(model: RegisteredModel) -> dict[str, Any]:
    """Return what a registry event records of a model, before or after a change."""
    return {
        "name": model.name,
        "description": model.description,
        "owner": model.owner,
        "tags": dict(model.tags),
        "aliases": dict(model.aliases),
    }


def version_state(version: ModelVersion) -> dict[str, Any]:
    """Return what a registry event records of a version, before or after a change."""
    return {
        "version": version.version,
        "description": version.description,
        "status": version.status,
        "state": version.state,
        "source": version.source,
        "run_id": version.run_id,
        "digest": version.digest,
        "aliases": list(version.aliases),
        "tags": dict(version.tags),
    }
