"""`perennia deploy`: create, inspect and change deployments of registered models."""

from __future__ import annotations

import json

import typer

from perennia.cli.common import use_tracking_uri
from perennia.cli.output import console, fmt_time, key_values, table
from perennia.errors import InvalidInput

app = typer.Typer(
    help="Deployments: create, list, show, set, canary, shadow, ab, switch, promote, rollback, "
    "delete, history.",
    no_args_is_help=True,
)

_STATE_STYLES = {
    "stable": "green",
    "progressing": "cyan",
    "paused": "yellow",
    "promoted": "green",
    "rolled_back": "red",
}


def _sdk():
    from perennia.registry import deployments

    use_tracking_uri()
    return deployments


def _numbers(text: str, option: str) -> list[float]:
    """Return the numbers of a comma-separated list such as '5,25,50,100'."""
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise InvalidInput(f"{option} must be numbers separated by commas, got {text!r}") from None


def _weights(text: str) -> dict[str, float]:
    """Return {variant: weight} from 'stable=90,canary=10'."""
    weights = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        try:
            weights[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise InvalidInput(
                f"--weights takes variant=weight pairs such as stable=90,canary=10, got {part!r}"
            )
    return weights


def _state(value: str) -> str:
    style = _STATE_STYLES.get(value, "white")
    return f"[{style}]{value}[/{style}]"


def _share(name: str, version: int, weight: float, is_shadow: bool) -> str:
    return f"{name}→v{version} " + ("shadow" if is_shadow else f"{weight:g}%")


def _summary(d) -> str:
    return ", ".join(_share(v.name, v.version, v.weight, v.shadow) for v in d.variants)


def _print_change(d, verb: str) -> None:
    console.print(
        f"{verb} [bold]{d.name}[/bold] (revision {d.revision}, {_state(d.state)}): {_summary(d)}"
    )


@app.command("create")
def create(
    name: str = typer.Argument(..., help="Deployment name."),
    model: str = typer.Option(..., "--model", "-m", help="Registered model to serve."),
    version: int = typer.Option(..., "--version", "-v", help="Version taking all traffic."),
    strategy: str = typer.Option(
        "single", "--strategy", help="single, blue-green, canary, ab or shadow."
    ),
    alias: str = typer.Option(
        "champion", "--alias", help="Registry alias that follows the stable version."
    ),
    no_alias: bool = typer.Option(False, "--no-alias", help="Leave the registry's aliases alone."),
    description: str = typer.Option("", "--description", help="What the deployment is for."),
) -> None:
    """Create deployment NAME serving VERSION of MODEL to all traffic."""
    created = _sdk().create_deployment(
        name,
        model,
        version,
        strategy=strategy,
        alias=None if no_alias else alias,
        description=description,
    )
    _print_change(created, "created")


@app.command("list")
def list_(
    model: str = typer.Option(None, "--model", "-m", help="Only deployments of this model."),
) -> None:
    """List deployments with their variants and rollout state."""
    rows = [
        (
            d.name,
            d.model_name,
            d.strategy,
            _state(d.state),
            _summary(d),
            str(d.revision),
            fmt_time(d.last_updated_time),
        )
        for d in _sdk().list_deployments(model)
    ]
    headers = ["name", "model", "strategy", "state", "variants", "revision", "updated"]
    console.print(table("Deployments", headers, rows, no_wrap=1))


@app.command("show")
def show(name: str = typer.Argument(..., help="Deployment name.")) -> None:
    """Show a deployment: its variants and weights, rollout state, policy and batching."""
    d = _sdk().get_deployment(name)
    values = {
        "model": d.model_name,
        "strategy": d.strategy,
        "state": _state(d.state),
        "revision": d.revision,
        "alias": d.alias or "",
        "batching": "off"
        if not d.batching.enabled
        else f"up to {d.batching.max_batch_size} rows, {d.batching.max_wait_ms:g} ms",
        "created": f"{fmt_time(d.creation_time)} by {d.created_by or 'unknown'}",
        "updated": fmt_time(d.last_updated_time),
    }
    if d.sticky_header:
        values["sticky header"] = d.sticky_header
    if d.policy is not None:
        steps = ", ".join(f"{s:g}" for s in d.policy.steps)
        values["canary steps"] = f"{steps} (now step {d.step + 1})"
    if d.previous:
        values["previous"] = ", ".join(f"{v.name}→v{v.version}" for v in d.previous)
    if d.description:
        values["description"] = d.description
    console.print(key_values(d.name, values, sort=False))
    rows = [
        (v.name, str(v.version), "shadow" if v.shadow else f"{v.weight:g}%") for v in d.variants
    ]
    console.print(table("Variants", ["variant", "version", "traffic"], rows, no_wrap=1))


@app.command("set")
def set_(
    name: str = typer.Argument(..., help="Deployment name."),
    weights: str = typer.Option(
        ...,
        "--weights",
        "-w",
        help="variant=weight pairs summing to 100, e.g. stable=90,canary=10.",
    ),
) -> None:
    """Change the traffic weights of NAME's variants."""
    _print_change(_sdk().set_traffic(name, _weights(weights)), "updated")


@app.command("canary")
def canary(
    name: str = typer.Argument(..., help="Deployment name."),
    version: int = typer.Argument(..., help="Version to canary."),
    steps: str = typer.Option(
        "5,25,50,100", "--steps", help="Canary weights in percent, increasing, ending at 100."
    ),
) -> None:
    """Start a canary of VERSION: its weight steps up, analysed between steps."""
    from perennia.entities.deployment import CanaryPolicy

    policy = CanaryPolicy(steps=tuple(_numbers(steps, "--steps")))
    _print_change(_sdk().start_canary(name, version, policy), "canary started on")


@app.command("shadow")
def shadow(
    name: str = typer.Argument(..., help="Deployment name."),
    version: int = typer.Argument(..., help="Version to shadow the stable one."),
) -> None:
    """Send VERSION a copy of NAME's traffic; its answers are logged, never returned."""
    _print_change(_sdk().start_shadow(name, version), "shadow started on")


@app.command("ab")
def ab(
    name: str = typer.Argument(..., help="Deployment name."),
    version: int = typer.Argument(..., help="Challenger version."),
    split: float = typer.Option(50.0, "--split", help="Challenger's share of traffic, percent."),
    sticky_header: str = typer.Option(
        "x-user-id", "--sticky-header", help="Request header whose value picks the variant."
    ),
) -> None:
    """Start an A/B test: VERSION gets SPLIT percent, each key always the same variant."""
    _print_change(_sdk().start_ab(name, version, split, sticky_header), "A/B test started on")


@app.command("switch")
def switch(
    name: str = typer.Argument(..., help="Deployment name."),
    version: int = typer.Argument(..., help="Version to take all traffic."),
) -> None:
    """Switch NAME to VERSION at once (blue-green); `rollback` switches back."""
    _print_change(_sdk().switch(name, version), "switched")


@app.command("promote")
def promote(
    name: str = typer.Argument(..., help="Deployment name."),
    variant: str = typer.Option(None, "--variant", help="Variant to promote (if several)."),
) -> None:
    """Make the challenger NAME's sole stable variant (the alias follows it)."""
    _print_change(_sdk().promote(name, variant), "promoted")


@app.command("rollback")
def rollback(
    name: str = typer.Argument(..., help="Deployment name."),
    reason: str = typer.Option(None, "--reason", help="Why, recorded in the history."),
) -> None:
    """Drop NAME's challenger, or go back to its previous version."""
    _print_change(_sdk().rollback(name, reason), "rolled back")


@app.command("delete")
def delete(name: str = typer.Argument(..., help="Deployment name.")) -> None:
    """Delete deployment NAME (its history stays in the registry's event log)."""
    _sdk().delete_deployment(name)
    console.print(f"deleted deployment [bold]{name}[/bold]")


@app.command("history")
def history(
    name: str = typer.Argument(..., help="Deployment name."),
    limit: int = typer.Option(50, "--limit"),
) -> None:
    """Show NAME's changes, newest first: who did what, and the variants after it."""
    rows = []
    for e in _sdk().deployment_history(name, limit):
        after = e.after or {}
        variants = ", ".join(
            _share(v["name"], v["version"], v["weight"], v.get("shadow", False))
            for v in after.get("variants", [])
        )
        rows.append(
            (
                fmt_time(e.time),
                e.action.removeprefix("deploy_"),
                e.username or "",
                f"{after.get('state', '')} r{after.get('revision', '')}",
                variants,
                _detail(after.get("detail") or {}),
            )
        )
    headers = ["time", "action", "user", "state", "variants", "detail"]
    console.print(table(f"History of {name}", headers, rows, no_wrap=2))


def _detail(detail: dict) -> str:
    """Return an event's detail in a few words: the reason, or the analysis verdict and why."""
    parts = []
    if detail.get("reason"):
        parts.append(str(detail["reason"]))
    analysis = detail.get("analysis")
    if isinstance(analysis, dict):
        failed = [c["name"] for c in analysis.get("checks", []) if c.get("verdict") != "pass"]
        verdict = f"analysis {analysis.get('verdict', '?')}"
        parts.append(f"{verdict} ({', '.join(failed)})" if failed else verdict)
    rest = {k: v for k, v in detail.items() if k not in ("reason", "analysis")}
    if rest:
        parts.append(json.dumps(rest)[:120])
    return "; ".join(parts)


# Commands whose code lives in modules of their own (they import more than this group needs).
from perennia.cli.deploy_report import advance, report  # noqa: E402
from perennia.cli.packaging import deploy_k8s  # noqa: E402

app.command("report")(report)
app.command("advance")(advance)
app.command("k8s")(deploy_k8s)
