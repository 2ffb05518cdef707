"""API tests on the real SQLite and the real PostgreSQL (the ``db_url`` fixture runs both)."""

from __future__ import annotations

from typing import Any, cast

from fastapi.testclient import TestClient

from tests.kernel.conftest import Login


def create(client: TestClient, headers: dict[str, str], **body: object) -> dict[str, object]:
    payload = {
        "description": "东华门街道多福巷小区楼下餐馆油烟太大，影响居民生活",
        "caller_phone": "13812348000",
        "caller_name": "张三",
        "matter_code": "0601001",
        "district_code": "110101",
        "street_code": "110101001",
        "hotline": "12345",
    } | body
    r = client.post("/api/cases", json=payload, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def act(
    client: TestClient, headers: dict[str, str], number: str, action: str, **body: object
) -> dict[str, object]:
    r = client.post(f"/api/cases/{number}/transitions", json={"action": action, **body}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def test_login_and_auth_required(client: TestClient, auth: Login) -> None:
    assert client.get("/api/cases").status_code == 401
    assert (
        client.post("/api/auth/token", data={"username": "agent1", "password": "wrong-pass"}).status_code
        == 401
    )
    assert client.get("/api/cases", headers={"Authorization": "Bearer not-a-token"}).status_code == 401
    me = client.get("/api/auth/me", headers=auth("street1")).json()
    assert me["role"] == "unit_handler" and me["unit_code"] == "S110101001"


def test_full_loop_over_http(client: TestClient, auth: Login) -> None:
    agent, street, sup = auth("agent1"), auth("street1"), auth("super1")
    case = create(client, agent)
    number = str(case["number"])
    assert case["status"] == "received" and len(number) == 13 and number[8:] == "00001"
    assert case["caller_phone"] == "13812348000"  # agents see the full number
    act(client, agent, number, "register")
    c = act(client, agent, number, "dispatch", unit_code="S110101001")
    assert c["status"] == "dispatched" and c["loop"] == "small" and c["due_at"]
    c = act(client, street, number, "accept")
    assert "feedback" in cast(list[str], c["allowed_actions"])
    act(client, street, number, "request_extension", hours=24, reason="需协调物业")
    act(client, sup, number, "approve_extension")
    act(client, street, number, "feedback", text="已责令餐馆安装油烟净化设备", resolved=True)
    act(client, agent, number, "verify")
    act(client, agent, number, "close")
    c = act(client, agent, number, "evaluate", satisfaction="satisfied", resolved=True)
    assert c["status"] == "evaluated"
    detail = client.get(f"/api/cases/{number}", headers=agent).json()
    actions = [e["action"] for e in detail["timeline"]]
    assert actions == [
        "create",
        "register",
        "dispatch",
        "accept",
        "request_extension",
        "approve_extension",
        "feedback",
        "verify",
        "close",
        "evaluate",
    ]
    assert [e["seq"] for e in detail["timeline"]] == list(range(1, 11))
    assert detail["timeline"][2]["action_label"] == "派遣"


def test_unit_handler_sees_masked_phone_and_only_own_cases(client: TestClient, auth: Login) -> None:
    agent = auth("agent1")
    mine = create(client, agent, register=True, dispatch_unit_code="S110101001")
    other = create(client, agent, register=True, dispatch_unit_code="S110101002")
    street = auth("street1")
    got = client.get(f"/api/cases/{mine['number']}", headers=street).json()
    assert got["caller_phone"] == "138****8000"
    assert client.get(f"/api/cases/{other['number']}", headers=street).status_code == 403
    page = client.get("/api/cases", headers=street).json()
    assert [c["number"] for c in page["items"]] == [mine["number"]]
    # acting on another unit's case is forbidden
    r = client.post(f"/api/cases/{other['number']}/transitions", json={"action": "accept"}, headers=street)
    assert r.status_code == 403


def test_return_shows_up_for_arbitration(client: TestClient, auth: Login) -> None:
    agent, street, sup = auth("agent1"), auth("street1"), auth("super1")
    number = str(create(client, agent, register=True, dispatch_unit_code="S110101001")["number"])
    c = act(client, street, number, "return", reason="该地址属景山街道")
    assert c["status"] == "returned" and c["return_count"] == 1
    returned = client.get("/api/cases", params={"status": "returned"}, headers=sup).json()
    assert number in [x["number"] for x in returned["items"]]
    act(client, sup, number, "arbitrate", reason="属地争议")
    c = act(client, sup, number, "decide_arbitration", reason="按地址归属", unit_code="S110101002")
    assert c["status"] == "dispatched" and c["unit_code"] == "S110101002"


def test_search_by_phone_status_unit_matter_area(client: TestClient, auth: Login) -> None:
    agent = auth("agent1")
    a = create(client, agent, caller_phone="13900000001")
    b = create(
        client,
        agent,
        caller_phone="13900000002",
        matter_code="1101001",
        register=True,
        dispatch_unit_code="B110101-SW",
        street_code="110101002",
    )

    def numbers(**params: Any) -> list[object]:
        r = client.get("/api/cases", params=params, headers=agent)
        assert r.status_code == 200, r.text
        return [c["number"] for c in r.json()["items"]]

    assert numbers(phone="13900000001") == [a["number"]]
    assert numbers(status="dispatched") == [b["number"]]
    assert numbers(unit="B110101-SW") == [b["number"]]
    assert numbers(matter="1101001") == [b["number"]]
    assert set(numbers(area="110101")) == {a["number"], b["number"]}
    assert numbers(area="110101002") == [b["number"]]
    assert numbers(q="油烟") and b["number"] in numbers(q="油烟")
    open_cases = client.get("/api/cases/by-phone/13900000002/open", headers=agent).json()
    assert [c["number"] for c in open_cases] == [b["number"]]


def test_invalid_transition_is_409_with_reason(client: TestClient, auth: Login) -> None:
    agent = auth("agent1")
    number = create(client, agent)["number"]
    r = client.post(f"/api/cases/{number}/transitions", json={"action": "close"}, headers=agent)
    assert r.status_code == 409 and "received" in r.json()["detail"]
    r = client.post(f"/api/cases/{number}/transitions", json={"action": "fly"}, headers=agent)
    assert r.status_code == 422


def test_unknown_references_are_422(client: TestClient, auth: Login) -> None:
    agent = auth("agent1")
    r = client.post("/api/cases", json={"description": "x", "matter_code": "9999999"}, headers=agent)
    assert r.status_code == 422 and "matter" in r.json()["detail"]
    r = client.post("/api/cases", json={"description": "x", "dispatch_unit_code": "NOPE"}, headers=agent)
    assert r.status_code == 422
    r = client.post("/api/cases", json={"description": "x", "street_code": "999999999"}, headers=agent)
    assert r.status_code == 422
    number = create(client, agent, register=True)["number"]
    r = client.post(
        f"/api/cases/{number}/transitions", json={"action": "dispatch", "unit_code": "NOPE"}, headers=agent
    )
    assert r.status_code == 422
    assert client.get("/api/cases/2099010100001", headers=agent).status_code == 404


def test_oversized_and_malformed_bodies(client: TestClient, auth: Login) -> None:
    agent = auth("agent1")
    r = client.post("/api/cases", json={"description": "诉" * 6000}, headers=agent)
    assert r.status_code == 413
    r = client.post("/api/cases", json={"description": "诉" * 30000}, headers=agent)
    assert r.status_code in (413, 422)
    r = client.post("/api/cases", content=b"{not json", headers={**agent, "Content-Type": "application/json"})
    assert r.status_code == 422
    r = client.post(
        "/api/cases", content=b"x" * 2_000_000, headers={**agent, "Content-Type": "application/json"}
    )
    assert r.status_code == 413
    r = client.post("/api/cases", json={"description": "   "}, headers=agent)
    assert r.status_code == 422
    r = client.post("/api/cases", json={"description": "ok", "bogus": 1}, headers=agent)
    assert r.status_code == 422
    # nothing half-created: only cases from valid requests exist
    assert client.get("/api/cases", headers=agent).json()["total"] == 0


def test_stale_version_is_409(client: TestClient, auth: Login) -> None:
    agent = auth("agent1")
    case = create(client, agent)
    act(client, agent, str(case["number"]), "register", expected_version=case["version"])
    r = client.post(
        f"/api/cases/{case['number']}/transitions",
        json={"action": "reclassify", "matter_code": "0601002", "expected_version": case["version"]},
        headers=agent,
    )
    assert r.status_code == 409


def test_role_checks(client: TestClient, auth: Login) -> None:
    street = auth("street1")
    assert client.post("/api/cases", json={"description": "x"}, headers=street).status_code == 403
    assert client.get("/api/calls", headers=street).status_code == 403
    agent = auth("agent1")
    number = create(client, agent)["number"]
    r = client.post(
        f"/api/cases/{number}/transitions", json={"action": "exclude_kpi", "reason": "x"}, headers=agent
    )
    assert r.status_code == 403


def test_catalogue_and_units(client: TestClient, auth: Login) -> None:
    h = auth("agent1")
    cats = client.get("/api/catalogue/categories", headers=h).json()
    assert {c["code"] for c in cats} == {"06", "11"}
    matters = client.get("/api/catalogue/matters", params={"category": "06"}, headers=h).json()
    assert [m["name"] for m in matters] == ["餐饮油烟", "私装地锁"]
    assert matters[0]["keywords"] == ["油烟", "餐馆"]
    streets = client.get("/api/units", params={"kind": "street_office"}, headers=h).json()
    assert len(streets) == 2
    areas = client.get("/api/areas", params={"parent": "110101"}, headers=h).json()
    assert [a["name"] for a in areas] == ["东华门街道", "景山街道"]


def test_health_and_openapi(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["database"] == "ok"
    spec = client.get("/openapi.json").json()
    assert "/api/cases/{number}/transitions" in spec["paths"]


def test_consultation_closed_on_the_call_in_one_request(client: TestClient, auth: Login) -> None:
    agent = auth("agent1")
    case = create(client, agent, kind="consultation", answer="已告知社保卡补办需携带身份证到街道社保所")
    assert case["status"] == "closed" and case["resolved"] is True
    detail = client.get(f"/api/cases/{case['number']}", headers=agent).json()
    assert [e["action"] for e in detail["timeline"]] == ["create", "resolve_on_call"]
    r = client.post(
        "/api/cases", json={"description": "x", "answer": "", "kind": "consultation"}, headers=agent
    )
    assert r.status_code == 422  # an empty answer closes nothing
    r = client.post("/api/cases", json={"description": "x", "answer": "ok", "register": True}, headers=agent)
    assert r.status_code == 422


def test_metrics_report_cases_and_requests(client: TestClient, auth: Login) -> None:
    agent = auth("agent1")
    number = create(client, agent)["number"]
    act(client, agent, str(number), "register")
    create(client, agent)
    text = client.get("/metrics").text
    assert 'cc_cases{status="registered"} 1.0' in text
    assert 'cc_cases{status="received"} 1.0' in text
    assert "cc_cases_overdue 0.0" in text
    assert 'cc_http_requests_total{method="POST",route="/api/cases",status="201"} 2.0' in text
    assert 'route="/api/cases/{number}/transitions"' in text  # templates, not raw paths
