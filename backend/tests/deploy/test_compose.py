"""The compose stack is valid and wired the way docs/deployment.md says."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import yaml

from app.core.config import REPO_DIR


def compose_config() -> dict[str, object]:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose is not installed (.ci/run installs it)")
    env = os.environ | {"SECRET_KEY": "x" * 40, "POSTGRES_PASSWORD": "pw"}
    with_override = subprocess.run(
        [binary, "config", "-q"], cwd=REPO_DIR, env=env, capture_output=True, text=True, timeout=60
    )
    assert with_override.returncode == 0, with_override.stderr
    full = subprocess.run(  # the production file alone, without the development override
        [binary, "-f", "docker-compose.yml", "config"],
        cwd=REPO_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return dict(yaml.safe_load(full.stdout))


def test_compose_file_is_valid_and_wired() -> None:
    services = compose_config()["services"]
    assert isinstance(services, dict)
    assert set(services) == {"db", "redis", "backend", "frontend"}
    backend = services["backend"]
    assert backend["environment"]["BROADCAST_URL"] == "redis://redis:6379/0"
    assert backend["environment"]["DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert {name: dep["condition"] for name, dep in backend["depends_on"].items()} == {
        "db": "service_healthy",
        "redis": "service_healthy",
    }
    assert "healthcheck" in services["db"] and "healthcheck" in services["redis"]
    published = {name: service.get("ports", []) for name, service in services.items()}
    assert published == {
        "db": [],
        "redis": [],
        "backend": [],
        "frontend": [{"published": 8000, "target": 80}],
    }


def test_compose_refuses_to_start_without_secrets() -> None:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose is not installed")
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "POSTGRES_PASSWORD")}
    result = subprocess.run(
        [binary, "config", "-q"], cwd=REPO_DIR, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr or "POSTGRES_PASSWORD" in result.stderr
