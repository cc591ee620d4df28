"""Reading the registry's rows into entities, inside the caller's transaction."""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from perennia.entities import ModelVersion, RegisteredModel
from perennia.errors import NotFound
from perennia.store.sql import schema as s


def read_model(conn: Connection, name: str) -> RegisteredModel:
    """Return the registered model with its tags, aliases and latest version, or NotFound."""
    rm, t, a, mv = (
        s.registered_models,
        s.registered_model_tags,
        s.model_aliases,
        s.model_versions,
    )
    row = conn.execute(select(rm).where(rm.c.name == name)).first()
    if row is None:
        raise NotFound(f"registered model {name!r} does not exist")
    tags = dict(conn.execute(select(t.c.key, t.c.value).where(t.c.name == name)).all())
    aliases = dict(conn.execute(select(a.c.alias, a.c.version).where(a.c.name == name)).all())
    latest = conn.execute(select(func.max(mv.c.version)).where(mv.c.name == name)).scalar()
    return RegisteredModel(row.name, row.description, row.owner, row.creation_time,
                           row.last_updated_time, tags, aliases, latest)  # fmt: skip


def read_version(conn: Connection, name: str, version: int) -> ModelVersion:
    """Return one version with its tags and aliases, or NotFound (naming the model or version)."""
    mv, t, a = s.model_versions, s.model_version_tags, s.model_aliases
    row = conn.execute(select(mv).where(mv.c.name == name, mv.c.version == version)).first()
    if row is None:
        read_model(conn, name)
        raise NotFound(f"registered model {name!r} has no version {version}")
    tags = dict(
        conn.execute(
            select(t.c.key, t.c.value).where(t.c.name == name, t.c.version == version)
        ).all()
    )
    aliases = sorted(
        conn.execute(select(a.c.alias).where(a.c.name == name, a.c.version == version)).scalars()
    )
    return ModelVersion(row.name, row.version, row.creation_time, row.last_updated_time,
                        row.description, row.user_id, row.source, row.run_id, row.digest,
                        row.status, row.status_message, row.state, tags, aliases)  # fmt: skip
