"""The artifact manifest in SQL: which digest each path of a run's artifact tree holds."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, func, select

from perennia.clock import now_ms
from perennia.entities import ArtifactEntry
from perennia.errors import NotFound
from perennia.store.checks import check_artifact_entry
from perennia.store.sql import schema as s
from perennia.store.sql.engine import read_transaction, write_transaction
from perennia.store.sql.runs import require_run
from perennia.store.sql.upsert import upsert
from perennia.store.validation import validate_run_id


class SqlArtifactIndex:
    """The `ArtifactIndex` protocol over SQLAlchemy Core."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(self, run_id: str, entries: Sequence[ArtifactEntry]) -> None:
        """Add or replace manifest entries."""
        checked = [check_artifact_entry(e) for e in entries]
        now = now_ms()
        rows = [
            {
                "run_uuid": run_id,
                "path": e.path,
                "digest": e.digest,
                "size": e.size,
                "created_time": now,
            }
            for e in checked
        ]
        with write_transaction(self.engine) as conn:
            require_run(conn, run_id)
            upsert(
                conn, s.artifacts, rows, ["run_uuid", "path"], ["digest", "size", "created_time"]
            )

    def list(self, run_id: str, prefix: str = "") -> list[ArtifactEntry]:
        """Return the entries under a path prefix, ordered by path."""
        a = s.artifacts
        query = select(a.c.path, a.c.digest, a.c.size).where(a.c.run_uuid == run_id)
        if prefix:
            # A prefix names a directory: match it exactly or as a parent, never "model" for "models/".
            prefix = prefix.rstrip("/")
            query = query.where(
                (a.c.path == prefix) | (func.substr(a.c.path, 1, len(prefix) + 1) == prefix + "/")
            )
        with read_transaction(self.engine) as conn:
            require_run(conn, run_id, writable=False)
            return [ArtifactEntry(p, d, n) for p, d, n in conn.execute(query.order_by(a.c.path))]

    def get(self, run_id: str, path: str) -> ArtifactEntry:
        """Return one entry; NotFound if the run has no such artifact."""
        validate_run_id(run_id)
        a = s.artifacts
        with read_transaction(self.engine) as conn:
            row = conn.execute(
                select(a.c.path, a.c.digest, a.c.size).where(
                    a.c.run_uuid == run_id, a.c.path == path
                )
            ).first()
            if row is None:
                require_run(conn, run_id, writable=False)
                raise NotFound(f"run {run_id!r} has no artifact {path!r}")
        return ArtifactEntry(*row)

    def digests_in_use(self) -> set[str]:
        """Return every digest some run still refers to."""
        with read_transaction(self.engine) as conn:
            return set(conn.execute(select(s.artifacts.c.digest).distinct()).scalars())
