"""No HTTP 500 on bad input (issue 12, item 5), on SQLite and PostgreSQL: integers the databases cannot
hold, lone surrogates and NUL characters answer 4xx with a message.

The probes of the issue, one by one; ``test_fuzz_api.py`` looks for the ones nobody thought of.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi import Request
from fastapi.testclient import TestClient

from callcenter.api.deps import SessionDep
from callcenter.db.models import User
from tests.kernel.conftest import Login

pytestmark = pytest.mark.postgres

HUGE = [2**31, 2**63, 10**30]


def _assert_4xx(r: Any) -> None:
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    assert r.json()["detail"], r.text


@pytest.mark.parametrize("offset", HUGE)
def test_huge_offset_is_422(client: TestClient, auth: Login, offset: int) -> None:
    r = client.get(f"/api/cases?offset={offset}", headers=auth("agent1"))
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["query", "offset"]


@pytest.mark.parametrize("field", ["suggestion_id"])
@pytest.mark.parametrize("value", HUGE)
def test_huge_ids_in_a_body_are_422(client: TestClient, auth: Login, field: str, value: int) -> None:
    r = client.post("/api/cases", json={"description": "路灯不亮", field: value}, headers=auth("agent1"))
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["body", field]


def test_huge_expected_version_is_422(client: TestClient, auth: Login) -> None:
    r = client.post("/api/cases", json={"description": "路灯不亮"}, headers=auth("agent1"))
    assert r.status_code == 201, r.text
    number = r.json()["number"]
    r = client.post(
        f"/api/cases/{number}/transitions",
        json={"action": "note", "text": "x", "expected_version": 2**63},
        headers=auth("agent1"),
    )
    assert r.status_code == 422, r.text


_SURROGATE_BODIES = [
    b'{"description": "\\ud800"}',  # a JSON escape of a lone surrogate
    b'{"description": "ok \\udfff end"}',
    b'{"description": "\xed\xa0\x80"}',  # the raw UTF-8 bytes of one (json.loads lets them through)
    b'{"description": "x", "\\ud800": 1}',  # in a key: the 422 naming it could not even be encoded
    b'{"description": "\\u0000"}',  # NUL: PostgreSQL cannot store it
    b'{"description": "abc", "caller_name": "\\u0000x"}',
    b'{"description": "\xff\xfe"}',  # not UTF-8 at all
]


@pytest.mark.parametrize("body", _SURROGATE_BODIES)
def test_bad_text_in_json_bodies_is_400(client: TestClient, auth: Login, body: bytes) -> None:
    r = client.post(
        "/api/cases", content=body, headers={**auth("agent1"), "Content-Type": "application/json"}
    )
    assert r.status_code == 400, r.text
    assert "UTF-8" in r.json()["detail"]


def test_a_valid_surrogate_pair_escape_is_fine(client: TestClient, auth: Login) -> None:
    body = b'{"description": "\\u8def\\u706f\\u4e0d\\u4eae \\ud83d\\ude00"}'  # 路灯不亮 😀
    r = client.post(
        "/api/cases", content=body, headers={**auth("agent1"), "Content-Type": "application/json"}
    )
    assert r.status_code == 201, r.text
    assert r.json()["description"] == "路灯不亮 😀"


@pytest.mark.parametrize(
    "path",
    [
        "/api/cases?q=%00",
        "/api/cases?phone=1%0023",
        "/api/cases?q=%ED%A0%80",  # an encoded surrogate
        "/api/cases?q=%FF",
        "/api/cases/%00",
        "/api/cases/2026%00/events",
        "/api/catalogue/matters?q=a%00b",
    ],
)
def test_bad_text_in_the_url_is_400(client: TestClient, auth: Login, path: str) -> None:
    r = client.get(path, headers=auth("super1"))
    assert r.status_code == 400, r.text
    assert "UTF-8" in r.json()["detail"]


def test_bad_text_to_other_packages_routes_is_400(client: TestClient, auth: Login) -> None:
    """The check is a layer of the app, so routes mounted from other packages get it too."""
    for path, body in (
        ("/api/suggest", {"text": "路灯\ud800不亮"}),
        ("/api/console/callbacks", {"phone": "13800000000", "case_number": "2026\x00"}),
    ):
        raw = json.dumps(body).encode()  # json.dumps escapes the surrogate / NUL as \\uXXXX
        r = client.post(path, content=raw, headers={**auth("agent1"), "Content-Type": "application/json"})
        if r.status_code == 404:
            continue  # that package is not installed
        assert r.status_code == 400, (path, r.text)


def test_nul_in_a_login_form_is_400(client: TestClient) -> None:
    r = client.post(
        "/api/auth/token",
        content=b"username=agent1%00&password=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 400, r.text


def test_values_the_database_refuses_are_422_whatever_the_route(client: TestClient, auth: Login) -> None:
    """The safety net under the validation: a route that forgot a bound still answers 422, not 500."""
    app: Any = client.app

    @app.get("/api/test-only/users/{user_id}")
    def probe(user_id: int, session: SessionDep, request: Request) -> dict[str, Any]:
        user = session.get(User, user_id)  # unbounded on purpose
        return {"found": user is not None}

    assert client.get("/api/test-only/users/1").json() == {"found": True}
    codes = []
    for value in HUGE:  # which of them a database refuses differs (SQLite: 64 bits; PostgreSQL: 32)
        r = client.get(f"/api/test-only/users/{value}")
        codes.append(r.status_code)
        if r.status_code == 422:
            assert "out of range" in r.json()["detail"] or "cannot be stored" in r.json()["detail"]
        else:
            assert r.json() == {"found": False}, r.text
    assert 422 in codes
