"""Typed configuration (配置).

Defaults are layered under an optional settings file (``CALLCENTER_CONFIG_FILE``, TOML or env format)
and environment variables prefixed ``CALLCENTER_`` (nested with ``__``, e.g.
``CALLCENTER_AMI__SECRET``). Secrets must be set explicitly unless ``mode`` is ``demo`` or ``test``.
"""

from __future__ import annotations

import os
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = PROJECT_ROOT / "var"
SHARED_DIR = PROJECT_ROOT.parent / "shared"

#: Values that must never reach production as secrets.
_WEAK_SECRETS = {"", "changeme", "change-me", "secret", "password", "demo", "test"}


class AMISettings(BaseModel):
    """Asterisk Manager Interface connection (AMI)."""

    host: str = "127.0.0.1"
    port: int = 5038
    username: str = "callcenter"
    secret: str = ""
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 10.0


class AsteriskSettings(BaseModel):
    """Where the Asterisk 22 root filesystem lives and how it is run."""

    rootfs: Path = VAR_DIR / "asterisk" / "rootfs"
    conf_dir: Path = PROJECT_ROOT / "asterisk_conf"
    debian_suite: str = "sid"
    sip_port: int = 5060
    hotline_numbers: list[str] = Field(default_factory=lambda: ["12345", "96010"])
    queue: str = "hotline"
    outbound_caller_id: str = "12345"
    #: Name of this Asterisk node (``systemname``: prefixes channel uniqueids, tags call rows and
    #: queue state). Every node of a multi-node center needs its own name and its own AMI bridge.
    node: str = "pbx1"


class SpeechSettings(BaseModel):
    """Speech recognition (语音识别) models and service."""

    models_dir: Path = VAR_DIR / "models"
    audiosocket_host: str = "127.0.0.1"
    audiosocket_port: int = 9092
    partial_engine: str = "vosk"
    final_engine: str = "whisper"
    max_utterance_s: float = 120.0
    workers: int = 0  # 0 = number of cores


class ClassifierSettings(BaseModel):
    """Matter suggester (智能派单建议)."""

    model_dir: Path = VAR_DIR / "classifier"
    auto_dispatch_threshold: float = 0.85


class CallbackSettings(BaseModel):
    """Callbacks and return visits (回拨 / 回访)."""

    window_start: str = "08:00"
    window_end: str = "21:00"
    max_attempts: int = 3
    retry_backoff_s: list[int] = Field(default_factory=lambda: [600, 1800, 3600])
    max_concurrent_calls: int = 4
    return_visit_after: Literal["closed", "feedback"] = "closed"


class ObservabilitySettings(BaseModel):
    """Logs and Prometheus metrics (日志与监控指标) of every process.

    ``/metrics`` of the API is served on ``api_port``; the other processes serve their own registry on
    the port below (0 = off). Two processes of one kind on a host need different ports (env override
    per process, e.g. ``CALLCENTER_OBSERVABILITY__AMI_BRIDGE_METRICS_PORT``).
    """

    log_format: Literal["text", "json"] = "text"
    log_level: str = "INFO"
    metrics_host: str = "127.0.0.1"
    agi_metrics_port: int = 9101
    ami_bridge_metrics_port: int = 9102
    speech_metrics_port: int = 9103
    worker_metrics_port: int = 9104


class Settings(BaseSettings):
    """All settings of the platform."""

    model_config = SettingsConfigDict(
        env_prefix="CALLCENTER_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    mode: Literal["production", "demo", "test"] = "production"
    timezone: str = "Asia/Shanghai"
    database_url: str = f"sqlite:///{VAR_DIR / 'callcenter.sqlite3'}"
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_stream_maxlen: int = 100_000
    secret_key: str = ""
    token_ttl_minutes: int = 12 * 60
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    fastagi_host: str = "127.0.0.1"
    fastagi_port: int = 4573
    max_description_chars: int = 5000
    ami: AMISettings = Field(default_factory=AMISettings)
    asterisk: AsteriskSettings = Field(default_factory=AsteriskSettings)
    speech: SpeechSettings = Field(default_factory=SpeechSettings)
    classifier: ClassifierSettings = Field(default_factory=ClassifierSettings)
    callbacks: CallbackSettings = Field(default_factory=CallbackSettings)
    observability: ObservabilitySettings = Field(default_factory=ObservabilitySettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlFileSource(settings_cls), file_secret_settings)

    @model_validator(mode="after")
    def _refuse_weak_secrets(self) -> Settings:
        if self.mode == "production":
            weak = [
                name
                for name, value in (("secret_key", self.secret_key), ("ami.secret", self.ami.secret))
                if value.strip().lower() in _WEAK_SECRETS or len(value) < 12
            ]
            if weak:
                raise ValueError(
                    "refusing to start in production mode with empty or default secrets: "
                    + ", ".join(weak)
                    + " (set CALLCENTER_SECRET_KEY / CALLCENTER_AMI__SECRET, or CALLCENTER_MODE=demo)"
                )
        else:
            if not self.secret_key:
                self.secret_key = f"{self.mode}-signing-key-not-for-production"
            if not self.ami.secret:
                self.ami.secret = f"{self.mode}-ami-secret"
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


class _TomlFileSource(PydanticBaseSettingsSource):
    """Reads ``CALLCENTER_CONFIG_FILE`` (TOML) when set; lowest priority above defaults."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = os.environ.get("CALLCENTER_CONFIG_FILE")
        if not path:
            return {}
        with open(path, "rb") as fh:
            return tomllib.load(fh)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached). Tests call ``get_settings.cache_clear()``."""
    return Settings()
