"""The Kubernetes manifests and the image in ``deploy/`` agree with each other and the code.

No cluster: deploy/k8s is rendered by the pinned kubectl's Kustomize that `make install`
puts in the virtualenv (deploy/tools/install.py), every rendered object is validated
against the Kubernetes API schemas (kubernetes-validate, offline, strict: an unknown field
fails too), and deploy/compose.yaml against the Compose Specification's schema. A broken
or drifting manifest fails here, not at deploy.
"""

from __future__ import annotations

import copy
import functools
import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from pentad.components import SERVICE_NAMES

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
VENV = Path(sys.prefix)
COMPONENTS = ("gateway", *SERVICE_NAMES)
CONFIG_MAP = "pentad-config"
SECRET = "pentad-secrets"
IMAGE = "pentad"
IMAGE_REF = "pentad:0.1.0"  # IMAGE with the kustomization's tag
PORT = 8000
METRICS_PORT = 9090  # on the pod only: no Service or Ingress routes to it
# The cluster versions the manifests must be valid for: the oldest still supported
# upstream when this was written, and the newest kubernetes-validate knows.
KUBERNETES_VERSIONS = ("1.32.0", kubernetes_validate.latest_version())
# Directories that are not a component: the shared base and the naming transformer.
SHARED = {"component", "naming"}
# A template, not applied by `kubectl apply -k`, so it must stay out of the kustomization.
EXAMPLES = {"secret.example.yaml"}


def _load(path: Path) -> list[dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    for doc in docs:
        assert isinstance(doc, dict), f"{path.name}: a document that is not a mapping"
        assert doc.get("apiVersion") and doc.get("kind"), f"{path.name}: apiVersion/kind missing"
        assert doc.get("metadata", {}).get("name"), f"{path.name}: a {doc['kind']} without a name"
    return docs


def _kustomization() -> dict[str, Any]:
    return yaml.safe_load((K8S / "kustomization.yaml").read_text())


def kubectl() -> str:
    """The kubectl `make install` pins; another one only outside a `make install`ed tree."""
    found = shutil.which("kubectl", path=str(VENV / "bin")) or shutil.which("kubectl")
    if found is None:
        pytest.fail("no kubectl: run `make install` (deploy/tools/install.py puts one in the virtualenv)")
    return found


def render(directory: Path) -> list[dict[str, Any]]:
    out = subprocess.run([kubectl(), "kustomize", str(directory)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


@functools.cache
def _rendered() -> tuple[dict[str, Any], ...]:
    return tuple(render(K8S))


def _resources() -> list[dict[str, Any]]:
    """Every object `kubectl apply -k deploy/k8s` would apply (a fresh copy each time)."""
    return copy.deepcopy(list(_rendered()))


def schema_errors(objects: list[dict[str, Any]], version: str) -> list[str]:
    errors = []
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as e:
            errors.append(f"{obj['kind']} {obj['metadata'].get('name')}: {e.message} at {list(e.path)}")
    return errors


def _one(kind: str, name: str) -> dict[str, Any]:
    found = [d for d in _resources() if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name!r}, found {len(found)}"
    return found[0]


def _env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


def _secret_key(container: dict[str, Any], var: str) -> str:
    ref = _env(container)[var]["valueFrom"]["secretKeyRef"]
    assert ref["name"] == SECRET, f"{var} must come from the shared Secret {SECRET!r}"
    return str(ref["key"])


def _config_maps_from(container: dict[str, Any]) -> set[str]:
    return {s["configMapRef"]["name"] for s in container.get("envFrom", []) if "configMapRef" in s}


def _pod_labels(deployment: dict[str, Any]) -> dict[str, str]:
    return dict(deployment["spec"]["template"]["metadata"]["labels"])


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def test_every_manifest_parses() -> None:
    for path in sorted(K8S.rglob("*.yaml")):
        if path.name != "kustomization.yaml":
            assert _load(path), f"{path.relative_to(K8S)} holds no object"
    assert _kustomization()["kind"] == "Kustomization"


def test_kustomization_lists_exactly_the_manifests_present() -> None:
    listed = _kustomization()["resources"]
    files = {p.name for p in K8S.iterdir() if p.is_file()} - {"kustomization.yaml"} - EXAMPLES
    directories = {p.name for p in K8S.iterdir() if p.is_dir()} - SHARED
    present = files | directories
    assert len(listed) == len(set(listed)), "a resource is listed twice"
    assert not set(listed) - present, f"listed but missing: {sorted(set(listed) - present)}"
    assert not present - set(listed), f"present but not listed: {sorted(present - set(listed))}"
    assert not set(listed) & EXAMPLES, "the example Secret must not be applied"
    assert directories == set(COMPONENTS), "one directory per component, named after it"


@pytest.mark.parametrize("component", COMPONENTS)
def test_each_component_is_the_shared_base_plus_its_differences(component: str) -> None:
    kustomization = yaml.safe_load((K8S / component / "kustomization.yaml").read_text())
    assert "../component" in kustomization["resources"]
    assert kustomization["transformers"] == ["../naming"], "names follow the component label"
    [labels] = kustomization["labels"]
    assert labels == {"pairs": {"app.kubernetes.io/component": component}, "includeSelectors": True}
    # Nothing of the base is copied: what a component adds stays small.
    lines = sum(len(p.read_text().splitlines()) for p in (K8S / component).glob("*.yaml"))
    assert lines < 80, f"{component}: {lines} lines; move what is shared into the base"


def test_namespace_and_image() -> None:
    kustomization = _kustomization()
    assert kustomization["namespace"] == "pentad"
    assert _one("Namespace", "pentad")
    assert [i["name"] for i in kustomization["images"]] == [IMAGE]
    assert all(d["metadata"].get("namespace") == "pentad" for d in _resources() if d["kind"] != "Namespace")


def _pod_specs() -> list[tuple[str, dict[str, Any]]]:
    return [(d["metadata"]["name"], d["spec"]["template"]["spec"]) for d in _resources() if d["kind"] == "Deployment"]


def test_every_container_has_resources_and_every_server_its_probes() -> None:
    pods = _pod_specs()
    assert len(pods) == len(COMPONENTS)
    for name, pod in pods:
        for container in pod["containers"] + pod.get("initContainers", []):
            resources = container["resources"]
            assert {"cpu", "memory"} <= resources["requests"].keys(), f"{name}/{container['name']}"
            assert {"cpu", "memory"} <= resources["limits"].keys(), f"{name}/{container['name']}"
        # Init containers run to completion before the pod starts: Kubernetes allows them
        # no probes. Every long-running container has all three.
        for container in pod["containers"]:
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                assert container[probe]["httpGet"]["port"] == "http", f"{name}/{container['name']}: {probe}"


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_rendered_object_is_valid_against_the_kubernetes_api_schemas(version: str) -> None:
    objects = _resources()
    assert {d["kind"] for d in objects} >= {"Namespace", "ConfigMap", "Deployment", "Service",
                                            "PodDisruptionBudget", "HorizontalPodAutoscaler", "Ingress"}
    assert schema_errors(objects, version) == []
    assert schema_errors(_load(K8S / "secret.example.yaml"), version) == []


def test_a_broken_manifest_fails_validation(tmp_path: Path) -> None:
    """The check above can fail: a typo in the base, a wrong type in a component's patch."""
    broken = tmp_path / "k8s"
    shutil.copytree(K8S, broken)
    base = broken / "component" / "deployment.yaml"
    good = base.read_text()
    base.write_text(good.replace("readinessProbe:", "readinesProbe:", 1))
    errors = schema_errors(render(broken), KUBERNETES_VERSIONS[0])
    assert len(errors) == len(COMPONENTS) and all("'readinesProbe' was unexpected" in e for e in errors), errors

    base.write_text(good)
    patch = broken / "gateway" / "deployment.yaml"
    patch.write_text(patch.read_text().replace("replicas: 3", 'replicas: "three"', 1))
    [error] = schema_errors(render(broken), KUBERNETES_VERSIONS[0])
    assert error.startswith("Deployment gateway:") and "'three' is not of type 'integer'" in error

    bad_kustomization = broken / "dmo" / "kustomization.yaml"
    bad_kustomization.write_text(bad_kustomization.read_text().replace("../component", "../componnet"))
    out = subprocess.run([kubectl(), "kustomize", str(broken)], capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "componnet" in out.stderr


@pytest.mark.parametrize("component", COMPONENTS)
def test_component_deployment(component: str) -> None:
    deployment = _one("Deployment", component)
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    assert spec["replicas"] >= (3 if component == "gateway" else 2)
    assert _matches(spec["selector"]["matchLabels"], _pod_labels(deployment))
    assert pod["securityContext"]["runAsNonRoot"] is True

    [server] = [c for c in pod["containers"] if c["name"] == component]
    assert server["image"] == IMAGE_REF
    assert server["args"] == [component], "the image's entrypoint is `python -m launcher.serve`"
    assert {"name": "http", "containerPort": PORT} in server["ports"]
    assert _env(server)["PENTAD_PORT"]["value"] == str(PORT)
    assert {"name": "metrics", "containerPort": METRICS_PORT} in server["ports"]
    assert _env(server)["PENTAD_METRICS_PORT"]["value"] == str(METRICS_PORT)
    assert spec["template"]["metadata"]["annotations"]["prometheus.io/port"] == str(METRICS_PORT)
    assert server["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
    assert server["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "http"}
    assert server["resources"]["requests"] and server["resources"]["limits"]

    [migrate] = [c for c in pod["initContainers"] if c["name"] == "migrate"]
    assert migrate["image"] == IMAGE_REF
    assert migrate["command"] == ["pentad", "migrate", "--component", component]

    for container in (server, migrate):
        assert CONFIG_MAP in _config_maps_from(container)
        assert _secret_key(container, "PENTAD_DATABASE_URL") == f"database-url-{component}"
        assert not any("secretRef" in s for s in container.get("envFrom", [])), \
            "take single keys: a service must not see the admin key or other databases"
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True
        assert context["allowPrivilegeEscalation"] is False
    assert _secret_key(server, "PENTAD_SECRET") == "PENTAD_SECRET"
    has_admin_key = "PENTAD_BOOTSTRAP_ADMIN_KEY" in _env(server)
    assert has_admin_key == (component == "gateway"), "only the gateway gets the bootstrap admin key"


@pytest.mark.parametrize("component", COMPONENTS)
def test_component_service_and_disruption_budget(component: str) -> None:
    labels = _pod_labels(_one("Deployment", component))
    service = _one("Service", component)["spec"]
    assert service.get("type", "ClusterIP") == "ClusterIP"
    assert _matches(service["selector"], labels)
    assert service["ports"] == [{"name": "http", "port": PORT, "targetPort": "http", "protocol": "TCP"}]
    budget = _one("PodDisruptionBudget", component)["spec"]
    assert budget["minAvailable"] == 1
    assert _matches(budget["selector"]["matchLabels"], labels)


def test_service_urls_name_every_service_by_its_cluster_dns_name() -> None:
    data = _one("ConfigMap", CONFIG_MAP)["data"]
    urls = json.loads(data["PENTAD_SERVICE_URLS"])
    assert urls == {name: f"http://{name}:{PORT}" for name in SERVICE_NAMES}
    assert data["PENTAD_LOG_FORMAT"] == "json"
    assert data["PENTAD_HOST"] == "0.0.0.0"
    assert all(isinstance(v, str) for v in data.values()), "ConfigMap values must be strings"


def test_example_secret_has_every_key_the_pods_read() -> None:
    [secret] = _load(K8S / "secret.example.yaml")
    assert (secret["kind"], secret["metadata"]["name"]) == ("Secret", SECRET)
    wanted = {"PENTAD_SECRET", "PENTAD_BOOTSTRAP_ADMIN_KEY", *(f"database-url-{c}" for c in COMPONENTS)}
    assert set(secret["stringData"]) == wanted


def test_gateway_autoscaler_and_ingress() -> None:
    hpa = _one("HorizontalPodAutoscaler", "gateway")["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "gateway"}
    assert hpa["minReplicas"] >= _one("Deployment", "gateway")["spec"]["replicas"]
    assert hpa["maxReplicas"] > hpa["minReplicas"]
    [ingress] = [d for d in _resources() if d["kind"] == "Ingress"]
    backends = [p["backend"]["service"] for r in ingress["spec"]["rules"] for p in r["http"]["paths"]]
    assert backends and all(b == {"name": "gateway", "port": {"name": "http"}} for b in backends)


def test_image_copies_every_package_pyproject_builds() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    for pattern in packages["find"]["include"]:
        assert f"COPY {pattern.rstrip('*')}/ " in dockerfile, f"the image would lack {pattern}"
    assert 'ENTRYPOINT ["python", "-m", "launcher.serve"]' in dockerfile
    assert 'CMD ["gateway"]' in dockerfile


def _compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def compose_errors(document: dict[str, Any]) -> list[str]:
    schema = json.loads((VENV / "share" / "pentad" / "compose_spec.json").read_text())
    validator = jsonschema.Draft201909Validator(schema)  # what its $schema names
    return [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(document)]


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    assert compose_errors(_compose()) == []
    broken = _compose()
    broken["services"]["gateway"]["ports"] = "8000:8000"     # a list, not a string
    broken["services"]["dmo"]["restart_policy"] = "always"   # no such key
    assert len(compose_errors(broken)) == 2


def test_compose_runs_every_component_from_the_image_on_postgresql() -> None:
    services = _compose()["services"]
    assert set(services) == {*COMPONENTS, "postgres", "migrate"}
    assert services["migrate"]["entrypoint"] == ["pentad", "migrate"]
    for component in COMPONENTS:
        service = services[component]
        assert service["image"] == "${PENTAD_IMAGE:-pentad:0.1.0}"
        assert service["command"] == [component], "the image's entrypoint is `python -m launcher.serve`"
        assert service["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
        assert "/health/ready" in " ".join(service["healthcheck"]["test"])
        env = service["environment"]
        assert env["PENTAD_DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert "{service}" not in env["PENTAD_DATABASE_URL"], "one database, a schema per component"
        assert json.loads(env["PENTAD_SERVICE_URLS"]) == {n: f"http://{n}:{PORT}" for n in SERVICE_NAMES}
        assert ("PENTAD_BOOTSTRAP_ADMIN_KEY" in env) == (component == "gateway")
        assert ("ports" in service) == (component == "gateway"), "the gateway is the only way in"
