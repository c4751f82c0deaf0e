"""Static checks of the container and operations files (no Docker engine on this machine)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent.parent


def test_dockerfile() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", text, re.M)
    assert re.search(r"^USER bridge$", text, re.M), "runs as a non-root user"
    assert "HEALTHCHECK" in text and "/health" in text
    assert "npm ci" in text and ".tools/package-lock.json" in text, "the pinned CLI comes from the lock file"
    assert "--dangerously-skip-permissions" not in text
    if shutil.which("hadolint"):
        subprocess.run(["hadolint", str(ROOT / "Dockerfile")], check=True)


def test_compose_profiles() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert "profiles" not in services["bridge"]
    assert services["redis"]["profiles"] == ["redis"]
    assert services["nginx"]["profiles"] == ["nginx"]
    assert services["bridge"]["ports"] == ["127.0.0.1:8000-8003:8000"], "published on loopback only"
    mounted = {v.split(":")[0] for v in services["nginx"]["volumes"]}
    assert mounted == {"./deploy/nginx/nginx.conf", "./deploy/nginx/bridge.conf", "./deploy/nginx/affinity.js"}
    assert all((ROOT / path).exists() for path in mounted)


@pytest.mark.parametrize(
    "target",
    [
        "run",
        "test",
        "lint",
        "format",
        "bench",
        "health",
        "smoke",
        "load",
        "load-replicas",
        "deploy-tools",
        "docker-build",
        "docker-run",
        "compose-up",
        "logs",
        "stop",
        "test-cli-latest",
        "upgrade-cli",
        "chromium",
    ],
)
def test_makefile_targets(target: str) -> None:
    assert re.search(rf"^{re.escape(target)}:", (ROOT / "Makefile").read_text(), re.M)


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme and "make test" in readme


def test_the_cli_pin_is_one_version_everywhere() -> None:
    """package.json, its lock and the Makefile's check name the same CLI (`make upgrade-cli` moves all three)."""
    pinned = json.loads((ROOT / ".tools" / "package.json").read_text())["dependencies"]["@anthropic-ai/claude-code"]
    lock = json.loads((ROOT / ".tools" / "package-lock.json").read_text())
    locked = lock["packages"]["node_modules/@anthropic-ai/claude-code"]["version"]
    make = re.search(r"^CLI_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert make is not None and pinned == locked == make.group(1)
