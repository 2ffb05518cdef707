"""Public intake tests: the kernel's seeded database (SQLite and PostgreSQL), the real Redis, and an
app whose settings name one Open311 client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis as redis_lib
from fastapi.testclient import TestClient

from callcenter.api.app import create_app
from callcenter.config import IntakeSettings, Settings
from tests.kernel.conftest import auth, seeded_sqlite, seeded_url  # noqa: F401

API_KEY = "mini-program-test-key-7f3a"


def intake_settings(url: str, redis_url: str, **intake: object) -> Settings:
    base: dict[str, object] = {"open311_api_keys": {"wechat-mini": API_KEY}, "web_rate_limit": 5}
    return Settings(
        mode="test",
        database_url=url,
        redis_url=redis_url,
        intake=IntakeSettings.model_validate(base | intake),
    )


@pytest.fixture
def client(seeded_url: str, redis_url: str, redis_client: redis_lib.Redis) -> Iterator[TestClient]:  # noqa: F811
    with TestClient(create_app(intake_settings(seeded_url, redis_url), start_relay=False)) as c:
        yield c
