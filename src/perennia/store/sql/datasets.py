"""Dataset versions in SQL: numbered per name, with parents, tags and aliases; each change an event.

A registration takes its number from the name's row in `dataset_names` with one
`INSERT ... ON CONFLICT DO UPDATE ... RETURNING` in the registration's own transaction. On
PostgreSQL that statement locks the row (or, for a new name, the key being inserted), so a second
registration waits for the first to commit and then takes the next number; a registration that
fails rolls its number back with everything else, so numbers have no gaps. SQLite serialises
writers with `BEGIN IMMEDIATE`. Every other write locks the same row first (`FOR UPDATE`), so the
`from` an alias move records is the version the alias really held.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, tuple_, update

from perennia.clock import now_ms
from perennia.entities import DatasetEvent, DatasetVersion
from perennia.errors import NotFound
from perennia.store.limits import MAX_SEARCH_RESULTS, NAME_LENGTH
from perennia.store.paging import check_max_results
from perennia.store.sql import schema as s
from perennia.store.sql.engine import read_transaction, write_transaction
from perennia.store.sql.upsert import upsert
from perennia.store.validation import (
    parse_dataset_parent,
    validate_dataset_alias,
    validate_dataset_contract,
    validate_dataset_draft,
    validate_dataset_name,
    validate_dataset_ref,
    validate_dataset_tag,
    validate_dataset_text,
    validate_dataset_version,
    validate_event_limit,
    validate_key,
)

# The nested parts, stored as JSON text; every other column holds the field of the same name.
_JSON_COLUMNS = ("schema", "source", "derivation", "contract")
_ROW_FIELDS = (
    "name",
    "version",
    "digest",
    "storage_uri",
    "kind",
    "row_count",
    "file_count",
    "size_bytes",
    "new_bytes",
    "description",
    "created_at",
    "created_by",
    *_JSON_COLUMNS,
)


def _values(v: DatasetVersion) -> dict[str, Any]:
    """Return the `dataset_versions` row that stores `v`."""
    row = {f: getattr(v, f) for f in _ROW_FIELDS}
    for key in _JSON_COLUMNS:
        row[key] = None if row[key] is None else json.dumps(row[key], separators=(",", ":"))
    return row


def _key_filter(table: Any, keys: Sequence[tuple[str, int]]) -> Any:
    """Return the WHERE clause selecting `table`'s rows of the (name, version) `keys`."""
    names = {name for name, _ in keys}
    if len(names) == 1:
        # One dataset: filter by name alone (indexed) and drop other versions in Python.
        return table.c.name == next(iter(names))
    return tuple_(table.c.name, table.c.version).in_(list(keys))


def _decorate(conn: Connection, rows: Sequence[Any]) -> list[DatasetVersion]:
    """Return the versions `rows` hold, their parents, tags and aliases read in three queries."""
    keys = [(r._mapping["name"], r._mapping["version"]) for r in rows]
    if not keys:
        return []
    wanted = set(keys)
    extras: dict[tuple[str, int], dict[str, Any]] = {
        k: {"parents": [], "tags": {}, "aliases": []} for k in keys
    }
    p, t, a = s.dataset_parents, s.dataset_tags, s.dataset_aliases
    parents = select(p).where(_key_filter(p, keys)).order_by(p.c.position)
    for row in conn.execute(parents):
        if (row.name, row.version) in wanted:
            extras[row.name, row.version]["parents"].append(
                f"{row.parent_name}@{row.parent_version}"
            )
    for row in conn.execute(select(t).where(_key_filter(t, keys)).order_by(t.c.key)):
        if (row.name, row.version) in wanted:
            extras[row.name, row.version]["tags"][row.key] = row.value
    for row in conn.execute(select(a).where(_key_filter(a, keys)).order_by(a.c.alias)):
        if (row.name, row.version) in wanted:
            extras[row.name, row.version]["aliases"].append(row.alias)
    found = []
    for row, key in zip(rows, keys, strict=True):
        data = dict(row._mapping)
        for column in _JSON_COLUMNS:
            data[column] = None if data[column] is None else json.loads(data[column])
        found.append(DatasetVersion(**data, **extras[key]))
    return found


def _latest(conn: Connection, name: str, *, lock: bool = False) -> int:
    """Return the newest version number of `name` (NotFound when it has none)."""
    n = s.dataset_names
    query = select(n.c.latest_version).where(n.c.name == name)
    latest = conn.execute(query.with_for_update() if lock else query).scalar()
    if latest is None:
        raise NotFound(f"no dataset named {name!r} is registered; register a version first")
    return int(latest)


def _read(conn: Connection, name: str, version: int, *, lock: bool = False) -> DatasetVersion:
    """Return `name@version` (NotFound, naming the versions that exist, when there is none)."""
    latest = _latest(conn, name, lock=lock)
    v = s.dataset_versions
    row = conn.execute(select(v).where(v.c.name == name, v.c.version == version)).first()
    if row is None:
        raise NotFound(f"dataset {name!r} has no version {version}; its versions are 1 to {latest}")
    return _decorate(conn, [row])[0]


def _record(
    conn: Connection,
    username: str | None,
    action: str,
    name: str,
    version: int | None,
    detail: dict[str, Any],
) -> None:
    """Append one event to the dataset's history, in the change's own transaction."""
    conn.execute(
        insert(s.dataset_events).values(
            time=now_ms(),
            username=username,
            action=action,
            name=name,
            version=version,
            detail=json.dumps(detail, separators=(",", ":")),
        )
    )


def _require_parents(conn: Connection, parents: Sequence[tuple[str, int]]) -> None:
    """Raise NotFound naming the first of `parents` that is not a stored version."""
    if not parents:
        return
    v = s.dataset_versions
    query = select(v.c.name, v.c.version).where(tuple_(v.c.name, v.c.version).in_(parents))
    found = {(name, version) for name, version in conn.execute(query)}
    for name, version in parents:
        if (name, version) not in found:
            try:
                _read(conn, name, version)  # raises, saying which versions the name has
            except NotFound as error:
                raise NotFound(f"parent {name}@{version} does not exist: {error}") from None


def _who(username: Any) -> str | None:
    """Return who acts (None or a name fit for the column), else raise InvalidInput."""
    if username is None:
        return None
    return validate_dataset_text(username, "username", NAME_LENGTH)


def _next_number(conn: Connection, name: str) -> int:
    """Return the name's next version number, counted in this transaction (see the module)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    n = s.dataset_names
    statement = dialect_insert(n).values(name=name, latest_version=1)
    statement = statement.on_conflict_do_update(
        index_elements=[n.c.name], set_={"latest_version": n.c.latest_version + 1}
    ).returning(n.c.latest_version)
    return int(conn.execute(statement).scalar_one())


class SqlDatasetStore:
    """The `DatasetStore` protocol over SQLAlchemy Core."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create_version(self, draft: DatasetVersion, username: str | None = None) -> DatasetVersion:
        """Store `draft` as the name's next version and return it as stored (see the module)."""
        clean = validate_dataset_draft(draft)
        parents = [parse_dataset_parent(parent) for parent in clean.parents]
        username = _who(username)
        with write_transaction(self.engine) as conn:
            _require_parents(conn, parents)
            number = _next_number(conn, clean.name)
            stored = replace(
                clean, version=number, aliases=[], created_at=now_ms(), created_by=username
            )
            conn.execute(insert(s.dataset_versions).values(**_values(stored)))
            parent_rows = [
                {"name": clean.name, "version": number, "parent_name": pn, "parent_version": pv}
                | {"position": i}
                for i, (pn, pv) in enumerate(parents)
            ]
            if parent_rows:
                conn.execute(insert(s.dataset_parents), parent_rows)
            tag_rows = [
                {"name": clean.name, "version": number, "key": k, "value": v}
                for k, v in clean.tags.items()
            ]
            if tag_rows:
                conn.execute(insert(s.dataset_tags), tag_rows)
            detail = {"digest": clean.digest, "parents": list(clean.parents)}
            _record(conn, username, "register", clean.name, number, detail)
        return stored

    def get_version(self, name: str, version: int) -> DatasetVersion:
        """Return `name@version`, or raise NotFound."""
        name, version = validate_dataset_name(name), validate_dataset_version(version)
        with read_transaction(self.engine) as conn:
            return _read(conn, name, version)

    def resolve(self, name: str, ref: str | int) -> DatasetVersion:
        """Return the version `ref` names: a number, `latest`, or an alias (NotFound if none)."""
        name, ref = validate_dataset_name(name), validate_dataset_ref(ref)
        with read_transaction(self.engine) as conn:
            latest = _latest(conn, name)
            if isinstance(ref, int):
                return _read(conn, name, ref)
            if ref == "latest":
                return _read(conn, name, latest)
            a = s.dataset_aliases
            query = select(a.c.alias, a.c.version).where(a.c.name == name)
            aliases = {alias: held for alias, held in conn.execute(query)}
            if ref not in aliases:
                held = ", ".join(sorted(aliases)) or "none"
                raise NotFound(
                    f"dataset {name!r} has no alias {ref!r}; its versions are 1 to {latest} "
                    f"(or 'latest') and its aliases: {held}"
                )
            return _read(conn, name, aliases[ref])

    def list_datasets(self, max_results: int = 1000) -> list[DatasetVersion]:
        """Return the latest version of every dataset, by name."""
        check_max_results(max_results, MAX_SEARCH_RESULTS)
        v, n = s.dataset_versions, s.dataset_names
        query = (
            select(v)
            .join(n, (n.c.name == v.c.name) & (n.c.latest_version == v.c.version))
            .order_by(v.c.name)
            .limit(max_results)
        )
        with read_transaction(self.engine) as conn:
            return _decorate(conn, conn.execute(query).all())

    def versions(self, name: str) -> list[DatasetVersion]:
        """Return every version of `name`, newest first (NotFound if the name has none)."""
        name = validate_dataset_name(name)
        v = s.dataset_versions
        query = select(v).where(v.c.name == name).order_by(v.c.version.desc())
        with read_transaction(self.engine) as conn:
            _latest(conn, name)
            return _decorate(conn, conn.execute(query).all())

    def set_tag(
        self, name: str, version: int, key: str, value: str, username: str | None = None
    ) -> None:
        """Set a tag on `name@version`."""
        name, version = validate_dataset_name(name), validate_dataset_version(version)
        key, value = validate_dataset_tag(key, value)
        row = {"name": name, "version": version, "key": key, "value": value}
        username = _who(username)
        with write_transaction(self.engine) as conn:
            _read(conn, name, version, lock=True)
            upsert(conn, s.dataset_tags, [row], ["name", "version", "key"], ["value"])
            _record(conn, username, "set_tag", name, version, {"key": key, "value": value})

    def delete_tag(self, name: str, version: int, key: str, username: str | None = None) -> None:
        """Remove a tag from `name@version` (NotFound if it is not set)."""
        name, version = validate_dataset_name(name), validate_dataset_version(version)
        key = validate_key(key, "tag key")
        t = s.dataset_tags
        username = _who(username)
        with write_transaction(self.engine) as conn:
            _read(conn, name, version, lock=True)
            where = (t.c.name == name) & (t.c.version == version) & (t.c.key == key)
            if conn.execute(delete(t).where(where)).rowcount != 1:
                raise NotFound(f"{name}@{version} has no tag {key!r}")
            _record(conn, username, "delete_tag", name, version, {"key": key})

    def set_alias(self, name: str, alias: str, version: int, username: str | None = None) -> None:
        """Point `name@alias` at `version`, moving it if it pointed elsewhere."""
        name, alias = validate_dataset_name(name), validate_dataset_alias(alias)
        version = validate_dataset_version(version)
        a = s.dataset_aliases
        username = _who(username)
        with write_transaction(self.engine) as conn:
            _read(conn, name, version, lock=True)
            held = conn.execute(
                select(a.c.version).where(a.c.name == name, a.c.alias == alias)
            ).scalar()
            if held == version:
                return  # already there: nothing moved, so no event
            row = {"name": name, "alias": alias, "version": version, "updated_time": now_ms()}
            upsert(conn, a, [row], ["name", "alias"], ["version", "updated_time"])
            detail = {"alias": alias, "from": held, "to": version}
            _record(conn, username, "set_alias", name, version, detail)

    def delete_alias(self, name: str, alias: str, username: str | None = None) -> None:
        """Remove the alias (NotFound if it is not set)."""
        name, alias = validate_dataset_name(name), validate_dataset_alias(alias)
        a = s.dataset_aliases
        where = (a.c.name == name) & (a.c.alias == alias)
        username = _who(username)
        with write_transaction(self.engine) as conn:
            _latest(conn, name, lock=True)
            held = conn.execute(select(a.c.version).where(where)).scalar()
            if held is None:
                raise NotFound(f"dataset {name!r} has no alias {alias!r}")
            conn.execute(delete(a).where(where))
            _record(conn, username, "delete_alias", name, held, {"alias": alias, "version": held})

    def set_contract(
        self, name: str, version: int, contract: dict[str, Any], username: str | None = None
    ) -> None:
        """Attach the validation contract (a `Contract.to_dict()`) to `name@version`."""
        name, version = validate_dataset_name(name), validate_dataset_version(version)
        text = json.dumps(validate_dataset_contract(contract), separators=(",", ":"))
        v = s.dataset_versions
        username = _who(username)
        with write_transaction(self.engine) as conn:
            before = _read(conn, name, version, lock=True)
            conn.execute(
                update(v).where(v.c.name == name, v.c.version == version).values(contract=text)
            )
            detail = {"replaced": before.contract is not None}
            _record(conn, username, "set_contract", name, version, detail)

    def derived_from(self, name: str, version: int) -> list[DatasetVersion]:
        """Return the versions that list `name@version` among their parents, by name and number."""
        name, version = validate_dataset_name(name), validate_dataset_version(version)
        v, p = s.dataset_versions, s.dataset_parents
        query = (
            select(v)
            .join(p, (p.c.name == v.c.name) & (p.c.version == v.c.version))
            .where(p.c.parent_name == name, p.c.parent_version == version)
            .order_by(v.c.name, v.c.version)
        )
        with read_transaction(self.engine) as conn:
            _read(conn, name, version)
            return _decorate(conn, conn.execute(query).all())

    def readers(self, name: str, version: int) -> list[tuple[str, str | None]]:
        """Return (run_id, context) of every run that logged `name@version`, by run and context.

        A run reads the version when one of its dataset inputs has the version's digest,
        whatever name the input was logged under.
        """
        name, version = validate_dataset_name(name), validate_dataset_version(version)
        ri = s.run_inputs
        with read_transaction(self.engine) as conn:
            digest = _read(conn, name, version).digest
            query = (
                select(ri.c.run_uuid, ri.c.context)
                .where(ri.c.dataset_digest == digest)
                .distinct()
                .order_by(ri.c.run_uuid, ri.c.context)
            )
            return [(run_id, context or None) for run_id, context in conn.execute(query)]

    def events(self, name: str, limit: int = 100) -> list[DatasetEvent]:
        """Return the dataset's events, newest first."""
        name, limit = validate_dataset_name(name), validate_event_limit(limit)
        e = s.dataset_events
        query = select(e).where(e.c.name == name).order_by(e.c.event_id.desc()).limit(limit)
        with read_transaction(self.engine) as conn:
            rows = conn.execute(query).all()
            if not rows:
                _latest(conn, name)
        return [
            DatasetEvent(
                row.event_id,
                row.time,
                row.username,
                row.action,
                row.name,
                row.version,
                json.loads(row.detail),
            )
            for row in rows
        ]
