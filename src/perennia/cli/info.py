"""`perennia info`: which store and artifact location this folder uses, and what they hold."""

from __future__ import annotations

import re
from pathlib import Path

from perennia._version import __version__
from perennia.cli.common import state
from perennia.cli.output import console, key_values
from perennia.config import Settings
from perennia.entities import ViewType

_PASSWORD = re.compile(r"(://[^:/@]+):[^@/]+@")


def display_uri(uri: str) -> str:
    """Return `uri` with any password replaced by ***, for printing."""
    return _PASSWORD.sub(r"\1:***@", uri)


def store_line(uri: str) -> str:
    """Return the one-line note naming the store a command read."""
    return f"[dim]store: {display_uri(uri)}[/dim]"


def _default_database(settings: Settings) -> Path | None:
    if settings.tracking_uri:
        return None
    return (settings.home / "perennia.db").resolve()


def info() -> None:
    """Show the version, the store and artifact location in use here, and what they hold."""
    settings = Settings.from_env().with_overrides(tracking_uri=state.tracking_uri)
    uri = settings.resolved_tracking_uri()
    values = {
        "version": __version__,
        "store": display_uri(uri),
        "artifacts": display_uri(settings.resolved_artifacts_uri()),
        "home": str(settings.home.resolve()),
    }
    database = _default_database(settings)
    if database is not None and not database.exists():
        # Reading would create an empty store here; say so instead.
        values["holds"] = "nothing yet: the first run (or `perennia demo`) creates the store"
    else:
        from perennia.cli.common import client

        api = client()
        experiments = api.search_experiments(ViewType.ALL, 1000).items
        runs = api.search_runs([], "", ViewType.ALL, 1000).items
        more = "+" if len(runs) == 1000 else ""
        values["holds"] = f"{len(experiments)} experiments, {len(runs)}{more} runs"
    console.print(key_values("Perennia", values, sort=False))
