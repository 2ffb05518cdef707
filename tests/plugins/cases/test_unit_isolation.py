"""Unit isolation (issue 12, item 1): a unit handler reaches only the cases of its unit.

Every route that takes a case number applies the rule of ``GET /api/cases/{n}``
(:func:`callcenter.domain.access.may_see_case`): another unit's case, or one not dispatched yet, answers
403 with nothing of the case, before any other check, and nothing changes. Before the fix a unit
handler could add a ``note`` to any case (and got the whole case back), read any case's actions in the
console, and learn a case's version and status from the 409 of a refused transition.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from callcenter.domain import workflow
from callcenter.domain.access import NOT_YOUR_UNIT, may_see_case
from tests.kernel.conftest import Login

DESCRIPTION = "东华门街道多福巷小区楼下餐馆油烟太大，影响居民生活"

#: A plausible body for every workflow action (the check must come before the arguments matter).
ACTION_BODIES: dict[str, dict[str, Any]] = {
    "register": {},
    "resolve_on_call": {"text": "已解答"},
    "resolve_on_spot": {"text": "已就地清理"},
    "reclassify": {"matter_code": "0601001"},
    "dispatch": {"unit_code": "S110101002"},
    "accept": {},
    "return": {"reason": "不属于本单位"},
    "redispatch": {"unit_code": "S110101002"},
    "arbitrate": {"reason": "x"},
    "decide_arbitration": {"reason": "x", "unit_code": "S110101002"},
    "request_extension": {"hours": 24, "reason": "x"},
    "approve_extension": {},
    "reject_extension": {"reason": "x"},
    "feedback": {"text": "已处理", "resolved": True},
    "verify": {},
    "send_back": {"reason": "x"},
    "close": {},
    "evaluate": {"satisfaction": "satisfied", "resolved": True},
    "reopen": {"reason": "x"},
    "supervise": {},
    "merge": {"into": "2026010100001"},
    "exclude_kpi": {"reason": "x"},
    "note": {"text": "看看别人的工单"},
}


def test_every_action_has_a_body_here() -> None:
    assert set(ACTION_BODIES) == set(workflow.ACTIONS)


def _create(client: TestClient, agent: dict[str, str], **body: Any) -> dict[str, Any]:
    payload = {
        "description": DESCRIPTION,
        "caller_phone": "13812348000",
        "caller_name": "张三丰",
        "matter_code": "0601001",
        "district_code": "110101",
        "street_code": "110101001",
        "address": "多福巷 3 号",
    } | body
    r = client.post("/api/cases", json=payload, headers=agent)
    assert r.status_code == 201, r.text
    return dict(r.json())


def _refused(r: Any) -> None:
    """403 with the reason and nothing of the case."""
    assert r.status_code == 403, r.text
    assert r.json() == {"detail": NOT_YOUR_UNIT}


def _state(client: TestClient, agent: dict[str, str], number: str) -> tuple[int, int, str]:
    got = client.get(f"/api/cases/{number}", headers=agent).json()
    return got["version"], len(got["timeline"]), got["status"]


def test_another_units_case_is_refused_on_every_route(client: TestClient, auth: Login) -> None:
    agent, mine, other = auth("agent1"), auth("street1"), auth("street2")
    case = _create(client, agent, register=True, dispatch_unit_code="S110101001")
    number = case["number"]
    before = _state(client, agent, number)

    # the unit it belongs to may read it (the rule is not "refuse everything")
    assert client.get(f"/api/cases/{number}", headers=mine).status_code == 200
    assert client.get(f"/api/console/cases/{number}/actions", headers=mine).status_code == 200

    _refused(client.get(f"/api/cases/{number}", headers=other))
    _refused(client.get(f"/api/cases/{number}/events", headers=other))
    _refused(client.get(f"/api/console/cases/{number}/actions", headers=other))
    for action, body in ACTION_BODIES.items():
        r = client.post(f"/api/cases/{number}/transitions", json={"action": action, **body}, headers=other)
        assert r.status_code == 403, (action, r.text)
        _refused(r)
    # a stale version is not a 409 that would reveal the case's version
    _refused(
        client.post(
            f"/api/cases/{number}/transitions",
            json={"action": "note", "text": "x", "expected_version": 99},
            headers=other,
        )
    )
    assert _state(client, agent, number) == before  # nothing happened


def test_an_undispatched_case_is_refused_to_every_unit(client: TestClient, auth: Login) -> None:
    agent, street = auth("agent1"), auth("street1")
    number = _create(client, agent)["number"]  # 受理 only: no unit yet
    before = _state(client, agent, number)
    _refused(
        client.post(f"/api/cases/{number}/transitions", json={"action": "note", "text": "x"}, headers=street)
    )
    _refused(client.get(f"/api/console/cases/{number}/actions", headers=street))
    _refused(client.get(f"/api/cases/{number}", headers=street))
    assert _state(client, agent, number) == before


def test_a_co_unit_sees_the_case_and_a_former_unit_no_longer_does(client: TestClient, auth: Login) -> None:
    agent, sup = auth("agent1"), auth("super1")
    street1, street2, water = auth("street1"), auth("street2"), auth("water1")
    number = _create(
        client, agent, register=True, dispatch_unit_code="S110101001", co_unit_codes=["B110101-SW"]
    )["number"]
    assert client.get(f"/api/cases/{number}", headers=water).status_code == 200
    r = client.post(
        f"/api/cases/{number}/transitions", json={"action": "note", "text": "协办"}, headers=water
    )
    assert r.status_code == 200, r.text
    acts = client.get(f"/api/console/cases/{number}/actions", headers=water).json()["actions"]
    assert [a["action"] for a in acts] == ["note"]  # a co-unit may not sign for the lead unit
    _refused(client.get(f"/api/cases/{number}", headers=street2))

    # returned and re-dispatched to street2: street1 loses the case, street2 gains it
    r = client.post(
        f"/api/cases/{number}/transitions", json={"action": "return", "reason": "不属本街道"}, headers=street1
    )
    assert r.status_code == 200, r.text
    r = client.post(
        f"/api/cases/{number}/transitions",
        json={"action": "redispatch", "unit_code": "S110101002", "reason": "属景山街道"},
        headers=sup,
    )
    assert r.status_code == 200, r.text
    _refused(client.get(f"/api/cases/{number}", headers=street1))
    _refused(
        client.post(f"/api/cases/{number}/transitions", json={"action": "note", "text": "x"}, headers=street1)
    )
    assert client.get(f"/api/cases/{number}", headers=street2).status_code == 200


def test_unknown_numbers_are_404_for_everyone(client: TestClient, auth: Login) -> None:
    for user in ("street1", "agent1"):
        h = auth(user)
        assert client.get("/api/cases/2099010199999", headers=h).status_code == 404
        assert client.get("/api/console/cases/2099010199999/actions", headers=h).status_code == 404
        r = client.post(
            "/api/cases/2099010199999/transitions", json={"action": "note", "text": "x"}, headers=h
        )
        assert r.status_code == 404


@pytest.mark.parametrize(
    ("role", "unit", "lead", "co", "expected"),
    [
        ("agent", None, None, [], True),
        ("supervisor", None, "S1", [], True),
        ("admin", None, "S1", [], True),
        ("system", None, None, [], True),
        ("unit_handler", "S1", "S1", [], True),
        ("unit_handler", "S1", "S2", ["S1"], True),
        ("unit_handler", "S1", "S2", ["S3"], False),
        ("unit_handler", "S1", None, [], False),
        ("unit_handler", None, None, [], False),
        ("unit_handler", None, "S1", None, False),
        ("someone", "S1", "S1", [], False),
    ],
)
def test_the_rule(
    role: str, unit: str | None, lead: str | None, co: list[str] | None, expected: bool
) -> None:
    assert may_see_case(role, unit, lead, co) is expected
