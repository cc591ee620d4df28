"""Alembic environment: runs migrations on the connection Perennia hands over."""

from __future__ import annotations

from alembic import context

from perennia.store.sql.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only when alembic is run by hand
    raise RuntimeError(
        "run migrations through `perennia db upgrade`, which supplies the connection"
    )

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
