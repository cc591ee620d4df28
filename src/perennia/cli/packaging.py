"""`perennia models build-docker` and `perennia deploy k8s`: a model as an image, a deployment
as Kubernetes manifests.

Both only write files (a Docker build context; Kubernetes YAML or JSON) for `docker build` and
`kubectl apply` to take from there: nothing here talks to Docker or to a cluster.
"""

from __future__ import annotations

from pathlib import Path

import typer

from perennia.cli.output import console


def build_docker(
    model_uri: str = typer.Argument(
        ..., help="models:/NAME@ALIAS, models:/NAME/VERSION, runs:/ID/PATH or a package folder."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="New folder for the build context."),
    base_image: str = typer.Option(
        None, "--base-image", help="Base image (default: python:<the package's Python>-slim)."
    ),
    port: int = typer.Option(8080, "--port", min=1, max=65535, help="Port the server listens on."),
    workers: int = typer.Option(2, "--workers", min=1, max=64, help="Server worker processes."),
    allow_pickle: bool = typer.Option(
        False, "--allow-pickle", help="Let the server load a pickle-based package."
    ),
    trust: list[str] = typer.Option(
        None, "--trust", help="Type the skops file may load beyond skops' defaults (repeatable)."
    ),
    wheel: Path = typer.Option(
        None, "--wheel", help="perennia wheel to install (default: built from this checkout)."
    ),
) -> None:
    """Write a Docker build context (Dockerfile, pinned requirements, the verified package)."""
    from perennia.cli.common import use_tracking_uri
    from perennia.serving.containers import build_docker_context, describe

    use_tracking_uri()
    with console.status("Writing the build context (building perennia's wheel)..."):
        context = build_docker_context(
            model_uri,
            out,
            base_image=base_image,
            port=port,
            workers=workers,
            allow_pickle=allow_pickle,
            trusted_types=list(trust or []),
            perennia_wheel=wheel if wheel is not None else "auto",
        )
    facts = describe(context)
    console.print(f"Build context written to {context}")
    console.print(f"  base image  {facts['base_image']}")
    console.print(f"  model       sha256 {facts['model_digest']}")
    console.print(f"  perennia    {', '.join(facts['wheels']) or 'from the package index'}")
    console.print(f"Next: docker build -t IMAGE {context} && docker run -p {port}:{port} IMAGE")


def deploy_k8s(
    name: str = typer.Argument(..., help="Deployment the replicas serve (`perennia deploy`)."),
    image: str = typer.Option(..., "--image", help="Container image with perennia installed."),
    out: Path = typer.Option(
        Path("perennia-k8s.yaml"), "--out", "-o", help="File to write (.yaml, .yml or .json)."
    ),
    replicas: int = typer.Option(2, "--replicas", min=1, help="Replicas to start with."),
    min_replicas: int = typer.Option(None, "--min-replicas", min=1, help="Autoscaler floor."),
    max_replicas: int = typer.Option(10, "--max-replicas", min=1, help="Autoscaler ceiling."),
    target_cpu: int = typer.Option(70, "--target-cpu", min=1, max=100, help="CPU % to scale at."),
    port: int = typer.Option(8080, "--port", min=1, max=65535, help="Container port."),
    workers: int = typer.Option(2, "--workers", min=1, max=64, help="Workers per replica."),
    cpu: str = typer.Option("500m", "--cpu", help="CPU request per replica."),
    memory: str = typer.Option("512Mi", "--memory", help="Memory request per replica."),
    cpu_limit: str = typer.Option("2", "--cpu-limit", help="CPU limit per replica."),
    memory_limit: str = typer.Option("2Gi", "--memory-limit", help="Memory limit per replica."),
    store_secret: str = typer.Option(
        None, "--store-secret", help="Secret whose key `uri` holds PERENNIA_TRACKING_URI."
    ),
    namespace: str = typer.Option(None, "--namespace", "-n", help="Namespace of the objects."),
) -> None:
    """Write Deployment, Service, HorizontalPodAutoscaler and PodDisruptionBudget manifests."""
    from perennia.serving.kubernetes import write_manifests

    path = write_manifests(
        name,
        out=out,
        image=image,
        replicas=replicas,
        port=port,
        workers=workers,
        cpu_request=cpu,
        memory_request=memory,
        cpu_limit=cpu_limit,
        memory_limit=memory_limit,
        min_replicas=min(replicas, max_replicas) if min_replicas is None else min_replicas,
        max_replicas=max_replicas,
        target_cpu=target_cpu,
        store_uri_secret=store_secret,
        namespace=namespace,
    )
    console.print(
        f"Wrote Deployment, Service, HorizontalPodAutoscaler, PodDisruptionBudget to {path}"
    )
    if not store_secret:
        console.print(
            "[yellow]No --store-secret: the image's environment must set PERENNIA_TRACKING_URI.[/]"
        )
    console.print(f"Next: kubectl apply -f {path}")
