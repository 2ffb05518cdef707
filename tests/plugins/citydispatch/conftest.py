"""City platform tests: a seeded database (SQLite and PostgreSQL), the app with one partner whose
callback URL is a real local HTTP server (the simulated upstream's receiver)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from callcenter.api.app import create_app
from callcenter.config import IntakeSettings, Settings
from callcenter.plugins.citydispatch.loops import PushBack
from callcenter.plugins.citydispatch.simulator import CallbackReceiver, Upstream
from tests.kernel.conftest import auth, seeded_sqlite, seeded_url  # noqa: F401

PARTNER = "bj12345"
KEY = "partner-shared-key-2f9c81d4e7"


@dataclass
class City:
    client: TestClient
    upstream: Upstream
    receiver: CallbackReceiver
    settings: Settings
    pushback: PushBack


def city_settings(url: str, redis_url: str, callback_url: str, **intake: object) -> Settings:
    base: dict[str, object] = {
        "city_partners": {PARTNER: {"key": KEY, "callback_url": callback_url}},
        "city_push_backoff_s": [0.05],
        "city_push_max_attempts": 1000,
    }
    return Settings(
        mode="test",
        database_url=url,
        redis_url=redis_url,
        intake=IntakeSettings.model_validate(base | intake),
    )


def make_city(url: str, redis_url: str, **intake: object) -> Iterator[City]:
    receiver = CallbackReceiver(KEY)
    receiver.start()
    settings = city_settings(url, redis_url, receiver.url, **intake)
    pb = PushBack(settings)
    try:
        with TestClient(create_app(settings, start_relay=False)) as c:
            yield City(c, Upstream("http://testserver", PARTNER, KEY, client=c), receiver, settings, pb)
    finally:
        pb.close()
        receiver.stop()


@pytest.fixture
def city(seeded_url: str, redis_url: str) -> Iterator[City]:  # noqa: F811
    yield from make_city(seeded_url, redis_url)


@pytest.fixture
def client(city: City) -> TestClient:
    return city.client
