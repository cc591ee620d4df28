"""`perennia db upgrade`."""

from __future__ import annotations

import typer

from perennia.cli.common import state
from perennia.cli.output import console
from perennia.config import Settings

app = typer.Typer(help="Manage the metadata database.", no_args_is_help=True)


@app.command("upgrade")
def upgrade() -> None:
    """Migrate the metadata database to the newest schema (safe to run repeatedly)."""
    from perennia.store.sql.engine import is_sql_uri
    from perennia.store.sql.migrations import HEAD_REVISION, current_revision
    from perennia.store.sql.store import SqlStore

    uri = (
        Settings.from_env().with_overrides(tracking_uri=state.tracking_uri).resolved_tracking_uri()
    )
    if not is_sql_uri(uri):
        from perennia.errors import InvalidInput

        raise InvalidInput(
            f"{uri!r} is not a database URI; `db upgrade` runs against the database directly"
        )
    store = SqlStore(uri)
    with store.engine.connect() as conn:
        revision = current_revision(conn)
    store.close()
    console.print(f"database at schema revision [bold]{revision}[/bold] (newest: {HEAD_REVISION})")
