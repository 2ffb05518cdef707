"""Personal data in case replies (issue 12, item 7): a unit handler gets the caller's name masked
(``张**``) and phone / ID numbers in free text masked, in every reply that carries the case — read,
search list, transitions, timeline; the center's staff see everything. Before the fix the name and the
numbers typed into the description reached unit handlers in full."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.kernel.conftest import Login

DESCRIPTION = "多福巷3号楼餐馆油烟扰民，来电人手机13812348000，身份证110101199003071234，见工单2026010100001"
MASKED = "多福巷3号楼餐馆油烟扰民，来电人手机138****8000，身份证110101********1234，见工单2026010100001"


def _case(client: TestClient, agent: dict[str, str]) -> str:
    r = client.post(
        "/api/cases",
        json={
            "description": DESCRIPTION,
            "caller_phone": "13812348000",
            "caller_name": "张三丰",
            "matter_code": "0601001",
            "district_code": "110101",
            "street_code": "110101001",
            "register": True,
            "dispatch_unit_code": "S110101001",
        },
        headers=agent,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["number"])


def _masked(case: dict[str, Any]) -> None:
    assert case["caller_name"] == "张**"
    assert case["caller_phone"] == "138****8000"
    assert case["description"] == MASKED


def test_unit_handlers_get_masked_names_and_numbers_everywhere(client: TestClient, auth: Login) -> None:
    agent, street = auth("agent1"), auth("street1")
    number = _case(client, agent)
    r = client.post(
        f"/api/cases/{number}/transitions",
        json={"action": "note", "text": "居民要求回电 010-65123456"},
        headers=agent,
    )
    assert r.status_code == 200

    got = client.get(f"/api/cases/{number}", headers=street).json()
    _masked(got)
    note = next(e for e in got["timeline"] if e["action"] == "note")
    assert note["reason"] == "居民要求回电 010****3456"
    _masked(client.get("/api/cases", headers=street).json()["items"][0])
    events = client.get(f"/api/cases/{number}/events", headers=street).json()
    assert [e["reason"] for e in events if e["action"] == "note"] == ["居民要求回电 010****3456"]
    assert all(e["action_label"] for e in events)
    r = client.post(f"/api/cases/{number}/transitions", json={"action": "accept"}, headers=street)
    assert r.status_code == 200
    _masked(r.json())
    r = client.post(
        f"/api/cases/{number}/transitions",
        json={"action": "feedback", "text": "已联系业主13900001111整改", "resolved": True},
        headers=street,
    )
    assert r.json()["feedback_text"] == "已联系业主139****1111整改"

    # the center sees the case as it was entered
    full = client.get(f"/api/cases/{number}", headers=agent).json()
    assert (full["caller_name"], full["caller_phone"], full["description"]) == (
        "张三丰",
        "13812348000",
        DESCRIPTION,
    )
    assert full["feedback_text"] == "已联系业主13900001111整改"
    sup = client.get(f"/api/cases/{number}", headers=auth("super1")).json()
    assert sup["caller_name"] == "张三丰" and sup["description"] == DESCRIPTION
