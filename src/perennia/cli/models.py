"""`perennia models ...`: the registry from the terminal (list, show, versions, register, aliases)."""

from __future__ import annotations

import json

import typer

from perennia.cli.common import use_tracking_uri
from perennia.cli.output import console, fmt_time, key_values, table

app = typer.Typer(
    help="Registered models: versions, aliases, rollback, lineage.", no_args_is_help=True
)
alias_app = typer.Typer(help="Move or remove a model's aliases.", no_args_is_help=True)
app.add_typer(alias_app, name="alias")


def _registry():
    from perennia import registry

    use_tracking_uri()
    return registry


# MLflow registers a prompt as a registered model carrying this tag.
PROMPT_TAG = "mlflow.prompt.is_prompt"


def is_prompt(model) -> bool:
    """Return True when a registered model is an MLflow prompt, not a model."""
    return str(model.tags.get(PROMPT_TAG, "")).lower() == "true"


@app.command("list")
def list_models(
    name_like: str = typer.Option(None, "--like", help="SQL LIKE pattern on the name."),
    prompts: bool = typer.Option(
        False, "--prompts", help="List the prompts registered through MLflow instead."
    ),
) -> None:
    """List registered models (prompts registered through MLflow are listed with --prompts)."""
    found = _registry().search_registered_models(name_like, max_results=10_000)
    models = [m for m in found if is_prompt(m) == prompts]
    rows = [
        (
            m.name,
            str(m.latest_version or ""),
            ", ".join(f"{a}→v{v}" for a, v in sorted(m.aliases.items())),
            m.owner or "",
            fmt_time(m.last_updated_time),
        )
        for m in models
    ]
    title = "Prompts (registered through MLflow)" if prompts else "Registered models"
    console.print(table(title, ["name", "latest", "aliases", "owner", "updated"], rows, no_wrap=1))
    hidden = len(found) - len(models)
    if hidden and not prompts:
        console.print(f"[dim]{hidden} prompt(s) not shown: `perennia models list --prompts`[/dim]")


@app.command("show")
def show(name: str = typer.Argument(..., help="Registered model name.")) -> None:
    """Show a registered model: description, owner, tags and aliases."""
    model = _registry().get_registered_model(name)
    values = {
        "name": model.name,
        "description": model.description,
        "owner": model.owner or "",
        "latest version": model.latest_version or "",
        "created": fmt_time(model.creation_time),
    }
    values.update({f"tag {k}": v for k, v in model.tags.items()})
    values.update({f"alias {k}": f"version {v}" for k, v in model.aliases.items()})
    console.print(key_values(model.name, values, sort=False))


@app.command("versions")
def versions(name: str = typer.Argument(..., help="Registered model name.")) -> None:
    """List a model's versions, newest first."""
    found = _registry().search_model_versions(name)
    rows = [
        (
            str(v.version),
            v.state,
            v.status,
            ", ".join(v.aliases),
            (v.run_id or "")[:8],
            (v.digest or "")[:12],
            fmt_time(v.creation_time),
        )
        for v in found
    ]
    headers = ["version", "state", "status", "aliases", "run", "digest", "created"]
    console.print(table(f"Versions of {name}", headers, rows, no_wrap=1))


@app.command("register")
def register(
    model_uri: str = typer.Argument(..., help="runs:/<run_id>/<path> of a logged model."),
    name: str = typer.Argument(..., help="Registered model name (created if new)."),
    description: str = typer.Option("", "--description", help="Version description."),
) -> None:
    """Register a logged model as the next version of NAME."""
    version = _registry().register_model(model_uri, name, description=description)
    console.print(f"registered [bold]{name}[/bold] version [bold]{version.version}[/bold]")


@alias_app.command("set")
def alias_set(
    name: str = typer.Argument(...),
    alias: str = typer.Argument(...),
    version: int = typer.Argument(...),
) -> None:
    """Point ALIAS of NAME at VERSION (refused if someone moved it meanwhile)."""
    previous = _registry().set_alias(name, alias, version)
    moved = f" (was version {previous})" if previous is not None else ""
    console.print(f"{name}@{alias} → version {version}{moved}")


@alias_app.command("delete")
def alias_delete(name: str = typer.Argument(...), alias: str = typer.Argument(...)) -> None:
    """Remove ALIAS from NAME."""
    _registry().delete_alias(name, alias)
    console.print(f"removed {name}@{alias}")


@app.command("rollback")
def rollback(name: str = typer.Argument(...), alias: str = typer.Argument(...)) -> None:
    """Move ALIAS back to the version it held before its last move."""
    version = _registry().rollback(name, alias)
    console.print(f"{name}@{alias} rolled back to version {version.version}")


@app.command("archive")
def archive(name: str = typer.Argument(...), version: int = typer.Argument(...)) -> None:
    """Archive a version (refused while an alias points at it)."""
    _registry().archive_model_version(name, version)
    console.print(f"archived {name} version {version}")


@app.command("lineage")
def lineage(
    name: str = typer.Argument(...),
    version: int = typer.Option(..., "--version", "-v", help="Model version."),
    as_json: bool = typer.Option(False, "--json", help="Print the graph as JSON."),
) -> None:
    """Show datasets -> run -> model version -> aliases and approvals."""
    graph = _registry().lineage(name, version)
    if as_json:
        console.print_json(json.dumps(graph))
        return
    from rich.tree import Tree

    mv = graph["model_version"]
    tree = Tree(
        f"[bold]{mv['name']}[/bold] version {mv['version']} ({mv['state']}, digest {str(mv['digest'])[:12]})"
    )
    if graph["aliases"]:
        tree.add("aliases: " + ", ".join(graph["aliases"]))
    run = graph["run"]
    if run:
        branch = tree.add(
            f"run {run['run_id'][:8]} {run['name']} (commit {str(run['git_commit'] or '—')[:10]})"
        )
        for data in graph["datasets"]:
            branch.add(
                f"dataset {data['name']} [{data['context']}] digest {data['digest'][:12]}, {data['rows']} rows"
            )
    for request in graph.get("approvals", []):
        reviews = ", ".join(f"{r['reviewer']} {r['decision']}d" for r in request["reviews"])
        tree.add(
            f"approval {request['request_id']} for @{request['alias']}: "
            f"{request['status']}" + (f" ({reviews})" if reviews else "")
        )
    console.print(tree)


@app.command("history")
def history(name: str = typer.Argument(...), limit: int = typer.Option(50, "--limit")) -> None:
    """Show a model's registry events: who changed what, when, before and after."""
    events = _registry().history(name, limit)
    rows = [
        (
            fmt_time(e.time),
            e.username or "",
            e.action,
            str(e.version or ""),
            json.dumps(e.before) if e.before else "",
            json.dumps(e.after) if e.after else "",
        )
        for e in events
    ]
    headers = ["time", "user", "action", "version", "before", "after"]
    console.print(table(f"History of {name}", headers, rows, no_wrap=4))


# Governance commands (request, approve, reject, policy, card, role) register themselves on `app`.
from perennia.cli import model_governance  # noqa: E402, F401
from perennia.cli.packaging import build_docker  # noqa: E402

app.command("build-docker")(build_docker)
from perennia.cli import model_criteria  # noqa: E402, F401
