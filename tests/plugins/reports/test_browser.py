"""The reports tab of the supervisor console and the repeat-complaint hint of the agent's screen-pop,
in Debian's Chromium (Playwright) against the real API server, SQLite and Redis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from callcenter import events as ev
from callcenter.db.session import session_scope
from callcenter.demo_history import seed_demo_history
from callcenter.domain.workflow import Actor, Role
from callcenter.services.calls import get_or_create_call
from callcenter.services.cases import NewCase, create_case
from tests.plugins.console.conftest import LiveServer, login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.slow]


def test_supervisor_generates_and_downloads_a_report(
    new_page: Any, live_server: LiveServer, tmp_path: Path
) -> None:
    with session_scope(live_server.database_url) as s:
        seed_demo_history(s, days=20, per_day=10, seed=5)
    live_server.app.state.settings.reports.out_dir = tmp_path
    page = new_page()
    login(page, "chief1")
    page.click("nav.tabs button[data-tab='reports']")
    page.wait_for_selector("#tab-reports:not(.hidden)")
    assert page.locator("#tab-board").is_hidden()
    page.select_option("#report-kind", "daily")
    page.click("#report-generate")
    page.wait_for_selector("#report-list .report-row .dl-pdf", timeout=120_000)
    assert "已生成报告" in page.inner_text("#report-status")
    with page.expect_download() as dl:
        page.click("#report-list .report-row .dl-pdf")
    path = dl.value.path()
    assert path is not None and Path(path).read_bytes().startswith(b"%PDF")
    with page.expect_download() as dl:
        page.click("#report-list .report-row .dl-xlsx")
    assert Path(dl.value.path()).read_bytes()[:2] == b"PK"
    page.wait_for_selector("#repeat-list .repeat-row")
    assert "屡" in page.inner_text("#repeat-list") or "多人反映" in page.inner_text("#repeat-list")
    screenshot(page, "supervisor-reports")


def test_agent_screen_pop_shows_repeat_complaints(
    new_page: Any, live_server: LiveServer, redis_client: Any
) -> None:
    phone = "13911112222"
    agent = Actor(Role.AGENT, 1)
    now = datetime.now(UTC)
    with session_scope(live_server.database_url) as s:
        for days_ago in (20, 6):
            new = NewCase(
                description="楼下饭馆油烟太大",
                caller_phone=phone,
                matter_code="0601001",
                street_code="110101001",
                district_code="110101",
                address="东华门大街1号",
                register=True,
            )
            c = create_case(s, new, agent, now=now - timedelta(days=days_ago))
            assert c.caller_phone == phone
        get_or_create_call(
            s, "1795000000.901", caller_number=phone, dialled_number="12345", channel="PJSIP/x-1"
        )
    page = new_page()
    login(page, "seat1")
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
    ev.publish_now(
        redis_client,
        ev.STREAM_AGENTS,
        "agent.connect",
        {
            "uniqueid": "1795000000.901",
            "queue": "hotline",
            "agent": "seat1",
            "interface": "PJSIP/8001",
            "wait": 1.0,
        },
    )
    page.wait_for_selector("#pop-body:not(.hidden)")
    page.wait_for_selector("#pop-repeats .repeat-hint")
    assert "屡诉：餐饮油烟 2次" in page.inner_text("#pop-repeats")
    screenshot(page, "agent-screen-pop-repeats")
