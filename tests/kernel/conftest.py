"""Fixtures for the core: a seeded database (SQLite and PostgreSQL) and an API client."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from callcenter.api.app import create_app
from callcenter.config import Settings
from callcenter.db.models import User
from callcenter.db.session import session_scope
from callcenter.security import hash_password
from callcenter.seed import seed_all

CATALOGUE = Path(__file__).parent / "fixtures" / "catalogue"

USERS = {
    "agent1": ("agent", None),
    "agent2": ("agent", None),
    "super1": ("supervisor", None),
    "street1": ("unit_handler", "S110101001"),
    "street2": ("unit_handler", "S110101002"),
    "water1": ("unit_handler", "B110101-SW"),
}
PASSWORD = "correct-horse-1"
_HASH = hash_password(PASSWORD)  # hashed once: argon2 is deliberately slow


def seed_test_data(url: str) -> None:
    with session_scope(url) as session:
        seed_all(session, CATALOGUE)
        for username, (role, unit) in USERS.items():
            session.add(
                User(username=username, password_hash=_HASH, role=role, unit_code=unit, display_name=username)
            )


@pytest.fixture
def seeded_url(db_url: str) -> str:
    seed_test_data(db_url)
    return db_url


@pytest.fixture
def seeded_sqlite(sqlite_url: str) -> str:
    seed_test_data(sqlite_url)
    return sqlite_url


def make_client(url: str, redis_url: str, *, start_relay: bool = False) -> TestClient:
    settings = Settings(mode="test", database_url=url, redis_url=redis_url)
    return TestClient(create_app(settings, start_relay=start_relay))


@pytest.fixture
def client(seeded_url: str, redis_url: str) -> Iterator[TestClient]:
    with make_client(seeded_url, redis_url) as c:
        yield c


Login = Callable[[str], dict[str, str]]


@pytest.fixture
def auth(client: TestClient) -> Login:
    """``auth("agent1")`` → headers with that user's bearer token."""
    cache: dict[str, dict[str, str]] = {}

    def login(username: str) -> dict[str, str]:
        if username not in cache:
            r = client.post("/api/auth/token", data={"username": username, "password": PASSWORD})
            assert r.status_code == 200, r.text
            cache[username] = {"Authorization": f"Bearer {r.json()['access_token']}"}
        return cache[username]

    return login
