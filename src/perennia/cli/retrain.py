"""`perennia retrain ...`: Retraining policies and the retrainings they start."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.markup import escape

from perennia.cli.common import parse_params, use_tracking_uri
from perennia.cli.output import console, fmt_time, key_values, table
from perennia.errors import InvalidInput

app = typer.Typer(help="Retraining policies and the retrainings they start.", no_args_is_help=True)

TRIGGER_HELP = (
    "A trigger (repeatable): 'schedule:0 3 * * *', 'new_data:DATASET', 'alert:MONITOR' or "
    "'alert:MONITOR:RULE', 'performance:MONITOR:KEY<BOUND' (e.g. performance:m:realised.f1<0.8)."
)


def _retraining() -> Any:
    use_tracking_uri()
    import perennia.automation.retraining as retraining

    return retraining


def parse_trigger(text: str) -> dict[str, Any]:
    """Return the trigger dict a command-line trigger text describes, or raise InvalidInput."""
    kind, _, rest = text.partition(":")
    if kind == "schedule" and rest.strip():
        return {"kind": "schedule", "cron": rest.strip()}
    if kind == "new_data" and rest:
        return {"kind": "new_data", "dataset": rest}
    if kind == "alert" and rest:
        monitor, _, rule = rest.partition(":")
        return {"kind": "alert", "monitor": monitor, **({"rule": rule} if rule else {})}
    if kind == "performance" and ":" in rest and "<" in rest:
        monitor, _, condition = rest.partition(":")
        metric, _, bound = condition.partition("<")
        try:
            below = float(bound)
        except ValueError:
            raise InvalidInput(
                f"--trigger {text!r}: the bound after '<' must be a number"
            ) from None
        return {"kind": "performance", "monitor": monitor, "metric": metric.strip(), "below": below}
    raise InvalidInput(f"--trigger {text!r} is not understood. {TRIGGER_HELP}")


@app.command("policy-set")
def policy_set(
    model: str = typer.Argument(..., help="The registered model to retrain."),
    pipeline: str = typer.Option(
        ..., "--pipeline", help="Entrypoint: pkg.module:attr or file.py:attr."
    ),
    trigger: list[str] = typer.Option(None, "--trigger", help=TRIGGER_HELP),
    data: str | None = typer.Option(None, "--data", help="Dataset to train on (param `data`)."),
    eval_data: str = typer.Option(..., "--eval-data", help="Fresh labelled dataset to compare on."),
    target: str = typer.Option(..., "--target", help="The label column of --eval-data."),
    param: list[str] = typer.Option(
        None, "--param", help="KEY=VALUE for the pipeline (repeatable)."
    ),
    gate: list[str] = typer.Option(None, "--gate", help="A gate; default: the success criteria."),
    alias: str = typer.Option("champion", "--alias", help="The alias a challenger is promoted to."),
    deployment: str | None = typer.Option(None, "--deployment", help="Canary through it."),
    auto_approve: bool = typer.Option(
        False, "--auto-approve", help="Approve where the alias allows."
    ),
    cooldown: str = typer.Option("1h", "--cooldown", help="Least time between two retrainings."),
) -> None:
    """Set a model's retraining policy (everything it names is checked first)."""
    policy = _retraining().set_policy(
        model,
        pipeline=pipeline,
        triggers=[parse_trigger(t) for t in trigger or []],
        data=data,
        eval_data=eval_data,
        target=target,
        params=parse_params(param),
        gates=list(gate) if gate else None,
        alias=alias,
        deployment=deployment,
        auto_approve=auto_approve,
        cooldown=cooldown,
    )
    console.print(
        f"retraining policy of {escape(policy.model_name)} set: {len(policy.triggers)} trigger(s), "
        f"cooldown {policy.cooldown_ms // 1000} s",
        highlight=False,
    )


@app.command("policy-show")
def policy_show(model: str = typer.Argument(...)) -> None:
    """Show a model's retraining policy and what its triggers saw last."""
    policy = _retraining().get_policy(model)
    config = policy.config
    facts = {
        "pipeline": policy.pipeline,
        "triggers": "; ".join(json.dumps(t) for t in policy.triggers) or "manual only",
        "data": config.get("data") or "",
        "eval data": f"{config.get('eval_data')} (target {config.get('target')})",
        "gates": ", ".join(config.get("gates") or []) or "the model's success criteria",
        "promotion": f"@{config.get('alias')}"
        + (f" via canary on {config['deployment']}" if config.get("deployment") else "")
        + (", auto-approve" if config.get("auto_approve") else ", a reviewer approves"),
        "cooldown": f"{policy.cooldown_ms // 1000} s",
        "enabled": str(policy.enabled),
        "in flight": str(policy.in_flight or ""),
        "last triggered": fmt_time(policy.last_triggered_ms)
        if policy.last_triggered_ms
        else "never",
        "cursor": json.dumps(policy.cursor),
    }
    console.print(
        key_values(
            f"Retraining policy of {escape(policy.model_name)}",
            {k: escape(v) for k, v in facts.items()},
            sort=False,
        )
    )


@app.command("trigger")
def trigger(
    model: str = typer.Argument(...),
    reason: str = typer.Option("manual", "--reason", help="Why, recorded with the retraining."),
    force: bool = typer.Option(
        False, "--force", help="Skip the cooldown and a disabled policy (not the in-flight guard)."
    ),
    wait: bool = typer.Option(False, "--wait", help="Advance it until it ends or awaits approval."),
) -> None:
    """Start a retraining of MODEL now."""
    retraining = _retraining()
    started = retraining.trigger(model, reason=reason, force=force)
    if started is None:
        console.print(
            f"no retraining started: one of {escape(model)} is in flight, the cooldown holds or "
            "the policy is disabled (--force skips the cooldown and a disabled policy)",
            highlight=False,
        )
        raise typer.Exit(1)
    console.print(f"retraining {started.id} of {escape(model)} started", highlight=False)
    if wait:
        _print_one(retraining.run_until_settled(started.id))


@app.command("list")
def list_retrainings(
    model: str | None = typer.Argument(None, help="Only this model's."),
    limit: int = typer.Option(50, "--limit"),
) -> None:
    """List retrainings, newest first."""
    rows = [
        (
            str(r.id),
            escape(r.model_name),
            r.state,
            str(r.trigger.get("kind", "")),
            fmt_time(r.started_ms),
            "" if r.challenger_version is None else f"v{r.challenger_version}",
            escape(r.reason or ""),
        )
        for r in _retraining().list_retrainings(model, limit)
    ]
    console.print(
        table(None, ["id", "model", "state", "trigger", "started", "challenger", "reason"], rows, 2)
    )


@app.command("show")
def show(retraining_id: int = typer.Argument(..., help="The retraining's id.")) -> None:
    """Show a retraining and its events."""
    retraining = _retraining()
    found = retraining.get_retraining(retraining_id)
    _print_one(found)
    rows = [
        (fmt_time(e.time_ms), e.state, escape(e.message))
        for e in retraining.retraining_events(retraining_id)
    ]
    console.print(table("Events", ["time", "state", "what happened"], rows, no_wrap=2))


@app.command("advance")
def advance(retraining_id: int = typer.Argument(...)) -> None:
    """Move a retraining on by one state (it stays put while it must wait)."""
    _print_one(_retraining().advance(retraining_id))


def _print_one(found: Any) -> None:
    facts = {
        "model": found.model_name,
        "state": found.state,
        "trigger": str(found.trigger.get("reason") or found.trigger.get("kind", "")),
        "pipeline run": found.pipeline_run_id or "",
        "challenger": "" if found.challenger_version is None else str(found.challenger_version),
        "champion": "" if found.champion_version is None else str(found.champion_version),
        "approval request": str(found.approval_request_id or ""),
        "deployment": found.deployment or "",
        "reason": found.reason or "",
    }
    console.print(
        key_values(f"Retraining {found.id}", {k: escape(v) for k, v in facts.items()}, sort=False)
    )
