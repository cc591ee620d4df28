"""Registered models in SQL: create, read, search, update, rename and delete them, their tags,
and the registry's event log.

Every change and its registry event are written in one transaction, so the log never misses
a change nor records one that did not happen.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from perennia.clock import now_ms
from perennia.entities import Page, Reader, RegisteredModel, RegistryEvent
from perennia.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from perennia.store.limits import NAME_LENGTH
from perennia.store.paging import decode_page_token, encode_page_token
from perennia.store.registry_checks import check_model_name, check_tag, check_text
from perennia.store.sql import schema as s
from perennia.store.sql.deployments import rename_model, serving_deployments
from perennia.store.sql.engine import read_transaction, write_transaction
from perennia.store.sql.like import case_sensitive_like
from perennia.store.sql.readers import readable_models
from perennia.store.sql.registry_events import event_of, record_event, since_creation
from perennia.store.sql.registry_rows import model_state, models_of, read_model
from perennia.store.sql.upsert import upsert

# Every table keyed by a registered model's name: a rename moves them all, a delete empties them.
_BY_NAME = (
    s.registered_models,
    s.registered_model_tags,
    s.model_versions,
    s.model_version_tags,
    s.model_aliases,
    s.model_permissions,
    s.approval_policies,
    s.approval_requests,
    s.model_card_revisions,
)
MAX_PAGE = 10_000
_NAMES_SHOWN = 10  # deployments named in one refusal; the rest are counted


def check_page_size(max_results: Any) -> int:
    """Return a registry page size (1 to 10,000), or raise InvalidInput."""
    if isinstance(max_results, bool) or not isinstance(max_results, int):
        raise InvalidInput(f"max_results must be 1-10,000, got {max_results!r:.40}")
    if not 1 <= max_results <= MAX_PAGE:
        raise InvalidInput(f"max_results must be 1-10,000, got {max_results!r}")
    return max_results


def listed(names: Sequence[str], template: str = "{!r}") -> str:
    """Return the first ten names formatted by `template`, joined by commas ("and 3 more")."""
    shown = ", ".join(template.format(n) for n in names[:_NAMES_SHOWN])
    rest = len(names) - _NAMES_SHOWN
    return shown + (f" and {rest} more" if rest > 0 else "")


def _lock_model(conn: Connection, name: str) -> None:
    # PostgreSQL: a deployment being created for this model holds its row FOR SHARE, so this
    # waits for it, and the deployments read next sees it (SQLite serialises writers anyway).
    rm = s.registered_models
    conn.execute(select(rm.c.name).where(rm.c.name == name).with_for_update())


def _refuse_deployed_model(conn: Connection, name: str) -> None:
    """Raise Conflict naming the model's deployments, if it has any."""
    names = list(serving_deployments(conn, name))
    if names:
        raise Conflict(
            f"registered model {name!r} is still deployed by {listed(names)}; delete "
            f"the deployments first ({listed(names, 'perennia deploy delete {}')})"
        )


class SqlRegisteredModelStore:
    """The `RegisteredModelStore` protocol over SQLAlchemy Core."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

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
        rm = s.registered_models
        with write_transaction(self.engine) as conn:
            if conn.execute(select(rm.c.name).where(rm.c.name == name)).first():
                raise AlreadyExists(f"registered model {name!r} already exists")
            try:
                conn.execute(
                    insert(rm).values(
                        name=name,
                        description=description,
                        owner=owner or username,
                        creation_time=now,
                        last_updated_time=now,
                        next_version=1,
                    )
                )
            except IntegrityError:
                # Another writer registered the name between our check and our insert.
                raise AlreadyExists(f"registered model {name!r} already exists") from None
            rows = [{"name": name, "key": k, "value": v} for k, v in pairs]
            if rows:
                conn.execute(insert(s.registered_model_tags), rows)
            model = read_model(conn, name)
            record_event(
                conn, username, "create_registered_model", name, None, None, model_state(model)
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
        only those `reader` holds a role on when given; four queries whatever the page size."""
        check_page_size(max_results)
        offset = decode_page_token(page_token)
        rm = s.registered_models
        query = select(rm).order_by(rm.c.name).offset(offset).limit(max_results + 1)
        if name_like:
            query = query.where(case_sensitive_like(rm.c.name, name_like))
        if reader is not None:
            query = query.where(rm.c.name.in_(readable_models(reader)))
        with read_transaction(self.engine) as conn:
            rows = conn.execute(query).all()
            items = models_of(conn, rows[:max_results])
        token = encode_page_token(offset + max_results) if len(rows) > max_results else None
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
        rm = s.registered_models
        with write_transaction(self.engine) as conn:
            before = model_state(read_model(conn, check_model_name(name)))
            values["last_updated_time"] = now_ms()
            conn.execute(update(rm).where(rm.c.name == name).values(**values))
            model = read_model(conn, name)
            record_event(
                conn, username, "update_registered_model", name, None, before, model_state(model)
            )
        return model

    def rename_registered_model(
        self, name: str, new_name: str, username: str | None = None
    ) -> RegisteredModel:
        """Return the model under its new name; versions, tags, aliases and deployments follow."""
        check_model_name(new_name)
        rm = s.registered_models
        with write_transaction(self.engine) as conn:
            before = model_state(read_model(conn, check_model_name(name)))
            if conn.execute(select(rm.c.name).where(rm.c.name == new_name)).first():
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
            rename_model(conn, name, new_name, username)
            conn.execute(update(rm).where(rm.c.name == new_name).values(last_updated_time=now_ms()))
            model = read_model(conn, new_name)
            record_event(
                conn,
                username,
                "rename_registered_model",
                new_name,
                None,
                before,
                model_state(model),
            )
        return model

    def delete_registered_model(self, name: str, username: str | None = None) -> None:
        """Delete a registered model with its versions, tags and aliases (the events stay).

        Raises Conflict while a deployment serves the model: it must be deleted first.
        """
        with write_transaction(self.engine) as conn:
            before = model_state(read_model(conn, check_model_name(name)))
            _lock_model(conn, name)
            _refuse_deployed_model(conn, name)
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
            upsert(
                conn, t, [{"name": name, "key": key, "value": value}], ("name", "key"), ("value",)
            )
            record_event(
                conn,
                username,
                "set_registered_model_tag",
                name,
                None,
                None if old is None else {key: old},
                {key: value},
            )

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
