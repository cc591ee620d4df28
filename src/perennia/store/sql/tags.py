"""Run tags in SQL: mutable key/value annotations."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Engine, delete

from perennia.entities import RunTag
from perennia.errors import NotFound
from perennia.store.checks import check_tags
from perennia.store.sql import schema as s
from perennia.store.sql.engine import write_transaction
from perennia.store.sql.runs import require_run
from perennia.store.sql.upsert import upsert
from perennia.store.validation import validate_key


def write_tags(conn: Connection, run_id: str, tags: dict[str, str]) -> None:
    """Insert or overwrite tags inside the caller's transaction."""
    upsert(
        conn,
        s.tags,
        [{"run_uuid": run_id, "key": k, "value": v} for k, v in sorted(tags.items())],
        ["run_uuid", "key"],
        ["value"],
    )


class SqlTagStore:
    """The `TagStore` protocol over SQLAlchemy Core."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def set(self, run_id: str, tags: Sequence[RunTag]) -> None:
        """Set (insert or overwrite) tags."""
        clean = check_tags(tags)
        with write_transaction(self.engine) as conn:
            require_run(conn, run_id)
            write_tags(conn, run_id, clean)

    def delete(self, run_id: str, key: str) -> None:
        """Delete one tag; NotFound if it is not set."""
        key = validate_key(key, "tag key")
        with write_transaction(self.engine) as conn:
            require_run(conn, run_id)
            result = conn.execute(
                delete(s.tags).where(s.tags.c.run_uuid == run_id, s.tags.c.key == key)
            )
            if not result.rowcount:
                raise NotFound(f"run {run_id!r} has no tag {key!r}")
