"""The model registry in SQL: registered models, versions, tags, aliases and their event log.

Every change and its registry event are written in one transaction, so the log never misses
a change nor records one that did not happen. Version numbers come from an atomic
`UPDATE ... RETURNING` on the model's counter; alias moves are compare-and-set, so of two
writers racing from the same state exactly one wins and the other gets a Conflict.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from perennia.clock import now_ms
from perennia.entities import (
    ModelVersion,
    Page,
    Reader,
    RegisteredModel,
    RegistryEvent,
    VersionState,
    VersionStatus,
)
from perennia.errors import AlreadyExists, Conflict, InvalidInput, NotFound, PermissionDenied
from perennia.store.limits import NAME_LENGTH
from perennia.store.paging import decode_page_token, encode_page_token
from perennia.store.registry_checks import (  # noqa: F401 - re-exported for the store's users
    ANY,
    check_alias,
    check_digest,
    check_model_name,
    check_run_id,
    check_status,
    check_tag,
    check_text,
    check_version,
)
from perennia.store.sql import schema as s
from perennia.store.sql.engine import read_transaction, write_transaction
from perennia.store.sql.readers import readable_models
from perennia.store.sql.registry_events import (
    alias_history,
    event_of,
    model_events,
    record_event,
    since_creation,
)
from perennia.store.sql.registry_rows import read_model, read_version

# Every table keyed by a registered model's name: a rename moves them all, a delete empties them.
_BY_NAME = (s.registered_models, s.registered_model_tags, s.model_versions, s.model_version_tags,
            s.model_aliases, s.model_permissions, s.approval_policies, s.approval_requests,
            s.model_card_revisions)  # fmt: skip


def guarded_aliases(conn: Connection, name: str) -> set[str]:
    """Return the model's aliases that only move through approved requests."""
    p = s.approval_policies
    return set(conn.execute(select(p.c.alias).where(p.c.name == name)).scalars())


class SqlRegistryStore:
    """Registered models, versions, tags and aliases over SQLAlchemy Core."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- registered models -------------------------------------------------------------------

    def create_registered_model(
        self,
        name: str,
        description: str = "",
        tags: dict[str, str] | None = None,
        owner: str | None = None,
        username: str | None = None,
    ) -> RegisteredModel:
        """Return a new registered model (owned by `username` unless `owner` is given); AlreadyExists if taken."""
        check_model_name(name)
        description = check_text(description or "", "description")
        owner = check_text(owner, "owner", NAME_LENGTH, optional=True)
        pairs = [check_tag(k, v) for k, v in (tags or {}).items()]
        now = now_ms()
        with write_transaction(self.engine) as conn:
            if conn.execute(
                select(s.registered_models.c.name).where(s.registered_models.c.name == name)
            ).first():
                raise AlreadyExists(f"registered model {name!r} already exists")
            try:
                conn.execute(
                    insert(s.registered_models).values(
                        name=name, description=description, owner=owner or username,
                        creation_time=now, last_updated_time=now, next_version=1,
                    )
                )  # fmt: skip
            except IntegrityError:
                # Another writer registered the name between our check and our insert.
                raise AlreadyExists(f"registered model {name!r} already exists") from None
            for key, value in pairs:
                conn.execute(
                    insert(s.registered_model_tags).values(name=name, key=key, value=value)
                )
            model = read_model(conn, name)
            record_event(
                conn, username, "create_registered_model", name, None, None, _model_state(model)
            )
        return model

    def get_registered_model(self, name: str) -> RegisteredModel:
        """Return the registered model named `name`; NotFound otherwise."""
        with read_transaction(self.engine) as conn:
            return read_model(conn, check_model_name(name))

    def search_registered_models(
        self,
        name_like: str | None = None,
        max_results: int = 100,
        page_token: str | None = None,
        reader: Reader | None = None,
    ) -> Page[RegisteredModel]:
        """Return a page of registered models by name (optionally filtered by a LIKE pattern),
        only those `reader` holds a role on when given."""
        if not isinstance(max_results, int) or not 1 <= max_results <= 10_000:
            raise InvalidInput(f"max_results must be 1-10,000, got {max_results!r}")
        offset = decode_page_token(page_token)
        rm = s.registered_models
        query = select(rm.c.name).order_by(rm.c.name).offset(offset).limit(max_results + 1)
        if name_like:
            query = query.where(rm.c.name.like(name_like))
        if reader is not None:
            query = query.where(rm.c.name.in_(readable_models(reader)))
        with read_transaction(self.engine) as conn:
            names = conn.execute(query).scalars().all()
            items = [read_model(conn, n) for n in names[:max_results]]
        token = encode_page_token(offset + max_results) if len(names) > max_results else None
        return Page(items, token)

    def update_registered_model(
        self,
        name: str,
        description: str | None = None,
        owner: str | None = None,
        username: str | None = None,
    ) -> RegisteredModel:
        """Return the model after changing its description and/or owner."""
        values: dict[str, Any] = {}
        if description is not None:
            values["description"] = check_text(description, "description")
        if owner is not None:
            values["owner"] = check_text(owner, "owner", NAME_LENGTH)
        with write_transaction(self.engine) as conn:
            before = _model_state(read_model(conn, check_model_name(name)))
            values["last_updated_time"] = now_ms()
            conn.execute(
                update(s.registered_models)
                .where(s.registered_models.c.name == name)
                .values(**values)
            )
            model = read_model(conn, name)
            record_event(
                conn, username, "update_registered_model", name, None, before, _model_state(model)
            )
        return model

    def rename_registered_model(
        self, name: str, new_name: str, username: str | None = None
    ) -> RegisteredModel:
        """Return the model under its new name; every version, tag and alias follows."""
        check_model_name(new_name)
        with write_transaction(self.engine) as conn:
            before = _model_state(read_model(conn, check_model_name(name)))
            if conn.execute(
                select(s.registered_models.c.name).where(s.registered_models.c.name == new_name)
            ).first():
                raise AlreadyExists(f"registered model {new_name!r} already exists")
            try:
                for table in _BY_NAME:
                    conn.execute(update(table).where(table.c.name == name).values(name=new_name))
                # The history follows the model, so the old name starts afresh if reused.
                e = s.registry_events
                conn.execute(update(e).where(e.c.model_name == name).values(model_name=new_name))
            except IntegrityError:
                raise AlreadyExists(f"registered model {new_name!r} already exists") from None
            w = s.webhooks  # a webhook scoped to the model follows it to its new name
            conn.execute(update(w).where(w.c.model_name == name).values(model_name=new_name))
            conn.execute(
                update(s.registered_models).where(s.registered_models.c.name == new_name)
                .values(last_updated_time=now_ms())
            )  # fmt: skip
            model = read_model(conn, new_name)
            record_event(
                conn,
                username,
                "rename_registered_model",
                new_name,
                None,
                before,
                _model_state(model),
            )
        return model

    def delete_registered_model(self, name: str, username: str | None = None) -> None:
        """Delete a registered model with its versions, tags and aliases (the events stay)."""
        with write_transaction(self.engine) as conn:
            before = _model_state(read_model(conn, check_model_name(name)))
            for table in reversed(_BY_NAME):
                conn.execute(delete(table).where(table.c.name == name))
            record_event(conn, username, "delete_registered_model", name, None, before, None)

    def set_registered_model_tag(
        self, name: str, key: str, value: str, username: str | None = None
    ) -> None:
        """Set (or replace) a tag of a registered model."""
        key, value = check_tag(key, value)
        t = s.registered_model_tags
        with write_transaction(self.engine) as conn:
            read_model(conn, check_model_name(name))
            old = conn.execute(select(t.c.value).where(t.c.name == name, t.c.key == key)).scalar()
            conn.execute(delete(t).where(t.c.name == name, t.c.key == key))
            conn.execute(insert(t).values(name=name, key=key, value=value))
            record_event(conn, username, "set_registered_model_tag", name, None,
                        None if old is None else {key: old}, {key: value})  # fmt: skip

    def delete_registered_model_tag(self, name: str, key: str, username: str | None = None) -> None:
        """Delete a tag of a registered model; NotFound when it has no such tag."""
        t = s.registered_model_tags
        with write_transaction(self.engine) as conn:
            old = conn.execute(select(t.c.value).where(t.c.name == name, t.c.key == key)).scalar()
            if old is None:
                read_model(conn, check_model_name(name))
                raise NotFound(f"registered model {name!r} has no tag {key!r}")
            conn.execute(delete(t).where(t.c.name == name, t.c.key == key))
            record_event(
                conn, username, "delete_registered_model_tag", name, None, {key: old}, None
            )

    # -- versions ----------------------------------------------------------------------------

    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        digest: str | None = None,
        description: str = "",
        tags: dict[str, str] | None = None,
        status: str = VersionStatus.READY,
        username: str | None = None,
    ) -> ModelVersion:
        """Return a new version of `name` with the next number (atomic under concurrency)."""
        check_model_name(name)
        if not isinstance(source, str) or not source or len(source) > 4000 or "\x00" in source:
            raise InvalidInput(
                "source must be the URI of the model package, up to 4,000 characters"
            )
        status = check_status(status)
        description = check_text(description or "", "description")
        run_id, digest = check_run_id(run_id), check_digest(digest)
        pairs = [check_tag(k, v) for k, v in (tags or {}).items()]
        rm = s.registered_models
        now = now_ms()
        with write_transaction(self.engine) as conn:
            counter = conn.execute(
                update(rm).where(rm.c.name == name)
                .values(next_version=rm.c.next_version + 1, last_updated_time=now)
                .returning(rm.c.next_version)
            ).scalar()  # fmt: skip
            if counter is None:
                raise NotFound(f"registered model {name!r} does not exist; create it first")
            version = counter - 1
            conn.execute(
                insert(s.model_versions).values(
                    name=name, version=version, creation_time=now, last_updated_time=now,
                    description=description, user_id=username, source=source, run_id=run_id,
                    digest=digest, status=status, status_message=None, state=VersionState.ACTIVE.value,
                )
            )  # fmt: skip
            for key, value in pairs:
                conn.execute(
                    insert(s.model_version_tags).values(
                        name=name, version=version, key=key, value=value
                    )
                )
            created = read_version(conn, name, version)
            record_event(
                conn, username, "create_model_version", name, version, None, _version_state(created)
            )
        return created

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        """Return one version; NotFound when the model or version does not exist."""
        with read_transaction(self.engine) as conn:
            return read_version(conn, check_model_name(name), check_version(version))

    def get_latest_version(self, name: str) -> ModelVersion:
        """Return the highest-numbered version of `name`."""
        mv = s.model_versions
        with read_transaction(self.engine) as conn:
            read_model(conn, check_model_name(name))
            latest = conn.execute(select(func.max(mv.c.version)).where(mv.c.name == name)).scalar()
            if latest is None:
                raise NotFound(f"registered model {name!r} has no versions yet")
            return read_version(conn, name, latest)

    def search_model_versions(
        self,
        name: str | None = None,
        run_id: str | None = None,
        max_results: int = 100,
        page_token: str | None = None,
        reader: Reader | None = None,
    ) -> Page[ModelVersion]:
        """Return a page of versions, newest first, optionally of one model or one run (and
        only of models `reader` holds a role on, when given)."""
        if not isinstance(max_results, int) or not 1 <= max_results <= 10_000:
            raise InvalidInput(f"max_results must be 1-10,000, got {max_results!r}")
        offset = decode_page_token(page_token)
        mv = s.model_versions
        query = select(mv.c.name, mv.c.version).order_by(mv.c.name, mv.c.version.desc())
        if name is not None:
            query = query.where(mv.c.name == check_model_name(name))
        if run_id is not None:
            query = query.where(mv.c.run_id == run_id)
        if reader is not None:
            query = query.where(mv.c.name.in_(readable_models(reader)))
        with read_transaction(self.engine) as conn:
            keys = conn.execute(query.offset(offset).limit(max_results + 1)).all()
            items = [read_version(conn, n, v) for n, v in keys[:max_results]]
        token = encode_page_token(offset + max_results) if len(keys) > max_results else None
        return Page(items, token)

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
        """Return the version after changing its description, status or state."""
        version = check_version(version)
        values: dict[str, Any] = {}
        if description is not None:
            values["description"] = check_text(description, "description")
        if status is not None:
            values["status"] = check_status(status)
        if status_message is not None:
            values["status_message"] = check_text(status_message, "status_message")
        if state is not None:
            values["state"] = _state(state)
        mv = s.model_versions
        with write_transaction(self.engine) as conn:
            before = _version_state(read_version(conn, check_model_name(name), version))
            if values.get("state") == VersionState.ARCHIVED and before["aliases"]:
                raise Conflict(
                    f"version {version} of {name!r} holds aliases {before['aliases']}; move them "
                    "before archiving it"
                )
            values["last_updated_time"] = now_ms()
            conn.execute(
                update(mv).where(mv.c.name == name, mv.c.version == version).values(**values)
            )
            after = read_version(conn, name, version)
            action = (
                "archive_model_version"
                if values.get("state") == VersionState.ARCHIVED
                else "update_model_version"
            )
            record_event(conn, username, action, name, version, before, _version_state(after))
        return after

    def delete_model_version(
        self, name: str, version: int | str, username: str | None = None
    ) -> None:
        """Delete a version with its tags and aliases (the events stay)."""
        version = check_version(version)
        with write_transaction(self.engine) as conn:
            before = _version_state(read_version(conn, check_model_name(name), version))
            held = set(before["aliases"]) & guarded_aliases(conn, name)
            if held:
                raise PermissionDenied(
                    f"version {version} of {name!r} holds guarded alias(es) {sorted(held)}; move "
                    "them through an approved request (or roll back) before deleting it"
                )
            for table in (s.model_version_tags, s.model_aliases, s.model_versions):
                conn.execute(delete(table).where(table.c.name == name, table.c.version == version))
            record_event(conn, username, "delete_model_version", name, version, before, None)
            _cancel_requests_for(conn, name, version, username)

    def set_model_version_tag(
        self, name: str, version: int | str, key: str, value: str, username: str | None = None
    ) -> None:
        """Set (or replace) a tag of a model version."""
        version = check_version(version)
        key, value = check_tag(key, value)
        t = s.model_version_tags
        where = and_(t.c.name == name, t.c.version == version, t.c.key == key)
        with write_transaction(self.engine) as conn:
            read_version(conn, check_model_name(name), version)
            old = conn.execute(select(t.c.value).where(where)).scalar()
            conn.execute(delete(t).where(where))
            conn.execute(insert(t).values(name=name, version=version, key=key, value=value))
            record_event(conn, username, "set_model_version_tag", name, version,
                        None if old is None else {key: old}, {key: value})  # fmt: skip

    def delete_model_version_tag(
        self, name: str, version: int | str, key: str, username: str | None = None
    ) -> None:
        """Delete a tag of a model version; NotFound when it has no such tag."""
        version = check_version(version)
        t = s.model_version_tags
        where = and_(t.c.name == name, t.c.version == version, t.c.key == key)
        with write_transaction(self.engine) as conn:
            old = conn.execute(select(t.c.value).where(where)).scalar()
            if old is None:
                read_version(conn, check_model_name(name), version)
                raise NotFound(f"version {version} of {name!r} has no tag {key!r}")
            conn.execute(delete(t).where(where))
            record_event(
                conn, username, "delete_model_version_tag", name, version, {key: old}, None
            )

    # -- aliases -----------------------------------------------------------------------------

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
            if alias in guarded_aliases(conn, name):
                raise PermissionDenied(
                    f"alias {alias!r} of {name!r} is guarded by an approval policy: request it "
                    f"(perennia models request {name} {version} {alias}) and have it approved"
                )
            return self.move_alias(conn, model.name, alias, version, expected_version, username,
                                   "set_alias")  # fmt: skip

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
            self.move_alias(conn, model.name, alias, held[-2], held[-1], username,
                            "rollback_alias")  # fmt: skip
            return read_version(conn, model.name, held[-2])

    def move_alias(
        self,
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
        target = read_version(conn, name, version)
        if target.state == VersionState.ARCHIVED:
            raise Conflict(
                f"version {version} of {name!r} is archived; restore it before aliasing it"
            )
        current = conn.execute(select(a.c.version).where(where)).scalar()
        if expected_version is not ANY and current != expected_version:
            raise Conflict(
                f"alias {alias!r} of {name!r} points at version {current} now, not "
                f"{expected_version} as expected; another change won the race, re-read and retry"
            )
        now = now_ms()
        if current is None:
            conn.execute(
                insert(a).values(name=name, alias=alias, version=version, updated_time=now)
            )
        else:
            moved = conn.execute(
                update(a).where(where, a.c.version == current).values(version=version, updated_time=now)
            ).rowcount  # fmt: skip
            if moved != 1:
                # A concurrent writer moved it between our read and our write (PostgreSQL's
                # READ COMMITTED re-checks the WHERE clause after waiting for its lock).
                raise Conflict(
                    f"alias {alias!r} of {name!r} was moved by another change while this one "
                    "waited; another change won the race, re-read and retry"
                )
        record_event(conn, username, action, name, version,
                    None if current is None else {"alias": alias, "version": current},
                    {"alias": alias, "version": version})  # fmt: skip
        return current

    def delete_alias(self, name: str, alias: str, username: str | None = None) -> None:
        """Remove an alias; NotFound when the model has no such alias."""
        a = s.model_aliases
        where = and_(a.c.name == name, a.c.alias == alias)
        with write_transaction(self.engine) as conn:
            current = conn.execute(select(a.c.version).where(where)).scalar()
            if current is None:
                read_model(conn, check_model_name(name))
                raise NotFound(f"registered model {name!r} has no alias {alias!r}")
            if alias in guarded_aliases(conn, name):
                raise PermissionDenied(
                    f"alias {alias!r} of {name!r} is guarded by an approval policy; delete the "
                    "policy first (a manager's call) to remove it"
                )
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

    # -- events ------------------------------------------------------------------------------

    def events(self, name: str | None = None, limit: int = 100) -> list[RegistryEvent]:
        """Return registry events, newest first: all of them, or those of one existing model.

        A model's events start at its creation: a deleted model's history stays in the log
        (read it with `events()`), but a new model under the same name does not inherit it.
        """
        e = s.registry_events
        query = select(e).order_by(e.c.event_id.desc()).limit(max(1, min(int(limit), 100_000)))
        with read_transaction(self.engine) as conn:
            if name is not None:
                read_model(conn, check_model_name(name))
                query = query.where(*since_creation(name))
            rows = conn.execute(query).all()
        return [event_of(r) for r in rows]


def _cancel_requests_for(conn: Connection, name: str, version: int, username: str | None) -> None:
    """Cancel the pending approval requests of a version that no longer exists."""
    r = s.approval_requests
    pending = conn.execute(
        select(r.c.request_id, r.c.alias)
        .where(r.c.name == name, r.c.version == version, r.c.status == "PENDING")
    ).all()  # fmt: skip
    for request_id, alias in pending:
        conn.execute(update(r).where(r.c.request_id == request_id)
                     .values(status="CANCELLED", decided_time=now_ms()))  # fmt: skip
        record_event(conn, username, "cancel_approval", name, version,
                     {"request_id": request_id, "status": "PENDING"},
                     {"request_id": request_id, "status": "CANCELLED", "alias": alias,
                      "reason": "version deleted"})  # fmt: skip


def _state(state: str) -> str:
    try:
        return VersionState(state).value
    except ValueError:
        known = ", ".join(v.value for v in VersionState)
        raise InvalidInput(f"state must be one of {known}, got {state!r:.40}") from None


def _model_state(model: RegisteredModel) -> dict[str, Any]:
    return {"name": model.name, "description": model.description, "owner": model.owner,
            "tags": dict(model.tags), "aliases": dict(model.aliases)}  # fmt: skip


def _version_state(version: ModelVersion) -> dict[str, Any]:
    return {"version": version.version, "description": version.description,
            "status": version.status, "state": version.state, "source": version.source,
            "run_id": version.run_id, "digest": version.digest, "aliases": list(version.aliases),
            "tags": dict(version.tags)}  # fmt: skip
