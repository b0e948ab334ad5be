"""docker-compose.yml and .env.example are right by reading: the compose tool
resolves them, and every documented setting is one rewardforge knows."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from app.config import Settings

REPO = Path(__file__).resolve().parents[2]


def _compose_command() -> list[str]:
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    if legacy is None:
        pytest.fail("neither `docker compose` nor `docker-compose` is installed (make system)")
    return [legacy]


@pytest.mark.parametrize("profile", [None, "ray"])
def test_compose_file_resolves(profile: str | None) -> None:
    args = [*_compose_command(), *(["--profile", profile] if profile else []), "config"]
    done = subprocess.run(
        args,
        cwd=REPO,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "REWARDFORGE_API_TOKEN": "t"},
    )
    assert done.returncode == 0, done.stderr
    config = yaml.safe_load(done.stdout)
    services = config["services"]
    expected = {"postgres", "migrate", "api", "worker"} | (
        {"ray-head", "ray-worker"} if profile else set()
    )
    assert expected <= set(services)
    assert "healthcheck" in services["postgres"] and services["postgres"]["volumes"]
    for name in ("api", "worker"):
        environment = services[name]["environment"]
        assert environment["REWARDFORGE_DATABASE_URL"].startswith("postgresql://")
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_compose_refuses_to_start_without_a_token() -> None:
    done = subprocess.run(
        [*_compose_command(), "config"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode != 0 and "REWARDFORGE_API_TOKEN" in done.stderr + done.stdout


def test_env_example_names_only_real_settings() -> None:
    names = re.findall(
        r"^#?\s*REWARDFORGE_([A-Z0-9_]+)=", (REPO / ".env.example").read_text(), re.M
    )
    known = {name.upper() for name in Settings.model_fields}
    assert names and set(names) <= known, set(names) - known
