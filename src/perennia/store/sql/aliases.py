"""Aliases in SQL: named pointers to versions, moved by compare-and-set.

Of two writers racing from the same state exactly one wins and the other gets a Conflict
(PostgreSQL's READ COMMITTED re-checks the `WHERE` of the losing UPDATE after its lock wait).
An alias guarded by an approval policy moves only through an approved request (`move_alias`,
called by the approval store in the review's transaction) or a rollback.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, insert, select, update

from perennia.clock import now_ms
from perennia.entities import ModelVersion
from perennia.entities.approval_rules import (
    check_alias_removal,
    check_alias_target,
    check_direct_move,
)
from perennia.errors import Conflict, InvalidInput, NotFound
from perennia.store.registry_checks import ANY, check_alias, check_model_name, check_version
from perennia.store.sql import schema as s
from perennia.store.sql.engine import read_transaction, write_transaction
from perennia.store.sql.registry_events import alias_history, model_events, record_event
from perennia.store.sql.registry_rows import read_model, read_version


def guarded_aliases(conn: Connection, name: str) -> set[str]:
    """Return the model's aliases that only move through approved requests."""
    p = s.approval_policies
    return set(conn.execute(select(p.c.alias).where(p.c.name == name)).scalars())


def move_alias(
    conn: Connection,
    name: str,
    alias: str,
    version: int,
    expected_version: Any,
    username: str | None,
    action: str,
) -> int | None:
    """Move the alias inside the caller's transaction; return where it pointed before."""
    a = s.model_aliases
    where = and_(a.c.name == name, a.c.alias == alias)
    check_alias_target(read_version(conn, name, version))
    current = conn.execute(select(a.c.version).where(where)).scalar()
    if expected_version is not ANY and current != expected_version:
        raise Conflict(
            f"alias {alias!r} of {name!r} points at version {current} now, not "
            f"{expected_version} as expected; another change won the race, re-read and retry"
        )
    now = now_ms()
    if current is None:
        conn.execute(insert(a).values(name=name, alias=alias, version=version, updated_time=now))
    else:
        moved = conn.execute(
            update(a).where(where, a.c.version == current).values(version=version, updated_time=now)
        ).rowcount
        if moved != 1:
            # A concurrent writer moved it between our read and our write (PostgreSQL's
            # READ COMMITTED re-checks the WHERE clause after waiting for its lock).
            raise Conflict(
                f"alias {alias!r} of {name!r} was moved by another change while this one "
                "waited; another change won the race, re-read and retry"
            )
    record_event(
        conn,
        username,
        action,
        name,
        version,
        None if current is None else {"alias": alias, "version": current},
        {"alias": alias, "version": version},
    )
    return current


class SqlAliasStore:
    """The `AliasStore` protocol over SQLAlchemy Core."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def set_alias(
        self,
        name: str,
        alias: str,
        version: int | str,
        *,
        expected_version: Any = ANY,
        username: str | None = None,
    ) -> int | None:
        """Point `alias` at `version`; return the version it pointed at before (or None).

        With `expected_version` (an int, or None for "the alias must not exist yet") the move
        is compare-and-set: if another writer moved the alias first, Conflict is raised and
        nothing changes. An alias guarded by an approval policy is refused: it moves through
        approved requests or `rollback_alias`.
        """
        check_alias(alias)
        version = check_version(version)
        with write_transaction(self.engine) as conn:
            model = read_model(conn, check_model_name(name))
            check_direct_move(name, alias, version, guarded_aliases(conn, name))
            return move_alias(
                conn, model.name, alias, version, expected_version, username, "set_alias"
            )

    def rollback_alias(self, name: str, alias: str, username: str | None = None) -> ModelVersion:
        """Move `alias` back one step of its history; return the version it points at now.

        The one move an approval policy lets through, so it is worked out here from the
        model's own events and made compare-and-set on the version those events say it holds.
        """
        check_alias(alias)
        with write_transaction(self.engine) as conn:
            model = read_model(conn, check_model_name(name))
            held = alias_history(model_events(conn, model.name), alias)
            if len(held) < 2:
                raise InvalidInput(
                    f"alias {alias!r} of {name!r} has no earlier version to roll back to"
                )
            move_alias(conn, model.name, alias, held[-2], held[-1], username, "rollback_alias")
            return read_version(conn, model.name, held[-2])

    def delete_alias(self, name: str, alias: str, username: str | None = None) -> None:
        """Remove an alias; NotFound when the model has no such alias."""
        a = s.model_aliases
        where = and_(a.c.name == name, a.c.alias == alias)
        with write_transaction(self.engine) as conn:
            current = conn.execute(select(a.c.version).where(where)).scalar()
            if current is None:
                read_model(conn, check_model_name(name))
                raise NotFound(f"registered model {name!r} has no alias {alias!r}")
            check_alias_removal(name, alias, guarded_aliases(conn, name))
            conn.execute(delete(a).where(where))
            record_event(
                conn,
                username,
                "delete_alias",
                name,
                current,
                {"alias": alias, "version": current},
                None,
            )

    def get_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        """Return the version an alias points at; NotFound when there is no such alias."""
        a = s.model_aliases
        with read_transaction(self.engine) as conn:
            version = conn.execute(
                select(a.c.version).where(a.c.name == check_model_name(name), a.c.alias == alias)
            ).scalar()
            if version is None:
                read_model(conn, name)
                raise NotFound(f"registered model {name!r} has no alias {alias!r}")
            return read_version(conn, name, version)
