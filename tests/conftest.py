"""Shared fixtures: real SQLite/PostgreSQL databases, real Redis, settings in test mode.

Capability-specific fixtures live in their own plugin modules (listed in ``pytest_plugins``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as redis_lib

os.environ.setdefault("CALLCENTER_MODE", "test")

from callcenter.config import get_settings

PG_ADMIN_URL = os.environ.get("CALLCENTER_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_TEST_URL = os.environ.get("CALLCENTER_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

pytest_plugins = ["tests.fixtures_db", "tests.fixtures_models"]
if (Path(__file__).resolve().parent / "support" / "asterisk.py").exists():
    pytest_plugins.append("tests.support.asterisk")


@pytest.fixture(autouse=True)
def _test_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CALLCENTER_MODE", "test")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def redis_url() -> str:
    return REDIS_TEST_URL


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis_lib.Redis]:
    """The real Redis (database 15), emptied before and after the test."""
    client = redis_lib.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def unique_name() -> str:
    return uuid.uuid4().hex[:10]
