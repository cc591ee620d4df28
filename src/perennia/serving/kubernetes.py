"""Kubernetes manifests for N stateless replicas of `perennia serve --deployment NAME`.

Replicas keep no state of their own: each reads its deployment (variants, weights, versions)
from the tracking store named by `PERENNIA_TRACKING_URI`, taken from a Secret, so any replica
can be killed, added or rescheduled. The manifests:

- Deployment: rolling update that never drops below the desired count (maxUnavailable 0);
  readiness on /v2/health/ready (a replica takes traffic only once its model is loaded),
  liveness on /v2/health/live, a startup probe that allows a slow first load; on shutdown a
  preStop sleep keeps the pod serving while endpoints controllers and load balancers stop
  sending it traffic, then the server drains in-flight requests within the grace period.
- Service (ClusterIP), HorizontalPodAutoscaler (autoscaling/v2, CPU utilisation) and a
  PodDisruptionBudget so voluntary evictions (node drains) keep at least one replica up.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from perennia.errors import InvalidInput, NotFound
from perennia.serving.containers import USER_ID

_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
# A Secret's name is a DNS subdomain (RFC 1123), its keys letters, digits, '-', '_' and '.'.
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$")
TRACKING_ENV = "PERENNIA_TRACKING_URI"


def resource_name(deployment_name: str) -> str:
    """Return a valid Kubernetes name (DNS label) for a Perennia deployment name."""
    name = re.sub(r"[^a-z0-9-]+", "-", str(deployment_name).lower()).strip("-")
    if name[:1].isdigit():
        name = f"perennia-{name}"  # a Service's name must start with a letter (RFC 1035)
    name = name[:63].strip("-")
    if not name or not _DNS_LABEL.match(name):
        raise InvalidInput(
            f"deployment name {deployment_name!r} gives no valid Kubernetes name; use letters, "
            "digits and dashes"
        )
    return name


def manifests(
    deployment_name: str,
    *,
    image: str,
    replicas: int = 2,
    port: int = 8080,
    workers: int = 2,
    cpu_request: str = "500m",
    memory_request: str = "512Mi",
    cpu_limit: str = "2",
    memory_limit: str = "2Gi",
    min_replicas: int = 2,
    max_replicas: int = 10,
    target_cpu: int = 70,
    store_uri_secret: str | None = None,
    store_uri_key: str = "uri",
    namespace: str | None = None,
    drain_seconds: int = 10,
    grace_seconds: int = 30,
) -> list[dict[str, Any]]:
    """Return [Deployment, Service, HorizontalPodAutoscaler, PodDisruptionBudget] as dicts.

    `store_uri_secret` names a Secret whose `store_uri_key` holds the tracking URI (read into
    PERENNIA_TRACKING_URI); without it the image's own environment must provide the store.
    """
    _check(image, replicas, port, workers, min_replicas, max_replicas, target_cpu)
    _check_timing(drain_seconds, grace_seconds)
    for label, value in (
        ("cpu_request", cpu_request),
        ("memory_request", memory_request),
        ("cpu_limit", cpu_limit),
        ("memory_limit", memory_limit),
    ):
        if not _QUANTITY.match(str(value)):
            raise InvalidInput(f"{label} {value!r} is not a Kubernetes quantity (e.g. 500m, 1Gi)")
    name = resource_name(deployment_name)
    # A Deployment's selector cannot change once applied: select on name and instance only.
    selector = {"app.kubernetes.io/name": "perennia", "app.kubernetes.io/instance": name}
    labels = {**selector, "app.kubernetes.io/component": "inference"}
    meta = {"name": name, "labels": labels, **({"namespace": namespace} if namespace else {})}
    resources = {
        "requests": {"cpu": str(cpu_request), "memory": str(memory_request)},
        "limits": {"cpu": str(cpu_limit), "memory": str(memory_limit)},
    }
    container = _container(deployment_name, image, port, workers, resources, drain_seconds)
    if store_uri_secret:
        _check_secret(store_uri_secret, store_uri_key)
        container["env"].append(
            {
                "name": TRACKING_ENV,
                "valueFrom": {"secretKeyRef": {"name": store_uri_secret, "key": store_uri_key}},
            }
        )
    deployment = _deployment(meta, labels, selector, container, replicas, port, grace_seconds)
    return [
        deployment,
        _service(meta, selector),
        _autoscaler(meta, name, min_replicas, max_replicas, target_cpu),
        _budget(meta, selector, min_replicas),
    ]


def _check(
    image: str, replicas: int, port: int, workers: int, low: int, high: int, cpu: int
) -> None:
    if not image or any(ch.isspace() for ch in str(image)):
        raise InvalidInput(f"image must name a container image (registry/name:tag), got {image!r}")
    for label, value, least in (("replicas", replicas, 1), ("workers", workers, 1)):
        if not isinstance(value, int) or value < least:
            raise InvalidInput(f"{label} must be an integer >= {least}, got {value!r}")
    if not (isinstance(port, int) and 1 <= port <= 65535):
        raise InvalidInput(f"port must be an integer from 1 to 65535, got {port!r}")
    if not (isinstance(low, int) and isinstance(high, int) and 1 <= low <= high):
        raise InvalidInput(
            f"min_replicas and max_replicas must satisfy 1 <= min <= max, got {low!r} and {high!r}"
        )
    if not low <= replicas <= high:
        raise InvalidInput(f"replicas {replicas} must lie between min {low} and max {high}")
    if not (isinstance(cpu, int) and 1 <= cpu <= 100):
        raise InvalidInput(f"target_cpu must be a percentage from 1 to 100, got {cpu!r}")


def _check_secret(name: str, key: str) -> None:
    if len(name) > 253 or not _SUBDOMAIN.fullmatch(name):
        raise InvalidInput(
            f"store_uri_secret {name!r} is not a Secret name; use lowercase letters, digits, "
            "'-' and '.', starting and ending with a letter or digit"
        )
    if len(key) > 253 or not _SECRET_KEY.fullmatch(key):
        raise InvalidInput(
            f"store_uri_key {key!r} is not a Secret key; use letters, digits, '-', '_' and '.'"
        )


def _check_timing(drain: int, grace: int) -> None:
    if not (isinstance(drain, int) and drain >= 0):
        raise InvalidInput(f"drain_seconds must be an integer >= 0, got {drain!r}")
    if not (isinstance(grace, int) and grace > drain):
        raise InvalidInput(
            f"grace_seconds ({grace!r}) must exceed drain_seconds ({drain}): the server needs "
            "time after the preStop sleep to finish in-flight requests"
        )


def _container(
    deployment: str, image: str, port: int, workers: int, resources: dict, drain: int
) -> dict[str, Any]:
    """Return the serving container: `perennia serve --deployment NAME` with its probes."""

    def probe(path: str, **extra: int) -> dict[str, Any]:
        return {"httpGet": {"path": path, "port": "http"}, "timeoutSeconds": 2, **extra}

    return {
        "name": "server",
        "image": image,
        "command": ["perennia"],
        "args": [
            "serve",
            "--deployment",
            deployment,
            "--host",
            "0.0.0.0",
            "--port",
            str(port),
            "--workers",
            str(workers),
            # Pods listen on every interface; callers sign in with a token of the store's users
            # (probes and /metrics stay open), so the Service never exposes an open model.
            "--auth",
        ],
        "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
        "env": [{"name": "PYTHONUNBUFFERED", "value": "1"}],
        "resources": resources,
        "startupProbe": probe("/v2/health/live", periodSeconds=2, failureThreshold=90),
        "readinessProbe": probe("/v2/health/ready", periodSeconds=5, failureThreshold=2),
        "livenessProbe": probe("/v2/health/live", periodSeconds=10, failureThreshold=3),
        # Endpoint removal propagates to proxies and load balancers asynchronously: keep
        # serving for a while before SIGTERM so no new request reaches a closed socket.
        "lifecycle": {"preStop": {"exec": {"command": ["sleep", str(drain)]}}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }


def _deployment(
    meta: dict, labels: dict, selector: dict, container: dict, replicas: int, port: int, grace: int
) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": selector},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
            },
            "template": {
                "metadata": {
                    "labels": labels,
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(port),
                        "prometheus.io/path": "/metrics",
                    },
                },
                "spec": {
                    "terminationGracePeriodSeconds": grace,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": USER_ID,
                        "runAsGroup": USER_ID,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container],
                },
            },
        },
    }


def _service(meta: dict, selector: dict) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {
            "type": "ClusterIP",
            "selector": selector,
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def _autoscaler(meta: dict, name: str, low: int, high: int, cpu: int) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta,
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": low,
            "maxReplicas": high,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": cpu},
                    },
                }
            ],
            # Scale down slowly: a model replica is costly to warm up again.
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}},
        },
    }


def _budget(meta: dict, selector: dict, low: int) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": meta,
        "spec": {"minAvailable": max(1, low - 1), "selector": {"matchLabels": selector}},
    }


def write_manifests(deployment_name: str, *, out: str | Path, **options: Any) -> Path:
    """Write the manifests to `out` (multi-document YAML, or a JSON List for .json); return it."""
    path = Path(out)
    if not path.parent.is_dir():
        raise NotFound(f"folder {str(path.parent)!r} does not exist; create it first")
    documents = manifests(deployment_name, **options)
    if path.suffix.lower() == ".json":
        text = json.dumps({"apiVersion": "v1", "kind": "List", "items": documents}, indent=2)
    elif path.suffix.lower() in (".yaml", ".yml"):
        text = to_yaml(documents)
    else:
        raise InvalidInput(f"out {str(path)!r} must end in .yaml, .yml or .json")
    path.write_text(text + "\n", encoding="utf-8")
    return path


def to_yaml(documents: list[dict[str, Any]]) -> str:
    """Return the documents as multi-document YAML (JSON documents when PyYAML is missing)."""
    try:
        import yaml
    except ImportError:  # YAML is a superset of JSON, so kubectl reads these too
        return "\n---\n".join(json.dumps(doc, indent=2) for doc in documents)
    return yaml.safe_dump_all(documents, sort_keys=False, default_flow_style=False).rstrip()
