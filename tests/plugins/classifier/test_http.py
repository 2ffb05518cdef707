"""POST /api/suggest through a real FastAPI app with the classifier's router (it requires a login)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from callcenter.api.deps import get_current_user
from callcenter.db.models import Case
from callcenter.db.session import session_scope
from callcenter.plugins.classifier.http import caller_hint, get_holder, router
from callcenter.plugins.classifier.suggester import SuggesterHolder
from callcenter.plugins.classifier.training import ModelInfo

pytestmark = pytest.mark.slow


def make_client(models_dir: Path, database_url: str | None = None, *, logged_in: bool = True) -> TestClient:
    app = FastAPI()
    app.include_router(router)
    app.state.settings = SimpleNamespace(database_url=database_url)
    holder = SuggesterHolder(models_dir, check_interval=3600)
    app.dependency_overrides[get_holder] = lambda: holder
    if logged_in:  # the login itself is tested with the whole app (tests/plugins/cases/test_api.py)
        app.dependency_overrides[get_current_user] = lambda: SimpleNamespace(id=1, role="agent", active=True)
    return TestClient(app, raise_server_exceptions=False)


def test_suggest_needs_a_login(trained: ModelInfo, models_dir: Path, sqlite_url: str) -> None:
    app_client = make_client(models_dir, sqlite_url, logged_in=False)
    app_client.app.state.settings = SimpleNamespace(database_url=sqlite_url)  # type: ignore[attr-defined]
    response = app_client.post("/api/suggest", json={"text": "大兴区清源街道有人占道经营卖菜"})
    assert response.status_code == 401


@pytest.fixture
def client(trained: ModelInfo, models_dir: Path) -> TestClient:
    return make_client(models_dir)


def test_suggest_ok(client: TestClient) -> None:
    response = client.post("/api/suggest", json={"text": "大兴区清源街道有人占道经营卖菜"})
    assert response.status_code == 200
    data = response.json()
    assert data["matters"][0]["name"] == "占道经营"
    assert data["unit"] == {"code": "S110115003", "name": "清源街道办事处"}
    assert data["area"]["street"] == {"code": "110115003", "name": "清源街道"}
    assert isinstance(data["auto_dispatch"], bool)


def test_suggest_with_subject_gives_the_new_fields(client: TestClient) -> None:
    body = {
        "subject": "建议在小区门口增设公交站",
        "text": "我家附近的公交站离小区有一公里多，老人孩子坐车很不方便。"
        "建议公交公司在小区门口增设一个站点。",
    }
    response = client.post("/api/suggest", json=body)
    assert response.status_code == 200
    data = response.json()
    assert data["request_type"] == "建议"
    assert len(data["categories"]) == 3
    assert data["categories"][0]["code"] == data["matters"][0]["code"][:2]
    assert "second_request" in data
    too_long = client.post("/api/suggest", json={"text": "公交站", "subject": "长" * 201})
    assert too_long.status_code == 422


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"text": ""}, "empty"),
        ({"text": "   "}, "empty"),
        ({"text": "？？？！！！"}, "no_content"),
        ({"text": "🙂🙂🙂"}, "no_content"),
        ({"text": "the light is broken"}, "no_chinese"),
        ({"text": "吵" * 100_000}, "too_long"),
        ({"text": 123}, "not_text"),
        ({"text": None}, "not_text"),
    ],
)
def test_bad_text_is_422_with_reason(client: TestClient, body: dict[str, object], reason: str) -> None:
    response = client.post("/api/suggest", json=body)
    assert response.status_code == 422
    assert response.json()["detail"]["reason"] == reason


@pytest.mark.parametrize(
    "raw",
    [b'{"text": "\xff\xfe\xfd"}', b"\xff\xfe", b"not json", b"", b'{"caller_phone": "123"}', b"[1, 2]"],
)
def test_malformed_bodies_are_4xx(client: TestClient, raw: bytes) -> None:
    response = client.post("/api/suggest", content=raw, headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500


def test_no_model_is_503(tmp_path: Path) -> None:
    response = make_client(tmp_path).post("/api/suggest", json={"text": "路灯坏了"})
    assert response.status_code == 503
    assert response.json()["detail"]["reason"] == "model_unavailable"


def test_caller_phone_uses_history(trained: ModelInfo, models_dir: Path, sqlite_url: str) -> None:
    with session_scope(sqlite_url) as session:
        session.add(
            Case(number="2026112200001", status="closed", caller_phone="13800000001", description="路灯",
                 district_code="110116", street_code="110116001")
        )  # fmt: skip
    assert caller_hint("13800000001", sqlite_url) is not None
    assert caller_hint("13900000000", sqlite_url) is None
    client = make_client(models_dir, sqlite_url)
    data = client.post(
        "/api/suggest", json={"text": "楼下有人私装地锁", "caller_phone": "13800000001"}
    ).json()
    assert data["area"]["street"]["code"] == "110116001"
    assert data["place"]["source"] == "history"
    assert data["unit"]["code"] == "S110116001"
    # an unknown caller: no place
    data = client.post(
        "/api/suggest", json={"text": "楼下有人私装地锁", "caller_phone": "13900000000"}
    ).json()
    assert data["area"]["district"] is None


def test_history_lookup_failure_is_not_an_error(trained: ModelInfo, models_dir: Path, tmp_path: Path) -> None:
    broken = f"sqlite:///{tmp_path / 'missing' / 'nothing.sqlite3'}"
    assert caller_hint("13800000001", broken) is None
    client = make_client(models_dir, broken)
    assert client.post("/api/suggest", json={"text": "路灯坏了", "caller_phone": "1"}).status_code == 200
