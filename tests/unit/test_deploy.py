"""The deployment files, checked by the real tools: kustomize (kubectl) renders the manifests and
kubernetes-validate checks every object against the Kubernetes API schemas; promtool checks and
unit-tests the Prometheus rules; nginx -t accepts the shipped nginx configuration."""

from __future__ import annotations

import asyncio
import copy
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from bench.cluster import render_nginx

ROOT = Path(__file__).resolve().parent.parent.parent
K8S = ROOT / "deploy" / "k8s"
PROM = ROOT / "deploy" / "prometheus"
OVERLAYS = ("base", "overlays/external-redis", "overlays/ingress-nginx")
# The oldest Kubernetes release the manifests are meant for, and the newest the validator knows.
VERSIONS = ("1.29", kubernetes_validate.latest_version())


def _tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail(f"{name} is missing: `make test` installs it (make deploy-tools)")
    return found


def render(kustomization: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        [_tool("kubectl"), "kustomize", str(K8S / kustomization)], check=True, capture_output=True, text=True
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


@pytest.mark.parametrize("kustomization", OVERLAYS)
def test_manifests_validate_against_the_kubernetes_schemas(kustomization: str) -> None:
    docs = render(kustomization)
    assert docs
    for version in VERSIONS:
        for doc in docs:
            kubernetes_validate.validate(doc, version, strict=True)


def test_the_validator_rejects_a_broken_deployment() -> None:
    """The check above can fail: an unknown field and a wrong type are both reported."""
    (deployment,) = by_kind(render("base"), "Deployment")
    unknown = copy.deepcopy(deployment)
    unknown["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGett"] = {"path": "/health"}
    wrong = copy.deepcopy(deployment)
    wrong["spec"]["replicas"] = "two"
    for broken in (unknown, wrong):
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(broken, VERSIONS[0], strict=True)


def test_deployment_drain_probes_and_autoscaling_fit_together() -> None:
    docs = render("base")
    (deployment,) = by_kind(docs, "Deployment")
    (config,) = by_kind(docs, "ConfigMap")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    pre_stop = int(container["lifecycle"]["preStop"]["exec"]["command"][1])
    grace = float(config["data"]["SHUTDOWN_GRACE"])
    assert pod["terminationGracePeriodSeconds"] >= pre_stop + grace, "the drain must finish before SIGKILL"
    port = container["ports"][0]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/health", "port": port["name"]}
    assert port["containerPort"] == int(config["data"]["PORT"])
    env = {e["name"]: e for e in container["env"]}
    assert env["REPLICA_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    (secret_ref,) = [s["secretRef"]["name"] for s in container["envFrom"] if "secretRef" in s]
    assert by_kind(docs, "Secret")[0]["metadata"]["name"] == secret_ref
    # Redis: the StatefulSet's Service is what REDIS_URL names.
    (redis,) = [s for s in by_kind(docs, "Service") if s["metadata"]["name"].endswith("redis")]
    assert config["data"]["REDIS_URL"].startswith(f"redis://{redis['metadata']['name']}:6379/")
    # The HPA's metrics are exactly those the prometheus-adapter rules serve.
    (hpa,) = by_kind(docs, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    wanted = {m["pods"]["metric"]["name"] for m in hpa["spec"]["metrics"]}
    adapter = yaml.safe_load((PROM / "adapter-rules.yaml").read_text())
    assert wanted == {rule["name"]["as"] for rule in adapter["rules"]}


def test_external_redis_overlay_has_no_redis_of_its_own() -> None:
    docs = render("overlays/external-redis")
    assert not by_kind(docs, "StatefulSet")
    assert not [s for s in by_kind(docs, "Service") if "redis" in s["metadata"]["name"]]
    (config,) = by_kind(docs, "ConfigMap")
    (secret,) = by_kind(docs, "Secret")
    assert "REDIS_URL" not in config["data"] and "REDIS_URL" in secret["stringData"]


def test_prometheus_rules_check_and_unit_tests() -> None:
    promtool = _tool("promtool")
    subprocess.run([promtool, "check", "rules", str(PROM / "bridge-rules.yml")], check=True, capture_output=True)
    result = subprocess.run(
        [promtool, "test", "rules", "bridge-rules.test.yml"], cwd=PROM, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_metric_the_rules_use_is_served() -> None:
    """The rules and the HPA name only metrics bridge/metrics.py defines (a rename would break them)."""
    source = (ROOT / "bridge" / "metrics.py").read_text()
    served = set(re.findall(r'"(bridge_[a-z_]+)"', source))
    texts = (PROM / "bridge-rules.yml").read_text() + (PROM / "adapter-rules.yaml").read_text()
    used = {
        re.sub(r"_(total|bucket|count|sum)$", "", m) for m in re.findall(r"(?<![:\w])bridge_[a-z_]+(?![:\w])", texts)
    }
    used -= {"bridge_slots_busy"}  # the adapter's name for bridge_slots{state="busy"}
    assert used and used <= served, used - served


async def test_the_shipped_nginx_configuration_is_accepted(tmp_path: Path) -> None:
    main = render_nginx(tmp_path, ["127.0.0.1:1", "127.0.0.1:2"], 1)
    check = await asyncio.create_subprocess_exec(
        _tool("nginx"), "-t", "-c", str(main), "-p", str(tmp_path), stderr=asyncio.subprocess.PIPE
    )
    _, err = await check.communicate()
    assert check.returncode == 0, err.decode()
