"""The admin screen (系统管理): the API over real HTTP (SQLite, Redis) with the CLI's checks and the
audit trail, and the screen in Debian's Chromium (admin edits of users, matters, time limits and the
responsibility list, a refused edit in Chinese, the audit trail)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from callcenter.db.models import AuditEntry, Matter, ResponsibilityRule, User
from callcenter.db.session import session_scope
from tests.kernel.conftest import PASSWORD
from tests.plugins.console.conftest import LiveServer, screenshot, seed_console

pytestmark = [pytest.mark.redis]


@pytest.fixture
def admin_server(sqlite_url: str, redis_client: Any, redis_url: str) -> Any:
    from tests.plugins.console.conftest import start_server, stop_server

    seed_console(sqlite_url, {"boss": ("admin", None, None)})
    live = start_server(sqlite_url, redis_url)
    yield live
    stop_server(live)


def _api(live: LiveServer, user: str = "boss") -> httpx.Client:
    return httpx.Client(base_url=live.url, headers=live.headers(user), timeout=30)


def test_admin_api_checks_like_the_cli_and_audits_every_change(admin_server: LiveServer) -> None:
    with _api(admin_server) as c:
        # only admins
        with _api(admin_server, "super1") as sup:
            assert sup.get("/api/admin/users").status_code == 403
        # the CLI's checks: a unit handler needs a unit, passwords of 8+, known roles
        r = c.post(
            "/api/admin/users", json={"username": "li", "role": "unit_handler", "password": "long-enough-1"}
        )
        assert r.status_code == 422 and "承办单位" in r.json()["detail"]
        assert r.headers["X-Error-Field"] == "unit_code"
        r = c.post("/api/admin/users", json={"username": "li", "role": "agent", "password": "short"})
        assert r.status_code == 422 and "8" in r.json()["detail"]
        r = c.post("/api/admin/users", json={"username": "li", "role": "pilot", "password": "long-enough-1"})
        assert r.status_code == 422 and r.headers["X-Error-Field"] == "role"
        r = c.post(
            "/api/admin/users",
            json={
                "username": "li",
                "role": "unit_handler",
                "unit_code": "S110101001",
                "password": "long-enough-1",
            },
        )
        assert r.status_code == 201, r.text
        # a refused edit changes nothing
        r = c.put("/api/admin/users/li", json={"username": "li", "role": "unit_handler", "unit_code": "NOPE"})
        assert r.status_code == 422
        r = c.put(
            "/api/admin/users/li",
            json={"username": "li", "role": "unit_handler", "unit_code": "S110101002", "active": False},
        )
        assert r.status_code == 200 and r.json()["active"] is False
        # the admin cannot lock himself out
        r = c.put("/api/admin/users/boss", json={"username": "boss", "role": "agent"})
        assert r.status_code == 422

        # matters and time limits
        r = c.put("/api/admin/matters/0601001/time-limits", json={"accept_hours": 0, "handle_days": 5})
        assert r.status_code == 422 and r.headers["X-Error-Field"] == "accept_hours"
        r = c.put("/api/admin/matters/0601001/time-limits", json={"accept_hours": 1.5, "handle_days": 4})
        assert r.status_code == 200 and r.json()["accept_hours"] == 1.5
        r = c.post(
            "/api/admin/matters",
            json={
                "code": "0601099",
                "name": "夜间施工噪声",
                "category_code": "99",
                "accept_hours": 2,
                "handle_days": 3,
            },
        )
        assert r.status_code == 422 and "事项大类" in r.json()["detail"]
        r = c.post(
            "/api/admin/matters",
            json={
                "code": "0601099",
                "name": "夜间施工噪声",
                "category_code": "06",
                "keywords": ["施工", "噪声"],
                "accept_hours": 2,
                "handle_days": 3,
            },
        )
        assert r.status_code == 201, r.text
        # the new matter is in the console's picker index with its pinyin initials
        idx = c.get("/api/console/matters/index").json()
        assert any(m["code"] == "0601099" and m["initials"] == "yjsgzs" for m in idx)

        # responsibility rules: references must exist, one rule per matter, area and kind
        rule = {
            "matter_code": "0601099",
            "area_code": "110101001",
            "unit_code": "S110101001",
            "rule_kind": "locality",
        }
        assert c.post("/api/admin/rules", json={**rule, "unit_code": "NOPE"}).status_code == 422
        r = c.post("/api/admin/rules", json=rule)
        assert r.status_code == 201, r.text
        rid = r.json()["id"]
        assert c.post("/api/admin/rules", json=rule).status_code == 422
        assert c.put(f"/api/admin/rules/{rid}", json={**rule, "note": "属地"}).status_code == 200
        assert c.delete(f"/api/admin/rules/{rid}").status_code == 204
        assert c.get("/api/admin/rules", params={"matter": "0601099"}).json()["total"] == 0
        assert c.delete(f"/api/admin/rules/{rid}").status_code == 422
        # units
        r = c.post("/api/admin/units", json={"code": "S110101009", "name": "测试街道", "kind": "planet"})
        assert r.status_code == 422 and r.headers["X-Error-Field"] == "kind"
        r = c.post(
            "/api/admin/units", json={"code": "S110101009", "name": "测试街道", "kind": "street_office"}
        )
        assert r.status_code == 201

        trail = c.get("/api/admin/audit").json()
    actions = [e["action"] for e in trail]
    for a in (
        "admin.user.created",
        "admin.user.updated",
        "admin.time_limit.updated",
        "admin.matter.created",
        "admin.rule.created",
        "admin.rule.updated",
        "admin.rule.deleted",
        "admin.unit.created",
    ):
        assert a in actions, a
    upd = next(e for e in trail if e["action"] == "admin.user.updated")
    assert upd["actor"] == "boss" and upd["detail"]["changes"]["unit_code"] == ["S110101001", "S110101002"]
    assert all("password" not in str(e["detail"].get("values", {})) for e in trail)
    # refused edits left no trace and changed nothing
    with session_scope(admin_server.database_url) as s:
        li = s.scalar(select(User).where(User.username == "li"))
        assert li is not None and li.unit_code == "S110101002"
        # the deleted rule is kept inactive (a tombstone for `callcenter seed`), never listed again
        gone = s.scalar(select(ResponsibilityRule).where(ResponsibilityRule.matter_code == "0601099"))
        assert gone is not None and not gone.active and gone.source == "admin"
        m = s.get(Matter, "0601001")
        assert m is not None and m.accept_hours == 1.5 and m.handle_days == 4
        assert len(list(s.scalars(select(AuditEntry).where(AuditEntry.action.like("admin.%"))))) == len(trail)


def _login_admin(page: Any, live: LiveServer) -> None:
    page.goto(f"{live.url}/console/")
    page.fill("#username", "boss")
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url("**/admin/")
    page.wait_for_selector("body[data-ready='1']")


@pytest.mark.browser
@pytest.mark.slow
def test_admin_screen_edits_with_checks_and_audit_trail(admin_server: LiveServer, browser: Any) -> None:
    ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    ctx.set_default_timeout(10_000)
    try:
        page = ctx.new_page()
        _login_admin(page, admin_server)  # the admin lands on the admin screen
        expect(page.locator("h1")).to_have_text("系统管理")

        # a new agent; a refused one first (too short a password), shown in Chinese
        form = page.locator('form[data-kind="user"]')
        form.locator("#a-username").fill("seat7")
        form.locator("#a-display_name").fill("七号坐席")
        form.locator("#a-role").select_option("agent")
        form.locator("#a-extension").fill("8007")
        form.locator("#a-password").fill("short")
        form.locator("#a-save").click()
        expect(page.locator(".toast.bad")).to_contain_text("密码至少 8 个字符")
        form.locator("#a-password").fill("seat7-password")
        form.locator("#a-save").click()
        expect(page.locator('#a-table tr[data-key="seat7"]')).to_contain_text("七号坐席")
        expect(page.locator('#a-table tr[data-key="seat7"]')).to_contain_text("坐席")

        # a matter's time limits
        page.click('nav.tabs button[data-tab="limits"]')
        limits = page.locator("#tab-limits")
        limits.locator("#a-q").fill("餐饮")
        limits.locator("#a-q").press("Enter")
        limits.locator('#a-table tr[data-key="0601001"] .a-edit').click()
        limits.locator("#a-accept_hours").fill("1")
        limits.locator("#a-handle_days").fill("3")
        limits.locator("#a-save").click()
        expect(limits.locator('#a-table tr[data-key="0601001"]')).to_contain_text("3")
        with session_scope(admin_server.database_url) as s:
            m = s.get(Matter, "0601001")
            assert m is not None and (m.accept_hours, m.handle_days) == (1.0, 3.0)

        # a responsibility rule, with the searchable matter picker (pinyin initials of 停水: ts)
        page.click('nav.tabs button[data-tab="rules"]')
        rules = page.locator("#tab-rules")
        rules.locator("#a-matter_code-search").fill("ts")
        rules.locator('.cc-matter-list li[data-code="1101001"]').click()
        rules.locator("#a-area_code").fill("110101001")
        rules.locator("#a-unit_code").select_option("S110101001")
        rules.locator("#a-rule_kind").select_option("override")
        rules.locator("#a-note").fill("东华门街道停水由街道先行处置")
        rules.locator("#a-save").click()
        expect(page.locator(".toast").last).to_contain_text("已保存")
        expect(rules.locator("#a-table")).to_contain_text("东华门街道停水由街道先行处置")
        expect(rules.locator("#a-table")).to_contain_text("停水（1101001）")

        # the audit trail names who changed what
        page.click('nav.tabs button[data-tab="audit"]')
        audit = page.locator("#a-audit")
        expect(audit.locator('tr[data-action="admin.user.created"]')).to_contain_text("boss")
        expect(audit.locator('tr[data-action="admin.time_limit.updated"]')).to_contain_text(
            "办理时限（天）：5 → 3"
        )
        expect(audit.locator('tr[data-action="admin.rule.created"]')).to_contain_text("新增权责规则")
        screenshot(page, "admin-audit")
    finally:
        ctx.close()
