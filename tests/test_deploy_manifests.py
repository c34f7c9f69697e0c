"""The Kubernetes manifests and the image in ``deploy/`` agree with each other and the code.

Plain file checks (no cluster): a broken or drifting manifest fails here, not at deploy.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from pentad.components import SERVICE_NAMES

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
COMPONENTS = ("gateway", *SERVICE_NAMES)
CONFIG_MAP = "pentad-config"
SECRET = "pentad-secrets"
IMAGE = "pentad"
PORT = 8000
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


def _resources() -> list[dict[str, Any]]:
    """Every object `kubectl apply -k deploy/k8s` would apply."""
    return [doc for name in _kustomization()["resources"] for doc in _load(K8S / name)]


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
    for path in sorted(K8S.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            assert _load(path), f"{path.name} holds no object"
    assert _kustomization()["kind"] == "Kustomization"


def test_kustomization_lists_exactly_the_manifests_present() -> None:
    listed = _kustomization()["resources"]
    present = {p.name for p in K8S.iterdir() if p.is_file()} - {"kustomization.yaml"} - EXAMPLES
    assert len(listed) == len(set(listed)), "a resource is listed twice"
    assert not set(listed) - present, f"listed but missing: {sorted(set(listed) - present)}"
    assert not present - set(listed), f"present but not listed: {sorted(present - set(listed))}"
    assert not set(listed) & EXAMPLES, "the example Secret must not be applied"


def test_namespace_and_image() -> None:
    kustomization = _kustomization()
    assert kustomization["namespace"] == "pentad"
    assert _one("Namespace", "pentad")
    assert [i["name"] for i in kustomization["images"]] == [IMAGE]


@pytest.mark.parametrize("component", COMPONENTS)
def test_component_deployment(component: str) -> None:
    deployment = _one("Deployment", component)
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    assert spec["replicas"] >= (3 if component == "gateway" else 2)
    assert _matches(spec["selector"]["matchLabels"], _pod_labels(deployment))
    assert pod["securityContext"]["runAsNonRoot"] is True

    [server] = [c for c in pod["containers"] if c["name"] == component]
    assert server["image"] == IMAGE
    assert server["args"] == [component], "the image's entrypoint is `python -m launcher.serve`"
    assert {"name": "http", "containerPort": PORT} in server["ports"]
    assert _env(server)["PENTAD_PORT"]["value"] == str(PORT)
    assert server["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
    assert server["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "http"}
    assert server["resources"]["requests"] and server["resources"]["limits"]

    [migrate] = [c for c in pod["initContainers"] if c["name"] == "migrate"]
    assert migrate["image"] == IMAGE
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
    assert {"name": "http", "port": PORT, "targetPort": "http", "protocol": "TCP"} in service["ports"]
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


def test_kustomize_renders() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed")
    out = subprocess.run([kubectl, "kustomize", str(K8S)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    rendered = [d for d in yaml.safe_load_all(out.stdout) if d]
    assert len(rendered) == len(_resources())
    assert all(d["metadata"].get("namespace") == "pentad" for d in rendered if d["kind"] != "Namespace")
