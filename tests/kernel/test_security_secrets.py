"""Secrets (issue 12, item 4): production refuses known, demo, low-entropy and padded secrets, naming the
setting; the demo generates its secrets once per installation (0600 files) and every process reads the
same ones; tokens without ``exp`` / ``iat`` / ``sub`` are refused."""

from __future__ import annotations

import os
import secrets
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from callcenter.config import SecuritySettings, Settings
from callcenter.secret_policy import installation_secret, weakness
from callcenter.security import ALGORITHM
from tests.kernel.conftest import make_client

GOOD = "kT3v9qLx7mWzRp2dHs8f"  # a value that passes (random-looking, 20 characters)


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("demo-signing-key-not-for-production", "known default or demo value"),  # the old demo default
        ("demo-ami-secret", "known default or demo value"),
        ("aaaaaaaaaaaa", "distinct characters"),
        ("password1234", "common words"),
        ("P@ssw0rd!2024", "common words"),
        ("supersecretpassword", "common words"),
        ("secret-key-2024", "common words"),
        ("qwertyuiop12", "common words"),
        ("abcdefghijklmnop", "repeated or sequential"),
        ("1234567890123", "repeated or sequential"),
        ("aabbccddeeff", "repeated or sequential"),
        ("   x   ", "whitespace"),  # the whitespace-padded one-letter key of the probe
        (" " + GOOD, "whitespace"),
        (GOOD + "\n", "whitespace"),
        ("short", "shorter than 12"),
        ("", "empty"),
    ],
)
@pytest.mark.parametrize("setting", ["secret_key", "ami.secret"])
def test_production_refuses_weak_secrets_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, value: str, why: str, setting: str
) -> None:
    monkeypatch.setenv("CALLCENTER_MODE", "production")
    good_other = secrets.token_urlsafe(32)
    if setting == "secret_key":
        monkeypatch.setenv("CALLCENTER_SECRET_KEY", value)
        monkeypatch.setenv("CALLCENTER_AMI__SECRET", good_other)
    else:
        monkeypatch.setenv("CALLCENTER_SECRET_KEY", good_other)
        monkeypatch.setenv("CALLCENTER_AMI__SECRET", value)
    with pytest.raises(ValidationError) as err:
        Settings()
    message = str(err.value)
    assert f"{setting}: " in message and why in message, message
    other = "ami.secret" if setting == "secret_key" else "secret_key"
    assert f"{other}: " not in message


@pytest.mark.parametrize(
    "value",
    [
        GOOD,
        "the-old-signing-key-of-the-center-2026",
        "a-real-secret-of-length",
        *(secrets.token_urlsafe(48) for _ in range(3)),
        *(secrets.token_hex(16) for _ in range(3)),
    ],
)
def test_production_accepts_strong_secrets(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CALLCENTER_MODE", "production")
    monkeypatch.setenv("CALLCENTER_SECRET_KEY", value)
    monkeypatch.setenv("CALLCENTER_AMI__SECRET", secrets.token_urlsafe(24))
    assert Settings().secret_key == value


def test_generated_secrets_are_never_refused() -> None:
    """The policy must not refuse what a generator makes (no false alarm on 2,000 tokens each)."""
    for make in (
        lambda: secrets.token_urlsafe(9),
        lambda: secrets.token_urlsafe(48),
        lambda: secrets.token_hex(16),
    ):
        refused = [v for v in (make() for _ in range(2000)) if weakness(v) is not None]
        assert refused == []


# --------------------------------------------------------------------------- demo: per-installation secrets


def test_demo_generates_private_secrets_once_and_reuses_them(tmp_path: Path) -> None:
    secrets_dir = tmp_path / "var" / "secrets"
    first = Settings(mode="demo", security=SecuritySettings(secrets_dir=secrets_dir))
    assert weakness(first.secret_key) is None and weakness(first.ami.secret) is None
    assert first.secret_key != first.ami.secret
    assert "demo" not in first.secret_key and "demo" not in first.ami.secret
    for name, value in (("secret_key", first.secret_key), ("ami_secret", first.ami.secret)):
        path = secrets_dir / name
        assert path.read_text().strip() == value
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(secrets_dir.stat().st_mode) == 0o700
    again = Settings(mode="demo", security=SecuritySettings(secrets_dir=secrets_dir))
    assert (again.secret_key, again.ami.secret) == (first.secret_key, first.ami.secret)
    other = Settings(mode="demo", security=SecuritySettings(secrets_dir=tmp_path / "elsewhere"))
    assert other.secret_key != first.secret_key  # another installation, another key
    explicit = Settings(
        mode="demo", secret_key="set-by-the-operator-x9", security=SecuritySettings(secrets_dir=secrets_dir)
    )
    assert explicit.secret_key == "set-by-the-operator-x9"


def test_demo_secret_file_made_readable_by_others_is_made_private_again(tmp_path: Path) -> None:
    value = installation_secret(tmp_path, "secret_key")
    (tmp_path / "secret_key").chmod(0o644)
    assert installation_secret(tmp_path, "secret_key") == value
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600


def test_an_emptied_demo_secret_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "ami_secret").write_text("\n")
    with pytest.raises(ValueError, match="ami_secret is empty: delete it"):
        installation_secret(tmp_path, "ami_secret")


def test_test_mode_keeps_deterministic_values() -> None:
    s = Settings(mode="test")
    assert s.secret_key == "test-signing-key-not-for-production" and s.ami.secret == "test-ami-secret"


def _demo_env(secrets_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
    env.update(CALLCENTER_MODE="demo", CALLCENTER_SECURITY__SECRETS_DIR=str(secrets_dir))
    return env


def test_demo_processes_started_together_agree_on_the_secrets(tmp_path: Path) -> None:
    secrets_dir = tmp_path / "secrets"
    code = "from callcenter.config import get_settings as g; s = g(); print(s.secret_key, s.ami.secret)"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code], env=_demo_env(secrets_dir), stdout=subprocess.PIPE, text=True
        )
        for _ in range(6)
    ]
    outputs = {p.communicate(timeout=120)[0].strip() for p in procs}
    assert len(outputs) == 1, outputs
    key, ami = outputs.pop().split()
    assert (secrets_dir / "secret_key").read_text().strip() == key
    assert (secrets_dir / "ami_secret").read_text().strip() == ami


def test_demo_manager_conf_gets_the_installation_ami_secret(tmp_path: Path) -> None:
    """What `callcenter asterisk provision` renders for the demo is the secret the bridge will use."""
    secrets_dir = tmp_path / "secrets"
    dest = tmp_path / "rendered"
    r = subprocess.run(
        [sys.executable, "-m", "callcenter.cli", "asterisk", "render", "--dest", str(dest), "--no-sounds"],
        env=_demo_env(secrets_dir),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if r.returncode != 0 and "No such command" in r.stderr:
        pytest.skip("telephony is not installed")
    assert r.returncode == 0, r.stderr
    ami = (secrets_dir / "ami_secret").read_text().strip()
    manager = next(dest.rglob("manager.conf")).read_text()
    assert f"secret = {ami}" in manager
    assert "demo-ami-secret" not in manager


# --------------------------------------------------------------------------- token claims


@pytest.fixture
def client(seeded_sqlite: str, redis_url: str) -> Any:
    with make_client(seeded_sqlite, redis_url) as c:
        yield c


def _user_id(url: str, username: str) -> int:
    from sqlalchemy import select

    from callcenter.db.models import User
    from callcenter.db.session import session_scope

    with session_scope(url) as s:
        return int(s.scalar(select(User.id).where(User.username == username)) or 0)


def _signed(claims: dict[str, Any]) -> str:
    return jwt.encode(claims, Settings(mode="test").secret_key, algorithm=ALGORITHM)


@pytest.mark.parametrize("missing", ["exp", "iat", "sub"])
def test_token_without_a_required_claim_is_refused(
    client: TestClient, seeded_sqlite: str, missing: str
) -> None:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": str(_user_id(seeded_sqlite, "agent1")),
        "role": "agent",
        "iat": now,
        "exp": now + timedelta(hours=1),
    }
    assert (
        client.get("/api/auth/me", headers={"Authorization": f"Bearer {_signed(claims)}"}).status_code == 200
    )
    del claims[missing]
    r = client.get("/api/auth/me", headers={"Authorization": f"Bearer {_signed(claims)}"})
    assert r.status_code == 401, r.text


@pytest.mark.parametrize("sub", [str(2**63), str(2**31), "9" * 400, "0", "-5", "abc", " 1e3"])
def test_token_with_an_impossible_user_id_is_401_not_500(client: TestClient, sub: str) -> None:
    now = datetime.now(UTC)
    token = _signed({"sub": sub, "role": "admin", "iat": now, "exp": now + timedelta(hours=1)})
    r = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401, r.text
    r = client.get(f"/api/cases?token={token}")
    assert r.status_code == 401, r.text
