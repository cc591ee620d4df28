"""`perennia users`, `perennia tokens` and `perennia audit`: who may use the server, and what they did.

These commands talk to the metadata database directly (`--tracking-uri`), as an administrator
on the server's machine would.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from perennia.cli.common import state
from perennia.cli.output import console, fmt_time, table
from perennia.config import Settings
from perennia.errors import InvalidInput

if TYPE_CHECKING:
    from perennia.store.sql.store import SqlStore

users_app = typer.Typer(help="Manage the server's users and their roles.", no_args_is_help=True)
tokens_app = typer.Typer(help="Create and revoke API tokens.", no_args_is_help=True)


def _sql_store() -> SqlStore:
    from perennia.store.sql.engine import is_sql_uri
    from perennia.store.sql.store import SqlStore

    uri = (
        Settings.from_env().with_overrides(tracking_uri=state.tracking_uri).resolved_tracking_uri()
    )
    if not is_sql_uri(uri):
        raise InvalidInput(f"{uri!r} is not a database URI; manage users against the database")
    return SqlStore(uri)


@users_app.command("create")
def create_user(
    username: str,
    admin: bool = typer.Option(False, "--admin", help="Give the server's admin role."),
    password: str = typer.Option(
        ..., prompt=True, hide_input=True, confirmation_prompt=True, help="At least 8 characters."
    ),
) -> None:
    """Create a user (the password is asked for, not echoed)."""
    user = _sql_store().users.create_user(username, password, is_admin=admin)
    console.print(f"created user [bold]{user.username}[/bold]{' (admin)' if admin else ''}")


@users_app.command("list")
def list_users() -> None:
    """List users."""
    rows = [
        (u.username, "yes" if u.is_admin else "", fmt_time(u.creation_time))
        for u in _sql_store().users.list_users()
    ]
    console.print(table("Users", ["user", "admin", "created"], rows, no_wrap=1))


@users_app.command("delete")
def delete_user(username: str) -> None:
    """Delete a user with their tokens and roles."""
    _sql_store().users.delete_user(username)
    console.print(f"deleted user [bold]{username}[/bold]")


@users_app.command("grant")
def grant(
    username: str,
    experiment_id: str,
    role: str = typer.Argument(..., help="viewer, editor, manager, or none to remove"),
) -> None:
    """Give a user a role in one experiment."""
    _sql_store().access.set_role(experiment_id, username, None if role == "none" else role)
    console.print(f"{username} is now {role} in experiment {experiment_id}")


@tokens_app.command("create")
def create_token(
    username: str, name: str = typer.Option("default", "--name", help="What the token is for.")
) -> None:
    """Create an API token and print its secret (shown this once only)."""
    token, secret = _sql_store().users.create_token(username, name)
    console.print(
        f"token {token.token_id} for {username} ({name}); keep this secret, it is not stored:"
    )
    typer.echo(secret)


@tokens_app.command("list")
def list_tokens(username: str | None = typer.Argument(None)) -> None:
    """List tokens (never their secrets)."""
    rows = [
        (
            str(t.token_id),
            t.username,
            t.name,
            fmt_time(t.creation_time),
            fmt_time(t.revoked_time) if t.revoked_time else "",
        )
        for t in _sql_store().users.list_tokens(username)
    ]
    console.print(table("Tokens", ["id", "user", "name", "created", "revoked"], rows, no_wrap=2))


@tokens_app.command("revoke")
def revoke_token(token_id: int) -> None:
    """Revoke a token for good."""
    _sql_store().users.revoke_token(token_id)
    console.print(f"revoked token {token_id}")


def audit(
    limit: int = typer.Option(50, "--limit", min=1, max=100_000),
    user: str | None = typer.Option(None, "--user", help="Only this user's requests."),
    registry: bool = typer.Option(
        False, "--registry", help="List registry changes (with before/after) instead."
    ),
) -> None:
    """List the newest mutating requests the server answered (or, --registry, registry changes)."""
    if registry:
        _registry_audit(limit, user)
        return
    entries = _sql_store().audit.list(limit, user)
    rows = [
        (fmt_time(e.time), e.username or "-", e.method, e.path, e.target or "", str(e.status))
        for e in entries
    ]
    console.print(table("Audit log", ["time", "user", "method", "path", "target", "status"], rows))
    if not entries:
        # Embedded writes go straight to the database: there is no request to audit.
        console.print(
            "[dim]The audit log records requests answered by `perennia server`; writes made "
            "directly to the store (the embedded default) are not in it. Registry changes are: "
            "`perennia audit --registry`.[/dim]"
        )


def _registry_audit(limit: int, user: str | None) -> None:
    import json

    events = _sql_store().registry.events(None, limit if user is None else 100_000)
    if user is not None:
        events = [e for e in events if e.username == user][:limit]
    rows = [
        (
            fmt_time(e.time),
            e.username or "-",
            e.action,
            e.model_name,
            str(e.version or ""),
            json.dumps(e.before) if e.before else "",
            json.dumps(e.after) if e.after else "",
        )
        for e in events
    ]
    headers = ["time", "user", "action", "model", "version", "before", "after"]
    console.print(table("Registry changes", headers, rows, no_wrap=3))
