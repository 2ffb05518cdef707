"""The public web form (网站填报): a case with its number and lookup code, the status lookup, and the
limits — honeypot, rate limit per address, sizes, missing fields — on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from callcenter.db.models import Case, CaseEvent, WebReceipt
from callcenter.db.session import session_scope
from tests.kernel.conftest import Login

TEXT = "东华门街道多福巷小区楼下餐馆油烟太大，晚上也不停，影响居民休息"


def submit(client: TestClient, **body: object) -> dict[str, object]:
    r = client.post("/api/public/cases", json={"description": TEXT, "address": "多福巷 3 号"} | body)
    assert r.status_code == 201, r.text
    return r.json()


def test_form_page_is_served_in_chinese(client: TestClient) -> None:
    r = client.get("/report")
    assert r.status_code == 200 and "网上诉求填报" in r.text and 'name="website"' in r.text


def test_submit_gives_number_and_code_and_lands_in_the_workflow(
    client: TestClient, auth: Login, seeded_url: str
) -> None:
    out = submit(client, phone="13812340000", name="李四")
    number, code = str(out["number"]), str(out["lookup_code"])
    assert out["status"] == "received" and len(code) == 8
    # the agent sees it as any case, with its source
    case = client.get(f"/api/cases/{number}", headers=auth("agent1")).json()
    assert case["channel"] == "web" and case["channel_label"] == "网站填报"
    assert [e["action"] for e in case["timeline"]] == ["create"]
    assert case["timeline"][0]["actor_role"] == "system"
    # the citizen looks it up with number + code
    r = client.get(f"/api/public/cases/{number}", params={"code": code.lower()})
    assert r.status_code == 200 and r.json()["status_label"] == "已受理" and r.json()["open"] is True
    # a wrong code reveals nothing
    assert client.get(f"/api/public/cases/{number}", params={"code": "AAAAAAAA"}).status_code == 404
    with session_scope(seeded_url) as s:
        receipt = s.scalar(select(WebReceipt))
        assert receipt is not None and receipt.lookup_hash != code  # only a hash is stored
        assert s.scalar(select(func.count()).select_from(CaseEvent)) == 1


def test_status_follows_the_workflow_and_shows_the_reply(client: TestClient, auth: Login) -> None:
    out = submit(client)
    number, code = str(out["number"]), str(out["lookup_code"])
    agent, street = auth("agent1"), auth("street1")

    def act(headers: dict[str, str], action: str, **body: object) -> None:
        r = client.post(f"/api/cases/{number}/transitions", json={"action": action, **body}, headers=headers)
        assert r.status_code == 200, r.text

    act(agent, "register", matter_code="0601001")
    act(agent, "dispatch", unit_code="S110101001")
    act(street, "accept")
    act(street, "feedback", text="已责令餐馆安装油烟净化设备，联系电话13900001111", resolved=True)
    act(agent, "verify")
    act(agent, "close")
    got = client.get(f"/api/public/cases/{number}", params={"code": code}).json()
    assert got["status"] == "closed" and got["open"] is False
    assert "油烟净化" in got["reply"] and "13900001111" not in got["reply"]  # numbers masked
    assert got["unit_name"] == "东华门街道办事处"


def test_double_submit_with_one_form_token_is_one_case(client: TestClient, seeded_url: str) -> None:
    token = str(uuid.uuid4())
    first = submit(client, form_token=token)
    r = client.post("/api/public/cases", json={"description": TEXT, "form_token": token})
    assert r.status_code == 200 and r.json()["replayed"] is True
    assert r.json()["number"] == first["number"] and r.json()["lookup_code"] == first["lookup_code"]
    with session_scope(seeded_url) as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 1


def test_honeypot_missing_and_oversized_fields_are_refused(client: TestClient, seeded_url: str) -> None:
    r = client.post("/api/public/cases", json={"description": TEXT, "website": "http://spam.example"})
    assert r.status_code == 400 and "website" in r.json()["detail"]
    r = client.post("/api/public/cases", json={"address": "多福巷"})
    assert r.status_code == 422  # description missing
    r = client.post("/api/public/cases", json={"description": "   "})
    assert r.status_code == 400 and "description" in r.json()["detail"]
    r = client.post("/api/public/cases", json={"description": "长" * 2001})
    assert r.status_code == 413 and "2000" in r.json()["detail"]
    r = client.post("/api/public/cases", json={"description": TEXT, "community_code": "999999999999"})
    assert r.status_code == 400 and "unknown area" in r.json()["detail"]
    r = client.post("/api/public/cases", json={"description": TEXT, "phone": "call me"})
    assert r.status_code == 422
    r = client.post(
        "/api/public/cases", content=b"x" * 2_000_000, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413  # the kernel's body limit
    with session_scope(seeded_url) as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 0


def test_flood_from_one_address_is_refused_with_retry_after(client: TestClient, seeded_url: str) -> None:
    for _ in range(5):
        submit(client)
    r = client.post("/api/public/cases", json={"description": TEXT})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert "too many submissions" in r.json()["detail"]
    with session_scope(seeded_url) as s:  # the five accepted ones are all there
        assert s.scalar(select(func.count()).select_from(Case)) == 5


def test_lookups_are_rate_limited_too(client: TestClient) -> None:
    out = submit(client)
    for _ in range(30):
        client.get(f"/api/public/cases/{out['number']}", params={"code": "WRONGCOD"})
    r = client.get(f"/api/public/cases/{out['number']}", params={"code": str(out["lookup_code"])})
    assert r.status_code == 429
