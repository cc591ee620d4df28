"""Kubernetes manifests: valid against the 1.30 schemas (strict), with probes, drain and scaling."""

from __future__ import annotations

import json
from pathlib import Path

import kubernetes_validate
import pytest
import typer
import yaml
from typer.testing import CliRunner

from perennia.errors import InvalidInput, NotFound
from perennia.serving.kubernetes import manifests, resource_name, write_manifests

K8S = "1.30.0"


def _by_kind(documents: list[dict]) -> dict[str, dict]:
    return {doc["kind"]: doc for doc in documents}


def test_every_manifest_validates_strictly_against_the_kubernetes_schemas() -> None:
    documents = manifests(
        "fraud", image="registry.example/fraud:3", store_uri_secret="perennia-store"
    )

    assert [doc["kind"] for doc in documents] == [
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
    ]
    for doc in documents:
        kubernetes_validate.validate(doc, K8S, strict=True)


def test_the_validator_rejects_a_misspelt_field_so_the_check_above_means_something() -> None:
    deployment = manifests("fraud", image="i:1")[0]
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}

    with pytest.raises(kubernetes_validate.ValidationError, match="readinesProbe"):
        kubernetes_validate.validate(deployment, K8S, strict=True)


def test_replicas_serve_the_deployment_with_probes_drain_and_the_store_secret() -> None:
    deployment = _by_kind(
        manifests("fraud", image="i:1", port=9000, store_uri_secret="store", drain_seconds=15)
    )["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]

    assert container["command"] == ["perennia"]
    assert container["args"][:3] == ["serve", "--deployment", "fraud"]
    assert "--auth" in container["args"]  # pods listen on every interface: callers sign in
    assert container["args"][container["args"].index("--port") + 1] == "9000"
    assert container["ports"] == [{"name": "http", "containerPort": 9000, "protocol": "TCP"}]
    assert container["readinessProbe"]["httpGet"] == {"path": "/v2/health/ready", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/v2/health/live", "port": "http"}
    assert container["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "15"]
    assert pod["terminationGracePeriodSeconds"] > 15
    assert {"name": "PERENNIA_TRACKING_URI", "valueFrom": {"secretKeyRef": {"name": "store", "key": "uri"}}} in container["env"]  # fmt: skip
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert pod["securityContext"]["runAsNonRoot"] is True


def test_service_autoscaler_and_budget_select_the_deployment_pods() -> None:
    kinds = _by_kind(manifests("fraud", image="i:1", min_replicas=3, max_replicas=12, replicas=3, target_cpu=60))  # fmt: skip
    pod_labels = kinds["Deployment"]["spec"]["template"]["metadata"]["labels"]

    for selector in (
        kinds["Service"]["spec"]["selector"],
        kinds["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"],
        kinds["Deployment"]["spec"]["selector"]["matchLabels"],
    ):
        assert selector.items() <= pod_labels.items()
    hpa = kinds["HorizontalPodAutoscaler"]["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "fraud"}
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 12)
    assert hpa["metrics"][0]["resource"]["target"]["averageUtilization"] == 60
    assert kinds["PodDisruptionBudget"]["spec"]["minAvailable"] == 2
    assert kinds["Service"]["spec"]["ports"][0]["targetPort"] == "http"


def test_deployment_names_become_valid_kubernetes_names() -> None:
    assert resource_name("Fraud_Detector.v2") == "fraud-detector-v2"
    assert resource_name("3d-model") == "perennia-3d-model"
    documents = manifests("3D_Model", image="i:1")
    assert documents[0]["spec"]["template"]["spec"]["containers"][0]["args"][2] == "3D_Model"
    for doc in documents:
        kubernetes_validate.validate(doc, K8S, strict=True)
    with pytest.raises(InvalidInput, match="gives no valid Kubernetes name"):
        resource_name("___")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"replicas": 0}, "replicas must be an integer >= 1"),
        ({"min_replicas": 5, "max_replicas": 3}, "1 <= min <= max"),
        ({"replicas": 20}, "replicas 20 must lie between min 2 and max 10"),
        ({"target_cpu": 150}, "target_cpu must be a percentage"),
        ({"cpu_request": "lots"}, "cpu_request 'lots' is not a Kubernetes quantity"),
        ({"image": "two words"}, "image must name a container image"),
        ({"drain_seconds": 30, "grace_seconds": 30}, "grace_seconds .* must exceed drain_seconds"),
        (
            {"store_uri_secret": "Perennia_Store"},
            "store_uri_secret 'Perennia_Store' is not a Secret",
        ),
        ({"store_uri_secret": "store", "store_uri_key": "a/b"}, "store_uri_key 'a/b' is not a"),
    ],
)
def test_bad_options_are_refused_naming_the_option(options: dict, message: str) -> None:
    arguments = {"image": "i:1", **options}
    with pytest.raises(InvalidInput, match=message):
        manifests("fraud", **arguments)


def test_write_manifests_gives_yaml_documents_or_a_json_list(tmp_path: Path) -> None:
    as_yaml = write_manifests("fraud", out=tmp_path / "k8s.yaml", image="i:1", namespace="ml")
    as_json = write_manifests("fraud", out=tmp_path / "k8s.json", image="i:1", namespace="ml")

    documents = list(yaml.safe_load_all(as_yaml.read_text()))
    assert documents == manifests("fraud", image="i:1", namespace="ml")
    listing = json.loads(as_json.read_text())
    assert listing["kind"] == "List" and listing["items"] == documents
    for doc in documents:
        assert doc["metadata"]["namespace"] == "ml"
        kubernetes_validate.validate(doc, K8S, strict=True)
    with pytest.raises(InvalidInput, match=r"must end in \.yaml, \.yml or \.json"):
        write_manifests("fraud", out=tmp_path / "k8s.txt", image="i:1")
    with pytest.raises(NotFound, match="does not exist"):
        write_manifests("fraud", out=tmp_path / "missing" / "k8s.yaml", image="i:1")


def test_deploy_k8s_command_writes_valid_manifests(tmp_path: Path) -> None:
    from perennia.cli.packaging import deploy_k8s

    app = typer.Typer()
    app.command("k8s")(deploy_k8s)
    app.callback()(lambda: None)

    result = CliRunner().invoke(
        app,
        ["k8s", "fraud", "--image", "reg/fraud:1", "--replicas", "3", "--max-replicas", "6",
         "--store-secret", "perennia-store", "--out", str(tmp_path / "fraud.yaml")],
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    documents = list(yaml.safe_load_all((tmp_path / "fraud.yaml").read_text()))
    kinds = _by_kind(documents)
    assert kinds["Deployment"]["spec"]["replicas"] == 3
    assert kinds["HorizontalPodAutoscaler"]["spec"]["maxReplicas"] == 6
    for doc in documents:
        kubernetes_validate.validate(doc, K8S, strict=True)
