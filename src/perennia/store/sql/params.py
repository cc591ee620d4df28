"""Params in SQL: immutable once logged; re-logging the same value is a no-op."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Engine, bindparam, select

from perennia.entities import Param
from perennia.errors import Conflict
from perennia.store.checks import check_params
from perennia.store.sql import schema as s
from perennia.store.sql.engine import write_transaction
from perennia.store.sql.runs import require_run
from perennia.store.sql.upsert import insert_ignore

# Built once: the read-back runs on every batch with params, and building it costs more than running it.
_STORED_PARAMS = select(s.params.c.key, s.params.c.value).where(
    s.params.c.run_uuid == bindparam("run_id"),
    s.params.c.key.in_(bindparam("keys", expanding=True)),
)


def write_params(conn: Connection, run_id: str, params: dict[str, str]) -> None:
    """Insert params inside the caller's transaction; Conflict (rolling it back) on a changed value."""
    if not params:
        return
    insert_ignore(
        conn,
        s.params,
        [{"run_uuid": run_id, "key": k, "value": v} for k, v in sorted(params.items())],
        ["run_uuid", "key"],
    )
    stored = dict(conn.execute(_STORED_PARAMS, {"run_id": run_id, "keys": list(params)}).all())
    changed = [
        (key, stored[key], value) for key, value in params.items() if stored.get(key) != value
    ]
    if changed:
        key, old, new = changed[0]
        raise Conflict(
            f"param {key!r} of run {run_id!r} is already {old!r} and cannot change to {new!r}; "
            "params are immutable: use a new key, a tag, or a new run"
        )


class SqlParamStore:
    """The `ParamStore` protocol over SQLAlchemy Core."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def log(self, run_id: str, params: Sequence[Param]) -> None:
        """Record params; Conflict if a key already holds a different value."""
        clean = check_params(params)
        with write_transaction(self.engine) as conn:
            require_run(conn, run_id)
            write_params(conn, run_id, clean)
