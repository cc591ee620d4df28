"""`perennia deploy report|advance`: what the prediction log says about a deployment's variants."""

from __future__ import annotations

import time

import typer

from perennia.cli.common import state
from perennia.cli.output import console, table


def _location(log_location: str | None) -> str:
    from perennia.config import Settings
    from perennia.data.predlog import default_location

    if log_location:
        return log_location
    settings = Settings.from_env().with_overrides(tracking_uri=state.tracking_uri)
    return default_location(settings)


def _store():
    from perennia.cli.common import client

    return client().store


def report(
    name: str = typer.Argument(..., help="Deployment name."),
    log_location: str | None = typer.Option(
        None, "--log-location", help="Prediction log folder or s3:// prefix (default: the store's)."
    ),
    hours: float = typer.Option(24.0, "--hours", min=0.0, help="How far back to read the log."),
) -> None:
    """Show each variant's traffic, errors and latency, and the strategy's own verdict."""
    from perennia.serving.rollout import read_window

    store = _store()
    deployment = store.deployments.get(name)
    since = int((time.time() - hours * 3600) * 1000)
    if deployment.step_started and deployment.strategy == "canary":
        since = max(since, deployment.step_started)
    window = read_window(_location(log_location), name, since)
    console.print(
        table(
            "Variants",
            ["variant", "shadow", "predictions", "errors", "p50 ms", "p99 ms", "labelled"],
            _variant_rows(window),
            no_wrap=1,
        )
    )
    if deployment.strategy == "canary" and deployment.policy is not None:
        _canary(window, deployment)
    if deployment.strategy == "ab" and len(deployment.live) == 2:
        _ab(window, deployment)
    if deployment.shadows:
        _shadow(window, deployment)


def _variant_rows(window) -> list[tuple[str, ...]]:
    if window.empty:
        return []
    rows = []
    for (variant, shadow), part in window.groupby(["variant", "shadow"]):
        ok = part[part["ok"]]
        labelled = part["ground_truth"].notna().sum() if "ground_truth" in part else 0
        rows.append(
            (
                str(variant),
                "yes" if shadow else "",
                f"{len(part):,}",
                f"{(~part['ok']).mean():.2%}",
                f"{ok['latency_ms'].quantile(0.5):.1f}" if len(ok) else "",
                f"{ok['latency_ms'].quantile(0.99):.1f}" if len(ok) else "",
                f"{labelled:,}",
            )
        )
    return rows


def _canary(window, deployment) -> None:
    from perennia.serving.rollout import analyse_step

    analysis = analyse_step(deployment, window, _store())
    rows = [(c.name, c.verdict, c.detail) for c in analysis.checks]
    console.print(
        table(
            f"Canary step {deployment.step + 1}: {analysis.verdict}",
            ["check", "verdict", "detail"],
            rows,
            no_wrap=2,
        )
    )


def _ab(window, deployment) -> None:
    from perennia.serving.experiments import ab_test

    a, b = (v.name for v in deployment.live)
    result = ab_test(window, a, b)
    console.print(f"A/B ({a} vs {b}): [bold]{result.verdict}[/bold]: {result.detail}")


def _shadow(window, deployment) -> None:
    from perennia.serving.experiments import shadow_agreement

    shadow = deployment.shadows[0].name
    agreement = shadow_agreement(window, primary=deployment.stable.name, shadow=shadow)
    console.print(f"shadow {shadow} vs {deployment.stable.name}: {agreement.detail}")


def advance(
    name: str = typer.Argument(..., help="Deployment name."),
    log_location: str | None = typer.Option(
        None, "--log-location", help="Prediction log folder or s3:// prefix (default: the store's)."
    ),
) -> None:
    """Analyse a canary's current step now and step, promote, roll back or wait."""
    from perennia.serving.rollout import advance as advance_rollout

    decision = advance_rollout(_store(), name, _location(log_location))
    verdict = decision.analysis.get("verdict", "")
    console.print(f"{name}: {decision.action}" + (f" (analysis: {verdict})" if verdict else ""))
