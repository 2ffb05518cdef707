"""The console in Debian's Chromium (Playwright) against the real API server, SQLite and Redis.

Live events are put on the real Redis streams exactly as the AMI bridge, the speech service and the
pipeline publish them; the Asterisk-driven run of the same screens is in test_e2e_asterisk.py.
Screenshots of every screen go to test-artifacts/screenshots/.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from callcenter import events as ev
from callcenter.db.models import Suggestion
from callcenter.db.session import session_scope
from callcenter.services.calls import get_or_create_call
from tests.plugins.console.conftest import LiveServer, login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.slow]

TEXT = "东华门街道这边楼下饭馆油烟太大了，熏得家里没法开窗"


def _call_with_suggestion(live: LiveServer, uniqueid: str, phone: str) -> int:
    with session_scope(live.database_url) as s:
        call = get_or_create_call(
            s,
            uniqueid,
            caller_number=phone,
            caller_name="张三",
            dialled_number="12345",
            channel="Local/12345@hotline-0001;2",
        )
        call.queue = "hotline"
        sug = Suggestion(
            call_id=call.id,
            model_version="test",
            text=TEXT,
            matters=[
                {"code": "0601001", "name": "餐饮油烟", "category": "市容环境", "score": 0.82},
                {"code": "0601002", "name": "私装地锁", "category": "市容环境", "score": 0.09},
                {"code": "1101001", "name": "停水", "category": "水务", "score": 0.04},
            ],
            unit_code="S110101001",
            area={"district": "110101", "street": "110101001", "community": None},
            evidence=["油烟", "饭馆"],
            confidence=0.82,
        )
        s.add(sug)
        s.flush()
        return int(sug.id)


def test_agent_screen_pop_transcript_suggestion_and_case(
    new_page: Any, live_server: LiveServer, redis_client: Any
) -> None:
    page = new_page()
    login(page, "seat1")
    assert page.url.endswith("/console/agent.html")
    # the agent's queue membership as Asterisk reports it (QueueMemberAdded → agent.status)
    ev.publish_now(
        redis_client,
        ev.STREAM_AGENTS,
        "agent.status",
        {
            "queue": "hotline",
            "agent": "seat1",
            "interface": "PJSIP/8001",
            "status": 1,
            "paused": False,
            "change": "added",
        },
    )
    page.wait_for_selector('#my-state[data-state="idle"]')

    uid = "1795000000.101"
    sid = _call_with_suggestion(live_server, uid, "13912345678")
    ev.publish_now(
        redis_client,
        ev.transcript_stream(uid),
        "transcript.partial",
        {"uniqueid": uid, "seq": 0, "text": "东华门街道这边"},
    )
    ev.publish_now(
        redis_client,
        ev.STREAM_AGENTS,
        "agent.connect",
        {"uniqueid": uid, "queue": "hotline", "agent": "seat1", "interface": "PJSIP/8001", "wait": 3.0},
    )
    page.wait_for_selector("#pop-body:not(.hidden)")
    assert page.inner_text("#pop-number") == "13912345678"
    page.wait_for_selector("#transcript .partial")
    assert "东华门街道这边" in page.inner_text("#transcript .partial")
    ev.publish_now(
        redis_client,
        ev.transcript_stream(uid),
        "transcript.final",
        {"uniqueid": uid, "seq": 0, "text": TEXT, "final": True},
    )
    page.wait_for_selector("#transcript .final mark")  # the evidence words highlighted
    assert page.locator("#transcript .partial").count() == 0
    assert page.locator("#suggestion .matter").count() == 3
    assert page.input_value("#f-matter") == "0601001"
    page.wait_for_function("document.getElementById('f-street').value === '110101001'")
    assert page.input_value("#f-unit") == "S110101001"
    assert TEXT in page.input_value("#f-description")
    page.wait_for_selector('#my-state[data-state="talking"]')
    screenshot(page, "agent-screen-pop")

    # the agent corrects the place's address and confirms; the case number is shown large
    page.fill("#f-address", "东华门大街1号")
    page.click("#btn-create")
    page.wait_for_selector("#result:not(.hidden)")
    number = page.inner_text("#case-number")
    assert len(number) >= 10
    screenshot(page, "agent-case-created")

    with httpx.Client(base_url=live_server.url, headers=live_server.headers("super1")) as api:
        case = api.get(f"/api/cases/{number}").json()
    assert case["status"] == "dispatched"
    assert case["unit_code"] == "S110101001"
    assert case["caller_phone"] == "13912345678"
    assert case["address"] == "东华门大街1号"
    with session_scope(live_server.database_url) as s:
        from callcenter.db.models import SuggestionFeedback

        fb = s.query(SuggestionFeedback).filter_by(suggestion_id=sid).one()
        assert fb.accepted is True and fb.matter_code == "0601001"

    # case search and detail with its timeline
    page.fill("#s-q", number)
    page.click("#search-form button")
    page.click(f"#search-results a:text('{number}')")
    page.wait_for_selector("#case-modal")
    assert page.locator("#case-modal table tr").count() >= 4  # header + create, register, dispatch
    screenshot(page, "agent-case-detail")


def test_agent_consultation_closed_on_the_call(
    new_page: Any, live_server: LiveServer, redis_client: Any
) -> None:
    uid = "1795000000.202"
    _call_with_suggestion(live_server, uid, "13700000001")
    page = new_page()
    login(page, "seat1")
    page.goto(f"/console/agent.html?call={uid}")
    page.wait_for_selector("#pop-body:not(.hidden)")
    page.fill("#f-description", "咨询油烟投诉的办理时限")
    page.fill("#f-answer", "已告知办理时限为5个工作日")
    page.click("#btn-resolve")
    page.wait_for_function("document.getElementById('case-status-label').textContent.includes('办结')")
    number = page.inner_text("#case-number")
    with httpx.Client(base_url=live_server.url, headers=live_server.headers("super1")) as api:
        case = api.get(f"/api/cases/{number}").json()
    assert case["status"] == "closed"
    assert case["kind"] == "consultation"
    assert case["feedback_text"] == "已告知办理时限为5个工作日"


def test_wallboard_shows_queued_caller_and_abandon(
    new_page: Any, live_server: LiveServer, redis_client: Any
) -> None:
    page = new_page()
    login(page, "super1")
    assert page.url.endswith("/console/supervisor.html")
    ev.publish_now(
        redis_client,
        ev.STREAM_AGENTS,
        "agent.status",
        {"queue": "hotline", "agent": "seat1", "interface": "PJSIP/8001", "status": 1, "change": "added"},
    )
    ev.publish_now(
        redis_client,
        ev.STREAM_QUEUES,
        "queue.caller_join",
        {"uniqueid": "1795000000.301", "queue": "hotline", "caller_number": "13800138000", "position": 1},
    )
    # Playwright's expect polls; 2 s is the bound for the board to reflect an event
    from playwright.sync_api import expect

    expect(page.locator('[data-queue="hotline"] [data-kpi="waiting"] .v')).to_have_text("1", timeout=2000)
    expect(page.locator('#callers [data-caller="1795000000.301"]')).to_be_visible(timeout=2000)
    expect(page.locator('#agents [data-agent="PJSIP/8001"] .state')).to_have_attribute("data-state", "idle")
    screenshot(page, "supervisor-wallboard-queued")
    ev.publish_now(
        redis_client,
        ev.STREAM_QUEUES,
        "queue.caller_abandon",
        {"uniqueid": "1795000000.301", "queue": "hotline", "position": 1, "wait": 12.0},
    )
    expect(page.locator('[data-queue="hotline"] [data-kpi="waiting"] .v')).to_have_text("0", timeout=2000)
    expect(page.locator('[data-queue="hotline"] [data-kpi="abandoned"] .v')).to_have_text(
        "100.0%", timeout=2000
    )
    screenshot(page, "supervisor-wallboard-abandoned")


def test_unit_returns_case_and_supervisor_arbitrates(new_page: Any, live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url, headers=live_server.headers("agent1")) as api:
        r = api.post(
            "/api/cases",
            json={
                "description": "东华门街道私装地锁占用消防通道",
                "matter_code": "0601002",
                "district_code": "110101",
                "street_code": "110101001",
                "register": True,
                "dispatch_unit_code": "S110101001",
            },
        )
        assert r.status_code == 201, r.text
        number = r.json()["number"]

    unit = new_page()
    login(unit, "street1")
    assert unit.url.endswith("/console/unit.html")
    unit.wait_for_selector(f'#inbox tr[data-number="{number}"]')
    screenshot(unit, "unit-inbox")
    unit.click(f'#inbox tr[data-number="{number}"] button')
    unit.click('#case-modal button[data-action="return"]')
    unit.fill(
        '.action-form[data-action="return"] input[name="reason"]', "地锁位于小区内部道路，不属于本街道管辖"
    )
    unit.click('.action-form[data-action="return"] button[type="submit"]')
    unit.wait_for_selector("#case-modal", state="detached")

    sup = new_page()
    login(sup, "super1")
    sup.click('nav.tabs button[data-tab="cases"]')
    row = sup.locator(f'#arbitration tr[data-number="{number}"]')
    row.wait_for()
    assert "不属于本街道管辖" in row.inner_text()
    screenshot(sup, "supervisor-arbitration")
    row.locator("button").click()
    sup.click('#case-modal button[data-action="redispatch"]')
    sup.select_option('.action-form[data-action="redispatch"] select[name="unit_code"]', "B110101-CG")
    sup.fill('.action-form[data-action="redispatch"] input[name="reason"]', "小区内部道路由城管委处理")
    sup.click('.action-form[data-action="redispatch"] button[type="submit"]')
    sup.wait_for_selector("#case-modal", state="detached")
    with httpx.Client(base_url=live_server.url, headers=live_server.headers("super1")) as api:
        case = api.get(f"/api/cases/{number}").json()
    assert case["status"] == "dispatched" and case["unit_code"] == "B110101-CG"
    assert [e["action"] for e in case["timeline"]][-2:] == ["return", "redispatch"]

    sup.click('nav.tabs button[data-tab="kpi"]')
    sup.wait_for_selector('#kpi-overall [data-kpi="total"]')
    sup.wait_for_selector("#hf-matters tr:nth-child(2)")
    screenshot(sup, "supervisor-kpi")


def test_overdue_list_and_one_click_supervision(new_page: Any, live_server: LiveServer) -> None:
    from datetime import UTC, datetime, timedelta

    from callcenter.db.models import Case

    with httpx.Client(base_url=live_server.url, headers=live_server.headers("agent1")) as api:
        r = api.post(
            "/api/cases",
            json={
                "description": "片区停水一天了",
                "matter_code": "1101001",
                "district_code": "110101",
                "register": True,
                "dispatch_unit_code": "B110101-SW",
            },
        )
        number = r.json()["number"]
    with session_scope(live_server.database_url) as s:
        case = s.query(Case).filter_by(number=number).one()
        case.accept_due_at = datetime.now(UTC) - timedelta(hours=3)
    page = new_page()
    login(page, "super1")
    page.click('nav.tabs button[data-tab="overdue"]')
    row = page.locator(f'#overdue tr[data-number="{number}"]')
    row.wait_for()
    assert "签收超时" in row.inner_text()
    screenshot(page, "supervisor-overdue")
    row.locator("button.primary").click()
    page.wait_for_selector(f'#overdue tr[data-number="{number}"] .badge.warn')
    with httpx.Client(base_url=live_server.url, headers=live_server.headers("super1")) as api:
        case_out = api.get(f"/api/cases/{number}").json()
    assert case_out["supervised"] is True
    assert case_out["timeline"][-1]["action"] == "supervise"


def _do(page: Any, number: str, action: str, fields: dict[str, str] | None = None) -> None:
    """Open the case detail, choose ``action``, fill its form and submit."""
    page.click(f'tr[data-number="{number}"] button')
    page.click(f'#case-modal button[data-action="{action}"]')
    form = f'.action-form[data-action="{action}"]'
    for name, value in (fields or {}).items():
        selector = f'{form} [name="{name}"]'
        if page.locator(selector).evaluate("n => n.tagName") == "SELECT":
            page.select_option(selector, value)
        else:
            page.fill(selector, value)
    page.click(f'{form} button[type="submit"]')
    page.wait_for_selector("#case-modal", state="detached")


def test_unit_accepts_asks_extension_answers_and_center_verifies(
    new_page: Any, live_server: LiveServer
) -> None:
    with httpx.Client(base_url=live_server.url, headers=live_server.headers("agent1")) as api:
        number = api.post(
            "/api/cases",
            json={
                "description": "东华门街道某饭馆油烟扰民",
                "matter_code": "0601001",
                "district_code": "110101",
                "street_code": "110101001",
                "register": True,
                "dispatch_unit_code": "S110101001",
            },
        ).json()["number"]
    unit = new_page()
    login(unit, "street1")
    unit.wait_for_selector(f'#inbox tr[data-number="{number}"]')
    _do(unit, number, "accept")
    _do(unit, number, "request_extension", {"hours": "48", "reason": "需协调环保部门联合检测"})

    sup = new_page()
    login(sup, "super1")
    sup.click('nav.tabs button[data-tab="cases"]')
    sup.wait_for_selector(f'#extensions tr[data-number="{number}"]')
    _do(sup, number, "approve_extension")

    unit.wait_for_selector(f'#inbox tr[data-number="{number}"]')
    _do(unit, number, "feedback", {"text": "已督促商户安装油烟净化器并复查合格", "resolved": "true"})
    sup.wait_for_selector(f'#verification tr[data-number="{number}"]')
    screenshot(sup, "supervisor-verification")
    _do(sup, number, "verify")
    with httpx.Client(base_url=live_server.url, headers=live_server.headers("super1")) as api:
        case = api.get(f"/api/cases/{number}").json()
    assert case["status"] == "verified"
    assert [e["action"] for e in case["timeline"]][-5:] == [
        "accept",
        "request_extension",
        "approve_extension",
        "feedback",
        "verify",
    ]


def test_agent_wrapup_after_the_call(new_page: Any, live_server: LiveServer, redis_client: Any) -> None:
    live_server.app.state.console_hub.wallboard.wrapup_seconds = 120
    page = new_page()
    login(page, "seat1")
    member = {"queue": "hotline", "agent": "seat1", "interface": "PJSIP/8001", "status": 1, "change": "added"}
    ev.publish_now(redis_client, ev.STREAM_AGENTS, "agent.status", member)
    page.wait_for_selector('#my-state[data-state="idle"]')
    call = {"uniqueid": "1795000000.401", "queue": "hotline", "interface": "PJSIP/8001", "wait": 1.0}
    ev.publish_now(redis_client, ev.STREAM_AGENTS, "agent.connect", call)
    page.wait_for_selector('#my-state[data-state="talking"]')
    ev.publish_now(redis_client, ev.STREAM_AGENTS, "agent.complete", {**call, "talk": 30.0})
    page.wait_for_selector('#my-state[data-state="wrapup"]')
    page.wait_for_selector("#wrapup:not(.hidden)")
    assert page.inner_text("#wrapup-left").startswith(("01:", "02:"))
    screenshot(page, "agent-wrapup")
