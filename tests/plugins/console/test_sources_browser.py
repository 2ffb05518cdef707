"""The supervisor console in Debian's Chromium shows today's cases per source on the wallboard and the
indicators per source on the KPI tab (static/js/sources.js), against the real server, SQLite, Redis
and the real outbox relay (case.create reaches the hub's wallboard through Redis)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.plugins.console.conftest import LiveServer, login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.slow]


def test_cases_by_source_on_wallboard_and_kpis(new_page: Any, live_server: LiveServer) -> None:
    from playwright.sync_api import expect

    page = new_page()
    login(page, "super1")
    for body in ({"description": "网上反映：多福巷油烟"}, {"description": "网上反映：景山街道路灯"}):
        r = httpx.post(f"{live_server.url}/api/public/cases", json=body)
        assert r.status_code == 201, r.text
    r = httpx.post(
        f"{live_server.url}/api/cases",
        json={"description": "电话：家里停水", "caller_phone": "13800000000"},
        headers=live_server.headers("agent1"),
    )
    assert r.status_code == 201
    table = page.locator("#sources-today")
    expect(table.locator("tr", has_text="网站填报")).to_contain_text("2", timeout=15_000)
    expect(table.locator("tr", has_text="热线电话")).to_contain_text("1", timeout=15_000)
    screenshot(page, "supervisor-sources-today")
    page.click('button[data-tab="kpi"]')
    page.click("#kpi-form button[type=submit]")
    kpi = page.locator("#sources-kpi")
    expect(kpi.locator("tr", has_text="网站填报")).to_contain_text("66.7%", timeout=15_000)
    expect(kpi.locator("tr", has_text="热线电话")).to_be_visible()
    expect(page.locator("#grid-figures")).to_be_attached()
    screenshot(page, "supervisor-sources-kpi")
