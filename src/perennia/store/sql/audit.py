"""The append-only audit log in SQL: rows are inserted and read, never changed."""

from __future__ import annotations

from sqlalchemy import Engine, insert, select

from perennia.entities import AuditEntry
from perennia.store.sql import schema as s
from perennia.store.sql.engine import read_transaction, write_transaction


class SqlAuditLog:
    """The `AuditLog` protocol over SQLAlchemy Core."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(self, entry: AuditEntry) -> None:
        """Append one entry."""
        with write_transaction(self.engine) as conn:
            conn.execute(
                insert(s.audit_log).values(
                    time=entry.time,
                    username=entry.username,
                    method=entry.method,
                    path=entry.path[:4000],
                    target=entry.target,
                    status=entry.status,
                )
            )

    def list(self, limit: int = 100, username: str | None = None) -> list[AuditEntry]:
        """Return the newest entries first."""
        a = s.audit_log
        query = select(a).order_by(a.c.entry_id.desc()).limit(max(1, min(int(limit), 100_000)))
        if username is not None:
            query = query.where(a.c.username == username)
        with read_transaction(self.engine) as conn:
            rows = conn.execute(query).all()
        return [AuditEntry(r.time, r.username, r.method, r.path, r.target, r.status) for r in rows]
