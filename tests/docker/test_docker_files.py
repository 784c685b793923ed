"""The images, compose file and Kubernetes manifests in docker/, checked statically.

No daemon and no registry: hadolint, `docker-compose config` and kubernetes-validate read the
files as they are, and each is shown to fail on a broken copy, so a passing check means something.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
BIN = Path(sys.executable).parent  # hadolint and kubernetes-validate come with the dev extra


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BIN": str(BIN), "POSTGRES_PASSWORD": "check-only"}
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, env=env, timeout=60)


def _compose() -> str:
    found = shutil.which("docker-compose")
    assert found, "docker-compose not found: `make setup` installs it (apt-get install docker-compose)"
    return found


def _hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    return _run(BIN / "hadolint", path)


def _compose_config(path: Path) -> subprocess.CompletedProcess[str]:
    return _run(_compose(), "-f", path, "config", "-q")


def _kubernetes_validate(path: Path) -> subprocess.CompletedProcess[str]:
    return _run(BIN / "kubernetes-validate", "--strict", "--quiet", "-k", "1.30.0", path)


def _load(name: str) -> Any:
    return yaml.safe_load((DOCKER / name).read_text())


def test_check_script_passes() -> None:
    _compose()
    done = _run("bash", DOCKER / "check.sh")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "docker/ checks passed" in done.stdout


# Each case: the file, one deliberate mistake in it, the tool that reads it, and what it must say.
# The schemas kubernetes-validate uses carry no enums, so a bad value such as `completionMode:
# Sideways` passes it; test_worker_job_is_indexed checks the values that matter instead.
BROKEN = {
    "dockerfile-latest-tag": (
        "gpu.Dockerfile",
        lambda text: text.replace("tensorflow/tensorflow:2.20.0-gpu", "tensorflow/tensorflow:latest"),
        _hadolint,
        "DL3007",
    ),
    "dockerfile-pip-cache": (
        "cpu.Dockerfile",
        lambda text: text.replace("pip install --no-cache-dir", "pip install"),
        _hadolint,
        "DL3042",
    ),
    "compose-unknown-service-key": (
        "compose.yaml",
        lambda text: text.replace("  postgres:\n", "  postgres:\n    colour: red\n", 1),
        _compose_config,
        "colour",
    ),
    "compose-unknown-condition": (
        "compose.yaml",
        lambda text: text.replace("condition: service_healthy", "condition: service_ready"),
        _compose_config,
        "service_ready",
    ),
    "job-misspelt-field": (
        "k8s/worker-job.yaml",
        lambda text: text.replace("  parallelism: 8", "  paralelism: 8"),
        _kubernetes_validate,
        "paralelism",
    ),
    "job-wrong-type": (
        "k8s/worker-job.yaml",
        lambda text: text.replace("  completions: 8", "  completions: eight"),
        _kubernetes_validate,
        "eight",
    ),
}


@pytest.mark.parametrize("case", BROKEN, ids=list(BROKEN))
def test_a_broken_file_is_caught(case: str, tmp_path: Path) -> None:
    name, breaks, check, expected = BROKEN[case]
    source = DOCKER / name
    assert check(source).returncode == 0, f"{name} must pass before it is broken"

    text = source.read_text()
    broken_text = breaks(text)
    assert broken_text != text, f"{case}: the mistake was not made, {name} changed"
    broken = tmp_path / source.name
    broken.write_text(broken_text)

    done = check(broken)
    assert done.returncode != 0, done.stdout + done.stderr
    assert expected in done.stdout + done.stderr


def _container(manifest: dict[str, Any]) -> dict[str, Any]:
    (container,) = manifest["spec"]["template"]["spec"]["containers"]
    return container


def test_worker_job_is_indexed() -> None:
    """The index reaches the worker as its seed stream, one GPU each, on the shared volume."""
    job = _load("k8s/worker-job.yaml")
    spec, pod = job["spec"], job["spec"]["template"]["spec"]
    assert spec["completionMode"] == "Indexed"
    assert spec["completions"] == spec["parallelism"] == 8
    if "backoffLimitPerIndex" in spec:  # the API server refuses it with any other restartPolicy
        assert pod["restartPolicy"] == "Never"

    container = _container(job)
    env = {item["name"]: item for item in container["env"]}
    field = env["RESSEARCH_WORKER_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"]
    assert field == "metadata.annotations['batch.kubernetes.io/job-completion-index']"
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001

    pvc = _load("k8s/artifacts-pvc.yaml")
    (volume,) = pod["volumes"]
    assert volume["persistentVolumeClaim"]["claimName"] == pvc["metadata"]["name"]
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    assert {"name": volume["name"], "mountPath": "/artifacts"} in container["volumeMounts"]


def test_workers_reach_the_proxy() -> None:
    """Compose and Kubernetes workers name the proxy by the address it serves on."""
    compose = _load("compose.yaml")["services"]
    for name in ("worker", "cpu-worker"):
        command = compose[name]["command"]
        assert command[command.index("--storage") + 1] == "grpc://proxy:13000", name
    assert compose["proxy"]["command"][-2:] == ["--port", "13000"]

    job_args = _container(_load("k8s/worker-job.yaml"))["args"]
    deployment, service = yaml.safe_load_all((DOCKER / "k8s/proxy.yaml").read_text())
    port = service["spec"]["ports"][0]["port"]
    assert job_args[job_args.index("--storage") + 1] == f"grpc://{service['metadata']['name']}:{port}"
    proxy_args = _container(deployment)["args"]
    assert proxy_args[proxy_args.index("--port") + 1] == str(port)


def test_models_are_shared_by_workers_and_dashboard() -> None:
    compose = _load("compose.yaml")
    for name in ("worker", "cpu-worker", "dashboard"):
        assert "artifacts:/artifacts" in compose["services"][name]["volumes"], name
    assert "artifacts" in compose["volumes"]


@pytest.mark.parametrize("dockerfile", ["gpu.Dockerfile", "cpu.Dockerfile"])
def test_images_run_as_the_uid_of_the_manifests(dockerfile: str) -> None:
    """One uid everywhere, so every container can write the shared artifact volume."""
    lines = (DOCKER / dockerfile).read_text().splitlines()
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users[-1] == "10001:10001"
    for manifest in ("k8s/worker-job.yaml", "k8s/proxy.yaml"):
        pod = next(yaml.safe_load_all((DOCKER / manifest).read_text()))["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsUser"] == 10001, manifest
