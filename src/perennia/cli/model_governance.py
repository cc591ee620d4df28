"""`perennia models request|approve|reject|requests|policy|card|role`: governance from the terminal."""

from __future__ import annotations

import typer

from perennia.cli.models import _registry, app
from perennia.cli.output import console, fmt_time, key_values, table
from perennia.errors import InvalidInput

policy_app = typer.Typer(
    help="Approval policies that guard a model's aliases.", no_args_is_help=True
)
app.add_typer(policy_app, name="policy")
_MARK = {"approve": "✓", "reject": "✗"}


def _show_request(request) -> None:
    status = {"APPLIED": "green", "REJECTED": "red", "PENDING": "yellow"}.get(request.status, "")
    moved = f" ({request.name}@{request.alias} → version {request.version})"
    console.print(
        f"request [bold]{request.request_id}[/bold]: [{status}]{request.status}[/{status}]"
        + (moved if request.status == "APPLIED" else "")
    )
    for need in request.unmet:
        console.print(f"  still needs: {need}")


@app.command("request")
def request(
    name: str = typer.Argument(..., help="Registered model name."),
    version: int = typer.Argument(..., help="Version to point the alias at."),
    alias: str = typer.Argument(..., help="Alias, e.g. champion."),
    comment: str = typer.Option("", "--comment", "-m", help="Why this version."),
) -> None:
    """Ask for ALIAS of NAME to point at VERSION; reviewers approve or reject it."""
    _show_request(_registry().request_approval(name, version, alias, comment=comment))


@app.command("approve")
def approve(
    request_id: int = typer.Argument(..., help="Approval request id (see `models requests`)."),
    comment: str = typer.Option("", "--comment", "-m"),
    reviewer: str = typer.Option(None, "--as", help="Reviewer name (embedded stores only)."),
) -> None:
    """Approve a request; the alias moves once the model's policy holds."""
    _show_request(_registry().approve(request_id, comment=comment, reviewer=reviewer))


@app.command("reject")
def reject(
    request_id: int = typer.Argument(..., help="Approval request id."),
    comment: str = typer.Option("", "--comment", "-m"),
    reviewer: str = typer.Option(None, "--as", help="Reviewer name (embedded stores only)."),
) -> None:
    """Reject a request; the alias stays where it is."""
    _show_request(_registry().reject(request_id, comment=comment, reviewer=reviewer))


@app.command("requests")
def requests(
    name: str = typer.Argument(None, help="Only this model's requests."),
    status: str = typer.Option(None, "--status", help="PENDING, APPLIED, REJECTED or CANCELLED."),
) -> None:
    """List approval requests, newest first."""
    found = _registry().list_approval_requests(name, status)
    rows = [
        (
            str(r.request_id),
            r.name,
            str(r.version),
            r.alias,
            r.status,
            r.requested_by or "",
            ", ".join(f"{v.reviewer} {_MARK[v.decision]}" for v in r.reviews),
            "; ".join(r.unmet),
            fmt_time(r.requested_time),
        )
        for r in found
    ]
    headers = ["id", "model", "version", "alias", "status", "by", "reviews", "needs", "asked"]
    console.print(table("Approval requests", headers, rows, no_wrap=5))


@policy_app.command("set")
def policy_set(
    name: str = typer.Argument(...),
    alias: str = typer.Argument(...),
    approvals: int = typer.Option(1, "--approvals", help="Approvals needed."),
    reviewer_role: str = typer.Option(
        "manager", "--reviewer-role", help="any, viewer, editor, manager or admin."
    ),
    gate: list[str] = typer.Option([], "--gate", help="e.g. 'test_roc_auc >= 0.9' (repeatable)."),
    allow_self_approval: bool = typer.Option(False, "--allow-self-approval"),
) -> None:
    """Guard ALIAS of NAME: it then moves only through approved requests."""
    policy = _registry().set_approval_policy(
        name,
        alias,
        required_approvals=approvals,
        reviewer_role=reviewer_role,
        allow_self_approval=allow_self_approval,
        gates=gate,
    )
    gates = ", ".join(str(g) for g in policy.gates) or "none"
    console.print(
        f"{name}@{alias} needs {policy.required_approvals} approval(s) by a "
        f"{policy.reviewer_role}; gates: {gates}"
    )


@policy_app.command("show")
def policy_show(name: str = typer.Argument(...)) -> None:
    """List the model's approval policies."""
    from perennia.registry.session import current_store as _store

    rows = [
        (
            p.alias,
            ", ".join(str(g) for g in p.gates),
            str(p.required_approvals),
            p.reviewer_role,
            "yes" if p.allow_self_approval else "no",
        )
        for p in _store().approvals.list_policies(name)
    ]
    headers = ["alias", "gates", "approvals", "reviewer", "self-approval"]
    console.print(table(f"Policies of {name}", headers, rows, no_wrap=2))


@policy_app.command("delete")
def policy_delete(name: str = typer.Argument(...), alias: str = typer.Argument(...)) -> None:
    """Remove the policy guarding ALIAS of NAME."""
    from perennia.registry.session import acting_user as _user
    from perennia.registry.session import current_store as _store

    _store().approvals.delete_policy(name, alias, username=_user())
    console.print(f"{name}@{alias} is no longer guarded")


@app.command("card")
def card(
    name: str = typer.Argument(..., help="Registered model name."),
    version: int = typer.Option(None, "--version", "-v", help="Version (default: latest)."),
    set_: list[str] = typer.Option([], "--set", help="Edit a section: key=text (repeatable)."),
    comment: str = typer.Option("", "--comment", "-m", help="Why the card changed."),
    out: str = typer.Option(None, "--out", help="Folder to write the card to."),
) -> None:
    """Write the model card (Markdown and HTML); with --set, edit its sections first."""
    registry = _registry()
    if set_:
        sections = {}
        for item in set_:
            key, sep, text = item.partition("=")
            if not sep:
                raise InvalidInput(
                    f"--set {item!r:.60} must be section=text, e.g. intended_use=..."
                )
            sections[key.strip()] = text
        revision = registry.edit_card(name, comment=comment, **sections)
        console.print(f"card of {name}: revision {revision.revision}")
    markdown, html = registry.write_card(name, version, out)
    console.print(key_values(f"Model card of {name}", {"markdown": markdown, "html": html}))


@app.command("role")
def role(
    name: str = typer.Argument(...),
    username: str = typer.Argument(...),
    role_name: str = typer.Argument(..., metavar="ROLE", help="viewer, editor, manager or none."),
) -> None:
    """Give USERNAME a role on registered model NAME (none removes it)."""
    _registry().set_model_role(name, username, None if role_name == "none" else role_name)
    console.print(f"{username} is {role_name} on {name}")
