"""Settings: layering (defaults < TOML file < environment) and refusal of default secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from callcenter.config import Settings


def test_defaults_in_test_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    s = Settings()
    assert s.mode == "test" and s.timezone == "Asia/Shanghai"
    assert s.database_url.startswith("sqlite:///") and s.database_url.endswith("var/callcenter.sqlite3")
    assert s.ami.port == 5038 and s.fastagi_port == 4573 and s.speech.audiosocket_port == 9092
    assert s.secret_key and s.ami.secret  # development values filled in


def test_toml_file_under_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = tmp_path / "cc.toml"
    cfg.write_text(
        'redis_url = "redis://file:6379/1"\napi_port = 9000\n[ami]\nport = 6038\nusername = "from-file"\n'
    )
    monkeypatch.setenv("CALLCENTER_CONFIG_FILE", str(cfg))
    monkeypatch.setenv("CALLCENTER_API_PORT", "9100")
    monkeypatch.setenv("CALLCENTER_AMI__USERNAME", "from-env")
    s = Settings()
    assert s.redis_url == "redis://file:6379/1"
    assert s.api_port == 9100  # env beats file
    assert s.ami.port == 6038 and s.ami.username == "from-env"


@pytest.mark.parametrize(
    ("secret_key", "ami_secret", "bad"),
    [
        ("", "a-long-ami-secret", "secret_key"),
        ("a-long-signing-key", "changeme", "ami.secret"),
        ("short", "a-long-ami-secret", "secret_key"),
    ],
)
def test_production_refuses_weak_secrets(
    monkeypatch: pytest.MonkeyPatch, secret_key: str, ami_secret: str, bad: str
) -> None:
    monkeypatch.setenv("CALLCENTER_MODE", "production")
    monkeypatch.setenv("CALLCENTER_SECRET_KEY", secret_key)
    monkeypatch.setenv("CALLCENTER_AMI__SECRET", ami_secret)
    with pytest.raises(ValidationError, match=bad):
        Settings()


def test_production_accepts_real_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLCENTER_MODE", "production")
    monkeypatch.setenv("CALLCENTER_SECRET_KEY", "a-long-signing-key")
    monkeypatch.setenv("CALLCENTER_AMI__SECRET", "a-long-ami-secret")
    assert Settings().secret_key == "a-long-signing-key"
