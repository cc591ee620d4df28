"""Model versions in SQL: numbered per model, with tags, each change logged as a registry event.

Version numbers come from an atomic `UPDATE ... RETURNING` on the model's counter, so
concurrent registrations get distinct, consecutive numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, func, insert, select, update

from perennia.clock import now_ms
from perennia.entities import ModelVersion, Page, Reader, VersionState, VersionStatus
from perennia.entities.approval_rules import check_archivable, check_version_removal
from perennia.errors import Conflict, InvalidInput, NotFound
from perennia.store.paging import decode_page_token, encode_page_token
from perennia.store.registry_checks import (
    check_digest,
    check_model_name,
    check_run_id,
    check_status,
    check_tag,
    check_text,
    check_version,
    check_version_order,
)
from perennia.store.sql import schema as s
from perennia.store.sql.aliases import guarded_aliases
from perennia.store.sql.deployments import serving_deployments
from perennia.store.sql.engine import read_transaction, write_transaction
from perennia.store.sql.like import case_sensitive_like
from perennia.store.sql.readers import readable_models
from perennia.store.sql.registered_models import check_page_size, listed
from perennia.store.sql.registry_events import record_event
from perennia.store.sql.registry_rows import read_model, read_version, version_state, versions_of
from perennia.store.sql.upsert import upsert


class SqlModelVersionStore:
    """The `ModelVersionStore` protocol over SQLAlchemy Core."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

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
                update(rm)
                .where(rm.c.name == name)
                .values(next_version=rm.c.next_version + 1, last_updated_time=now)
                .returning(rm.c.next_version)
            ).scalar()
            if counter is None:
                raise NotFound(f"registered model {name!r} does not exist; create it first")
            version = counter - 1
            conn.execute(
                insert(s.model_versions).values(
                    name=name,
                    version=version,
                    creation_time=now,
                    last_updated_time=now,
                    description=description,
                    user_id=username,
                    source=source,
                    run_id=run_id,
                    digest=digest,
                    status=status,
                    status_message=None,
                    state=VersionState.ACTIVE.value,
                )
            )
            rows = [{"name": name, "version": version, "key": k, "value": v} for k, v in pairs]
            if rows:
                conn.execute(insert(s.model_version_tags), rows)
            created = read_version(conn, name, version)
            record_event(
                conn, username, "create_model_version", name, version, None, version_state(created)
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
        *,
        name_like: str | None = None,
        order_by: Sequence[tuple[str, bool]] | None = None,
    ) -> Page[ModelVersion]:
        """Return a page of versions, optionally of one model, one run or names matching a
        case-sensitive LIKE (and only of models `reader` holds a role on, when given), in the
        order asked then by name and newest version; three queries whatever its size."""
        check_page_size(max_results)
        offset = decode_page_token(page_token)
        mv = s.model_versions
        terms = [
            mv.c[f].desc() if down else mv.c[f].asc() for f, down in check_version_order(order_by)
        ]
        query = select(mv).order_by(*terms, mv.c.name, mv.c.version.desc())
        if name is not None:
            query = query.where(mv.c.name == check_model_name(name))
        if name_like is not None:
            query = query.where(case_sensitive_like(mv.c.name, name_like))
        if run_id is not None:
            query = query.where(mv.c.run_id == run_id)
        if reader is not None:
            query = query.where(mv.c.name.in_(readable_models(reader)))
        with read_transaction(self.engine) as conn:
            rows = conn.execute(query.offset(offset).limit(max_results + 1)).all()
            items = versions_of(conn, rows[:max_results])
        token = encode_page_token(offset + max_results) if len(rows) > max_results else None
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
        """Return the version after changing its description, status or state.

        Archiving is refused (Conflict) while the version holds an alias or a deployment serves
        it; deprecating is not, since a deprecated version still loads.
        """
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
        archiving = values.get("state") == VersionState.ARCHIVED
        mv = s.model_versions
        with write_transaction(self.engine) as conn:
            current = read_version(conn, check_model_name(name), version)
            if archiving:
                _refuse_deployed_version(conn, name, version, "archiving")
                check_archivable(current)
            values["last_updated_time"] = now_ms()
            conn.execute(
                update(mv).where(mv.c.name == name, mv.c.version == version).values(**values)
            )
            after = read_version(conn, name, version)
            action = "archive_model_version" if archiving else "update_model_version"
            record_event(
                conn, username, action, name, version, version_state(current), version_state(after)
            )
        return after

    def delete_model_version(
        self, name: str, version: int | str, username: str | None = None
    ) -> None:
        """Delete a version with its tags and aliases (the events stay).

        Raises Conflict while a deployment serves it, PermissionDenied while it holds a guarded
        alias.
        """
        version = check_version(version)
        with write_transaction(self.engine) as conn:
            current = read_version(conn, check_model_name(name), version)
            _refuse_deployed_version(conn, name, version, "deleting")
            check_version_removal(current, guarded_aliases(conn, name))
            for table in (s.model_version_tags, s.model_aliases, s.model_versions):
                conn.execute(delete(table).where(table.c.name == name, table.c.version == version))
            record_event(
                conn, username, "delete_model_version", name, version, version_state(current), None
            )
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
            upsert(
                conn,
                t,
                [{"name": name, "version": version, "key": key, "value": value}],
                ("name", "version", "key"),
                ("value",),
            )
            record_event(
                conn,
                username,
                "set_model_version_tag",
                name,
                version,
                None if old is None else {key: old},
                {key: value},
            )

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


def _refuse_deployed_version(conn: Connection, name: str, version: int, doing: str) -> None:
    """Raise Conflict naming the deployments that serve the version (live, shadow or previous)."""
    mv = s.model_versions
    # PostgreSQL: a deployment write that names this version holds its row FOR SHARE, so this
    # lock waits for it and the read below sees it (SQLite serialises writers anyway).
    conn.execute(
        select(mv.c.version).where(mv.c.name == name, mv.c.version == version).with_for_update()
    )
    serving = serving_deployments(conn, name, version)
    if serving:
        uses = [f"{d!r} ({', '.join(parts)})" for d, parts in serving.items()]
        raise Conflict(
            f"version {version} of {name!r} is served by deployment {listed(uses, '{}')}; "
            f"move them to another version (perennia deploy switch, promote or rollback) or "
            f"delete them (perennia deploy delete NAME) before {doing} it"
        )


def _cancel_requests_for(conn: Connection, name: str, version: int, username: str | None) -> None:
    """Cancel the pending approval requests of a version that no longer exists."""
    r = s.approval_requests
    pending = conn.execute(
        select(r.c.request_id, r.c.alias).where(
            r.c.name == name, r.c.version == version, r.c.status == "PENDING"
        )
    ).all()
    for request_id, alias in pending:
        conn.execute(
            update(r)
            .where(r.c.request_id == request_id)
            .values(status="CANCELLED", decided_time=now_ms())
        )
        record_event(
            conn,
            username,
            "cancel_approval",
            name,
            version,
            {"request_id": request_id, "status": "PENDING"},
            {
                "request_id": request_id,
                "status": "CANCELLED",
                "alias": alias,
                "reason": "version deleted",
            },
        )


def _state(state: str) -> str:
    try:
        return VersionState(state).value
    except ValueError:
        known = ", ".join(v.value for v in VersionState)
        raise InvalidInput(f"state must be one of {known}, got {state!r:.40}") from None
