"""Deployments in SQL: one row per deployment, replaced by compare-and-set on its revision.

Every change, the alias move it implies and its registry event share one transaction, so the
event log, the alias and the deployment never disagree. Of two writers racing from the same
revision exactly one wins: SQLite serialises writers (`BEGIN IMMEDIATE`), and PostgreSQL's
READ COMMITTED re-checks the losing UPDATE's `WHERE revision = ?` after its lock wait.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from perennia.clock import now_ms
from perennia.entities import RegistryEvent
from perennia.entities.deployment import Deployment
from perennia.errors import AlreadyExists, Conflict, InvalidInput, NotFound, PermissionDenied
from perennia.store.deployment_checks import (
    check_action,
    check_deployment,
    check_deployment_name,
    check_detail,
)
from perennia.store.registry_checks import check_model_name
from perennia.store.sql import schema as s
from perennia.store.sql.aliases import guarded_aliases, move_alias
from perennia.store.sql.engine import read_transaction, write_transaction
from perennia.store.sql.registry_events import alias_history, event_of, model_events, record_event
from perennia.store.sql.registry_rows import read_model, read_version
from perennia.store.validation import validate_event_limit

MAX_EVENTS = 100_000
_MAX_REVISION = 2**31 - 1


# The nested parts, stored as JSON text (see schema_deployments); every other column holds the
# entity's field of the same name.
_JSON_COLUMNS = ("variants", "previous", "policy", "batching")


def _values(d: Deployment) -> dict[str, Any]:
    """Return the row that stores `d` (JSON text for its nested parts)."""
    row = d.to_dict()
    for key in _JSON_COLUMNS:
        row[key] = None if row[key] is None else json.dumps(row[key])
    return row


def deployment_of(row: Any) -> Deployment:
    """Return the Deployment a `deployments` row holds."""
    data = dict(row._mapping)
    for key in _JSON_COLUMNS:
        data[key] = None if data[key] is None else json.loads(data[key])
    return Deployment.from_dict(data)


def read_deployment(conn: Connection, name: str) -> Deployment:
    """Return the stored deployment called `name`, or raise NotFound."""
    d = s.deployments
    row = conn.execute(select(d).where(d.c.name == name)).first()
    if row is None:
        raise NotFound(f"deployment {name!r} does not exist; `perennia deploy list` shows them")
    return deployment_of(row)


def _require_versions(conn: Connection, deployment: Deployment) -> None:
    """Raise NotFound unless the model and every variant's version exist and are not archived.

    The model's row and the version rows are read FOR SHARE (PostgreSQL; SQLite serialises
    writers anyway), so a model delete, or a version delete or archive, running at the same
    moment, which locks the row to check that no deployment serves it, waits for this
    transaction instead of missing it.
    """
    read_model(conn, deployment.model_name)
    rm, mv = s.registered_models, s.model_versions
    conn.execute(
        select(rm.c.name).where(rm.c.name == deployment.model_name).with_for_update(read=True)
    )
    for version in sorted({variant.version for variant in deployment.variants}):
        read_version(conn, deployment.model_name, version)
        state = conn.execute(
            select(mv.c.state)
            .where(mv.c.name == deployment.model_name, mv.c.version == version)
            .with_for_update(read=True)
        ).scalar()
        if state == "archived":
            raise InvalidInput(
                f"version {version} of {deployment.model_name!r} is archived; restore it "
                "(perennia models versions) or deploy another version"
            )


def follow_alias(conn: Connection, deployment: Deployment, action: str, user: str | None) -> None:
    """Point the deployment's alias at its stable version, in the caller's transaction.

    A guarded alias only moves there by an approved request (so the alias must already point
    at it), or, for a rollback, one step back along the alias's own history, which is what
    `rollback_alias` allows too: "rollback" can undo an approved move but never make a new one.
    """
    alias, model = deployment.alias, deployment.model_name
    if alias is None:
        return
    a = s.model_aliases
    target = deployment.stable.version
    current = conn.execute(
        select(a.c.version).where(a.c.name == model, a.c.alias == alias)
    ).scalar()
    if current == target:
        return
    if action == "rollback":
        held = alias_history(model_events(conn, model), alias)
        if len(held) >= 2 and held[-2] == target and held[-1] == current:
            move_alias(conn, model, alias, target, current, user, "rollback_alias")
            return
    if alias in guarded_aliases(conn, model):
        raise PermissionDenied(
            f"alias {alias!r} of {model!r} is guarded by an approval policy and points at "
            f"version {current}, so deployment {deployment.name!r} cannot make version "
            f"{target} its stable variant: request it (perennia models request {model} "
            f"{target} {alias}), have it approved, then retry"
        )
    move_alias(conn, model, alias, target, current, user, "set_alias")


def _record(
    conn: Connection,
    user: str | None,
    action: str,
    deployment: Deployment,
    before: Deployment | None,
    after: Deployment | None,
    detail: dict[str, Any],
) -> None:
    """Record the change as a registry event of the model, linked to the deployment."""
    event_id = record_event(
        conn,
        user,
        action,
        deployment.model_name,
        deployment.stable.version,
        None if before is None else before.to_dict(),
        None if after is None else {**after.to_dict(), "detail": detail},
    )
    conn.execute(
        insert(s.deployment_events).values(event_id=event_id, name=deployment.name, action=action)
    )


def _of_model(conn: Connection, model_name: str) -> list[Deployment]:
    d = s.deployments
    query = select(d).where(d.c.model_name == model_name).order_by(d.c.name)
    return [deployment_of(row) for row in conn.execute(query)]


def serving_deployments(
    conn: Connection, name: str, version: int | None = None
) -> dict[str, list[str]]:
    """Return {deployment: parts serving `version`} of model `name`, by deployment name.

    The parts are its variants (live, idle or shadow) on that version and "previous" when a
    rollback would bring it back. With `version` None every deployment of the model is listed.
    """
    found: dict[str, list[str]] = {}
    for deployment in _of_model(conn, name):
        parts = [f"variant {v.name!r}" for v in deployment.variants if v.version == version]
        if any(v.version == version for v in deployment.previous):
            parts.append("previous")
        if parts or version is None:
            found[deployment.name] = parts
    return found


def rename_model(conn: Connection, name: str, new_name: str, user: str | None) -> None:
    """Move model `name`'s deployments to `new_name`, each a new revision with its own event.

    The revision goes up so a controller holding the old state loses its compare-and-set
    (and re-reads) instead of writing the old model name back, and so replicas notice.
    """
    d = s.deployments
    for before in _of_model(conn, name):
        after = replace(
            before,
            model_name=new_name,
            revision=before.revision + 1,
            last_updated_time=max(now_ms(), before.last_updated_time),
        )
        conn.execute(update(d).where(d.c.name == after.name).values(**_values(after)))
        detail = {"renamed_from": name}
        _record(conn, user, "deploy_rename_model", after, before, after, detail)


def _check_revision(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= _MAX_REVISION:
        raise InvalidInput(f"expected_revision must be a positive integer, got {value!r:.40}")
    return value


class SqlDeploymentStore:
    """The `DeploymentStore` protocol over SQLAlchemy Core."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self, deployment: Deployment, username: str | None = None) -> Deployment:
        """Store a new deployment at revision 1 and return it as stored (its alias follows)."""
        clean = check_deployment(deployment)
        now = now_ms()
        created = replace(
            clean, revision=1, created_by=username, creation_time=now, last_updated_time=now
        )
        d = s.deployments
        with write_transaction(self.engine) as conn:
            if conn.execute(select(d.c.name).where(d.c.name == clean.name)).first():
                raise AlreadyExists(f"deployment {clean.name!r} already exists")
            _require_versions(conn, created)
            try:
                conn.execute(insert(d).values(**_values(created)))
            except IntegrityError:
                # Another writer took the name between our check and our insert.
                raise AlreadyExists(f"deployment {clean.name!r} already exists") from None
            follow_alias(conn, created, "create", username)
            _record(conn, username, "deploy_create", created, None, created, {})
        return created

    def get(self, name: str) -> Deployment:
        """Return the deployment called `name`, or raise NotFound."""
        with read_transaction(self.engine) as conn:
            return read_deployment(conn, check_deployment_name(name))

    def list(self, model_name: str | None = None) -> list[Deployment]:
        """Return every deployment (of one model, when given), by name."""
        d = s.deployments
        query = select(d).order_by(d.c.name)
        if model_name is not None:
            query = query.where(d.c.model_name == check_model_name(model_name))
        with read_transaction(self.engine) as conn:
            return [deployment_of(row) for row in conn.execute(query)]

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

        Raises Conflict when another writer changed it first; the alias follows a new stable
        version (see `follow_alias`), and the change is the registry event `deploy_<action>`.
        """
        clean = check_deployment(deployment)
        expected = _check_revision(expected_revision)
        action, detail = check_action(action), check_detail(detail)
        d = s.deployments
        with write_transaction(self.engine) as conn:
            old = read_deployment(conn, clean.name)
            if old.revision != expected:
                raise _conflict(clean.name, old.revision, expected)
            if clean.model_name != old.model_name:
                raise InvalidInput(
                    f"deployment {clean.name!r} serves {old.model_name!r}; its model cannot "
                    f"change to {clean.model_name!r} (create another deployment instead)"
                )
            _require_versions(conn, clean)
            new = replace(
                clean,
                revision=expected + 1,
                created_by=old.created_by,
                creation_time=old.creation_time,
                last_updated_time=max(now_ms(), old.last_updated_time),
            )
            changed = conn.execute(
                update(d)
                .where(d.c.name == new.name, d.c.revision == expected)
                .values(**_values(new))
            ).rowcount
            if changed != 1:
                # A concurrent writer replaced it between our read and our write.
                raise _conflict(new.name, None, expected)
            if (old.stable.version, old.alias) != (new.stable.version, new.alias):
                follow_alias(conn, new, action, username)
            _record(conn, username, f"deploy_{action}", new, old, new, detail)
        return new

    def delete(self, name: str, username: str | None = None) -> None:
        """Remove the deployment (the event log keeps its history); NotFound if there is none."""
        name = check_deployment_name(name)
        d = s.deployments
        with write_transaction(self.engine) as conn:
            old = read_deployment(conn, name)
            conn.execute(delete(d).where(d.c.name == name))
            _record(conn, username, "deploy_delete", old, old, None, {})

    def events(self, name: str, limit: int = 100) -> list[RegistryEvent]:
        """Return the deployment's registry events since its (latest) creation, newest first.

        A deleted deployment's history stays readable; a new deployment under the same name
        starts its own.
        """
        name = check_deployment_name(name)
        limit = validate_event_limit(limit, MAX_EVENTS)
        de, e = s.deployment_events, s.registry_events
        created = (
            select(func.max(de.c.event_id))
            .where(de.c.name == name, de.c.action == "deploy_create")
            .scalar_subquery()
        )
        query = (
            select(e)
            .join(de, de.c.event_id == e.c.event_id)
            .where(de.c.name == name, de.c.event_id >= func.coalesce(created, 0))
            .order_by(e.c.event_id.desc())
            .limit(limit)
        )
        with read_transaction(self.engine) as conn:
            rows = conn.execute(query).all()
            if not rows:
                read_deployment(conn, name)
        return [event_of(row) for row in rows]


def _conflict(name: str, stored: int | None, expected: int) -> Conflict:
    now = "" if stored is None else f" is at revision {stored},"
    return Conflict(
        f"deployment {name!r}{now} changed since revision {expected} was read; another change "
        "won the race: re-read it and retry"
    )
