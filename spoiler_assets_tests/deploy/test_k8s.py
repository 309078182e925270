"""deploy/k8s, checked offline: the manifests validate against the Kubernetes API schemas
(kubernetes-validate, strict: unknown fields fail), the RayCluster against a hand-written
subset of KubeRay's CRD schema (raycluster_crd_subset.schema.json: the CRD itself is not
vendored, see its description) with its pod templates against the Kubernetes
PodTemplateSpec, and the Dagster Helm values against the chart's structure as far as it
can be checked without Helm."""

import json
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from spoiler_assets_tests.deploy.files import (
    K8S,
    api_routes,
    compose,
    env_example,
    image_repository,
    k8s_documents,
)

# Kubernetes release the manifests target (schemas shipped by kubernetes-validate).
K8S_VERSION = "1.33"
RAYCLUSTER_SCHEMA = Path(__file__).with_name("raycluster_crd_subset.schema.json")
# Top-level keys of the Dagster chart's values (helm/dagster/schema/.../values.py).
DAGSTER_CHART_KEYS = {
    "dagsterWebserver",
    "dagster-user-deployments",
    "postgresql",
    "generatePostgresqlPasswordSecret",
    "generateCeleryConfigSecret",
    "rabbitmq",
    "redis",
    "flower",
    "ingress",
    "imagePullSecrets",
    "computeLogManager",
    "scheduler",
    "runLauncher",
    "pythonLogs",
    "dagsterDaemon",
    "busybox",
    "migrate",
    "telemetry",
    "serviceAccount",
    "global",
    "retention",
    "concurrency",
    "additionalInstanceConfig",
}
RUN_LAUNCHER_TYPES = {"CeleryK8sRunLauncher", "K8sRunLauncher", "CustomRunLauncher"}


def _objects(kind: str) -> list[dict[str, Any]]:
    return [doc for _, doc in k8s_documents() if doc["kind"] == kind]


def _one(kind: str, name: str) -> dict[str, Any]:
    matches = [doc for doc in _objects(kind) if doc["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} found"
    return matches[0]


def _pod_templates(doc: dict[str, Any]) -> list[dict[str, Any]]:
    if doc["kind"] == "RayCluster":
        spec = doc["spec"]
        return [spec["headGroupSpec"]["template"], *(g["template"] for g in spec["workerGroupSpecs"])]
    template = doc.get("spec", {}).get("template")
    return [template] if template else []


def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for template in _pod_templates(doc) for c in template["spec"]["containers"]]


def _helm_values() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((K8S / "dagster-values.yaml").read_text())
    return loaded


def _compose_image() -> str:
    return image_repository(compose()["services"]["api"]["image"].split(":-", 1)[-1].rstrip("}"))


@pytest.mark.parametrize(
    "path,doc",
    [(p, d) for p, d in k8s_documents() if d["kind"] != "RayCluster"],
    ids=lambda value: (
        value.name if isinstance(value, Path) else f"{value['kind']}/{value['metadata']['name']}"
    ),
)
def test_manifest_validates_against_the_kubernetes_schema(path: Path, doc: dict[str, Any]) -> None:
    try:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        pytest.fail(
            f"{path.name} {doc['kind']}/{doc['metadata']['name']}: {list(error.path)}: {error.message}"
        )


def test_a_broken_manifest_is_refused() -> None:
    # The validator must catch what the test above relies on it to catch.
    deployment = json.loads(json.dumps(_one("Deployment", "spoiler-api")))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["paht"] = "/x"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)


def test_raycluster_validates_against_the_crd_subset() -> None:
    schema = json.loads(RAYCLUSTER_SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    cluster = _one("RayCluster", "spoiler-ray")
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(cluster), key=str)
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]
    broken = json.loads(json.dumps(cluster))
    del broken["spec"]["workerGroupSpecs"][0]["maxReplicas"]
    assert not jsonschema.Draft202012Validator(schema).is_valid(broken), "subset schema too loose"


def test_raycluster_pod_templates_validate_as_pod_templates() -> None:
    for template in _pod_templates(_one("RayCluster", "spoiler-ray")):
        wrapped = {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "t"}, "template": template}
        kubernetes_validate.validate(wrapped, K8S_VERSION, strict=True)


def test_raycluster_has_head_cpu_and_gpu_groups() -> None:
    spec = _one("RayCluster", "spoiler-ray")["spec"]
    groups = {g["groupName"]: g for g in spec["workerGroupSpecs"]}
    assert set(groups) == {"cpu", "gpu"}
    gpu_limits = groups["gpu"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert gpu_limits.get("nvidia.com/gpu") == "1"
    cpu_limits = groups["cpu"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert "nvidia.com/gpu" not in cpu_limits
    # Runs drive Ray from pods of their own: the head schedules no work.
    assert spec["headGroupSpec"]["rayStartParams"]["num-cpus"] == "0"


def test_ray_address_points_at_the_kuberay_head_service() -> None:
    config = _one("ConfigMap", "spoiler-config")["data"]
    host, port = config["RAY_ADDRESS"].split(":")
    assert host == f"{_one('RayCluster', 'spoiler-ray')['metadata']['name']}-head-svc"
    head = _one("RayCluster", "spoiler-ray")["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    assert int(port) in {p["containerPort"] for p in head["ports"]}


def test_api_probes_use_the_api_routes() -> None:
    container = _one("Deployment", "spoiler-api")["spec"]["template"]["spec"]["containers"][0]
    routes = api_routes()
    assert container["livenessProbe"]["httpGet"]["path"] == routes["health"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == routes["ready"] == "/ready"
    hpa = _one("HorizontalPodAutoscaler", "spoiler-api")["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "spoiler-api"}
    assert hpa["minReplicas"] >= 2


def test_services_select_their_pods() -> None:
    workloads = {
        doc["metadata"]["name"]: doc["spec"]["template"]["metadata"]["labels"]
        for kind in ("Deployment", "StatefulSet")
        for doc in _objects(kind)
    }
    for service in _objects("Service"):
        selector = service["spec"]["selector"]
        matching = [n for n, labels in workloads.items() if selector.items() <= labels.items()]
        assert matching, f"Service {service['metadata']['name']} selects no pod"


def test_every_pod_of_ours_runs_the_compose_image() -> None:
    image = _compose_image()
    ours = [c for _, doc in k8s_documents() for c in _containers(doc) if "spoiler" in c["image"]]
    assert len(ours) >= 5
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    renamed = {i["name"]: image_repository(i["newName"]) for i in kustomization["images"]}
    for container in ours:
        assert renamed.get(container["image"]) == image, container["image"]


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    on_disk = {p.name for p, _ in k8s_documents()}
    assert set(kustomization["resources"]) == on_disk


def test_no_secret_object_is_committed() -> None:
    assert not _objects("Secret"), "secrets are created by hand (README, Deploy), never committed"


def test_config_map_keys_are_documented_settings() -> None:
    documented = env_example().keys()
    undocumented = sorted(set(_one("ConfigMap", "spoiler-config")["data"]) - documented)
    assert not undocumented, f"spoiler-config keys missing from deploy/.env.example: {undocumented}"


def test_helm_values_follow_the_chart_structure() -> None:
    values = _helm_values()
    assert set(values) <= DAGSTER_CHART_KEYS, sorted(set(values) - DAGSTER_CHART_KEYS)
    assert values["runLauncher"]["type"] in RUN_LAUNCHER_TYPES
    deployments = values["dagster-user-deployments"]["deployments"]
    assert values["dagster-user-deployments"]["enabled"] is True
    for deployment in deployments:
        assert {"name", "image", "port"} <= set(deployment)
        assert set(deployment["image"]) <= {"repository", "tag", "pullPolicy"}
    assert deployments[0]["codeServerArgs"] == ["--module-name", "spoiler_assets.definitions"]


def test_helm_values_run_the_compose_image_on_the_stack_postgres() -> None:
    values = _helm_values()
    images = [
        values["dagsterWebserver"]["image"],
        values["dagsterDaemon"]["image"],
        *(d["image"] for d in values["dagster-user-deployments"]["deployments"]),
    ]
    assert {image_repository(i["repository"]) for i in images} == {_compose_image()}
    postgres = values["postgresql"]
    assert postgres["enabled"] is False and values["generatePostgresqlPasswordSecret"] is False
    service = _one("Service", postgres["postgresqlHost"])
    assert postgres["service"]["port"] in {p["port"] for p in service["spec"]["ports"]}
    config = _one("ConfigMap", "spoiler-config")["data"]
    assert postgres["postgresqlDatabase"] == config["DAGSTER_PG_DB"]
    assert postgres["postgresqlUsername"] == config["POSTGRES_USER"]
    assert (
        values["computeLogManager"]["config"]["s3ComputeLogManager"]["bucket"] == config["SPOILER_S3_BUCKET"]
    )


def test_postgres_urls_name_the_installed_driver() -> None:
    # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3, which the image does not ship.
    for path in K8S.glob("*.yaml"):
        assert "postgresql://" not in path.read_text(), path.name
    assert _helm_values()["postgresql"]["postgresqlScheme"] == "postgresql+psycopg2"
