"""The desk as a newcomer finds it, in Debian's Chromium against the real API server, SQLite and Redis:
case search for every role within what it may see (date range with the Chinese picker, status, unit,
street, matter, paging), names next to codes, who did each step in the timeline, the searchable matter
picker (pinyin initials) and the live re-suggestion while the agent edits the description."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.plugins.console.conftest import LiveServer, login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.slow]

CATALOGUE = Path(__file__).resolve().parents[2] / "kernel" / "fixtures" / "catalogue"


def _cases(live: LiveServer, n_street1: int = 23, n_street2: int = 2) -> list[str]:
    """Dispatched cases: ``n_street1`` 餐饮油烟 to 东华门街道, ``n_street2`` 私装地锁 to 景山街道."""
    headers = live.headers("agent1")
    numbers = []
    with httpx.Client(base_url=live.url, headers=headers, timeout=30) as c:
        for i in range(n_street1 + n_street2):
            first = i < n_street1
            r = c.post(
                "/api/cases",
                json={
                    "description": f"楼下饭馆油烟太大 第{i}件" if first else f"小区里有人私装地锁 第{i}件",
                    "matter_code": "0601001" if first else "0601002",
                    "district_code": "110101",
                    "street_code": "110101001" if first else "110101002",
                    "register": True,
                    "dispatch_unit_code": "S110101001" if first else "S110101002",
                    "caller_phone": "13900001111",
                },
            )
            assert r.status_code == 201, r.text
            numbers.append(r.json()["number"])
    return numbers


def test_unit_handler_searches_only_its_cases_with_paging_and_names(
    live_server: LiveServer, new_page: Any
) -> None:
    numbers = _cases(live_server)
    page = new_page()
    login(page, "street1")
    expect(page.locator("#unit-name")).to_have_text("东华门街道办事处（S110101001）")
    # the inbox shows matter names, not codes
    expect(page.locator("#inbox")).to_contain_text("餐饮油烟（0601001）")
    search = page.locator("#case-search")
    expect(search.locator("#s-unit")).to_have_count(0)  # a unit handler searches its own unit only
    expect(search.locator("#s-phone")).to_have_count(0)
    search.locator("#search-form button[type=submit]").click()
    expect(page.locator("#search-summary")).to_have_text("共 23 件，第 1 / 2 页")
    expect(page.locator("#search-results tr[data-number]")).to_have_count(20)
    expect(page.locator("#search-results")).to_contain_text("餐饮油烟（0601001）")
    expect(page.locator("#search-results")).to_contain_text("东华门街道办事处（S110101001）")
    page.click("#s-next")
    expect(page.locator("#search-summary")).to_have_text("共 23 件，第 2 / 2 页")
    expect(page.locator("#search-results tr[data-number]")).to_have_count(3)
    screenshot(page, "desk-unit-search")
    # another unit's case is not found, even by its number
    page.fill("#s-q", numbers[-1])
    search.locator("#search-form button[type=submit]").click()
    expect(page.locator("#search-results")).to_contain_text("没有符合条件的工单")
    # and opening it is refused in Chinese (the server's English stays in err.detail)
    message = page.evaluate(
        f"api('/api/cases/{numbers[-1]}').then(() => 'opened', (e) => e.message + '|' + e.detail)"
    )
    shown, detail = message.split("|", 1)
    assert shown.startswith("无权执行该操作") and "not assigned to your unit" in detail


def test_supervisor_search_by_unit_matter_street_and_chinese_date_range(
    live_server: LiveServer, new_page: Any
) -> None:
    _cases(live_server, n_street1=3, n_street2=2)
    page = new_page()
    login(page, "super1")
    page.click('nav.tabs button[data-tab="search"]')
    form = page.locator("#search-form")
    form.locator("button[type=submit]").click()
    expect(page.locator("#search-summary")).to_have_text("共 5 件，第 1 / 1 页")

    # the matter picker: pinyin initials of 私装地锁
    page.fill("#s-matter-search", "szds")
    page.click('.cc-matter-list li[data-code="0601002"]')
    assert page.input_value("#s-matter") == "0601002"
    form.locator("button[type=submit]").click()
    expect(page.locator("#search-summary")).to_have_text("共 2 件，第 1 / 1 页")
    expect(page.locator("#search-results")).to_contain_text("私装地锁（0601002）")
    expect(page.locator("#search-results")).to_contain_text("景山街道办事处（S110101002）")

    # unit and street filters
    page.click("#s-reset")
    page.select_option("#s-unit", "S110101001")
    form.locator("button[type=submit]").click()
    expect(page.locator("#search-summary")).to_have_text("共 3 件，第 1 / 1 页")
    page.select_option("#s-unit", "")
    page.select_option("#s-district", "110101")
    page.wait_for_selector('#s-street option[value="110101002"]', state="attached")
    page.select_option("#s-street", "110101002")
    form.locator("button[type=submit]").click()
    expect(page.locator("#search-summary")).to_have_text("共 2 件，第 1 / 1 页")

    # the date pickers are the console's own, in Chinese, whatever the browser's language
    assert page.locator('input[type="date"], input[type="datetime-local"]').count() == 0
    page.click('.cc-date[data-for="s-from"]')
    picker = page.locator(".cc-picker")
    expect(picker.locator(".cc-days th")).to_have_text(["一", "二", "三", "四", "五", "六", "日"])
    expect(picker.locator(".cc-month")).to_contain_text("年")
    screenshot(page, "desk-date-picker")
    picker.locator(".cc-next").click()  # next month: no case was created then
    picker.locator('.cc-day[data-day="1"]').click()
    expect(page.locator('.cc-date[data-for="s-from"]')).to_have_value(re.compile(r"^\d{4}年\d{2}月01日$"))
    form.locator("button[type=submit]").click()
    expect(page.locator("#search-results")).to_contain_text("没有符合条件的工单")
    page.click('.cc-date[data-for="s-from"]')
    page.click(".cc-picker .cc-clear")
    page.click('.cc-date[data-for="s-to"]')
    page.click(".cc-picker .cc-today")
    form.locator("button[type=submit]").click()
    expect(page.locator("#search-summary")).to_have_text("共 2 件，第 1 / 1 页")


def test_case_detail_names_codes_and_says_who_did_each_step(live_server: LiveServer, new_page: Any) -> None:
    number = _cases(live_server, n_street1=1, n_street2=0)[0]
    r = httpx.post(
        f"{live_server.url}/api/cases/{number}/transitions",
        json={"action": "accept"},
        headers=live_server.headers("street1"),
        timeout=30,
    )
    assert r.status_code == 200, r.text
    page = new_page()
    login(page, "super1")
    page.click('nav.tabs button[data-tab="search"]')
    page.fill("#s-q", number)
    page.locator("#search-form button[type=submit]").click()
    page.click(f"#search-results a:text('{number}')")
    modal = page.locator("#case-modal")
    expect(modal.locator("#case-matter")).to_have_text("餐饮油烟（0601001）")
    expect(modal.locator("#case-unit")).to_have_text("东华门街道办事处（S110101001）")
    expect(modal.locator("#case-place")).to_contain_text("东华门")
    actors = modal.locator("table.timeline td.actor")
    expect(actors.first).to_have_text("agent1 · 坐席")
    expect(actors.last).to_have_text("street1 · 承办人 · 东华门街道办事处")
    screenshot(page, "desk-case-detail")


class _Holder:
    def __init__(self, suggester: Any) -> None:
        self.suggester = suggester

    def get(self) -> Any:
        return self.suggester


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from callcenter.catalogue import load_catalogue
    from callcenter.plugins.classifier.suggester import Suggester
    from callcenter.plugins.classifier.training import train

    path = tmp_path_factory.mktemp("model")
    train(path, progress=False, per_matter={"train": 24, "calib": 3, "test": 4}, seed=7, data_dir=CATALOGUE)
    return Suggester.load(path, catalogue=load_catalogue(CATALOGUE), threshold=0.85)


@pytest.fixture
def suggesting_server(live_server: LiveServer, trained: Any) -> Iterator[LiveServer]:
    from callcenter.plugins.classifier.http import get_holder

    live_server.app.dependency_overrides[get_holder] = lambda: _Holder(trained)
    yield live_server
    live_server.app.dependency_overrides.pop(get_holder, None)


def test_agent_matter_picker_and_live_resuggestion(suggesting_server: LiveServer, new_page: Any) -> None:
    page = new_page()
    login(page, "seat1")
    assert page.locator('input[type="datetime-local"]').count() == 0  # the callback time uses ours
    expect(page.locator('.cc-date[data-for="callback-at"]')).to_have_count(1)

    # typing the description suggests at once (no call needed), and again after each correction
    page.fill("#f-description", "楼下饭馆油烟太大了，熏得家里没法开窗")
    expect(page.locator("#suggestion .matter").first).to_have_attribute(
        "data-code", "0601001", timeout=15_000
    )
    assert page.input_value("#f-matter") == "0601001"
    expect(page.locator("#f-matter-search")).to_have_value("餐饮油烟（0601001）")
    page.fill("#f-description", "我家从早上开始停水了，一直没水")
    expect(page.locator("#suggestion .matter").first).to_have_attribute(
        "data-code", "1101001", timeout=15_000
    )
    assert page.input_value("#f-matter") == "1101001"
    screenshot(page, "desk-agent-resuggestion")

    # the agent's own pick (by pinyin initials: 私装地锁 → szds) is kept when the suggestion changes
    page.fill("#f-matter-search", "szds")
    page.click('.cc-matter-list li[data-code="0601002"]')
    assert page.input_value("#f-matter") == "0601002"
    seq = page.get_attribute("#suggestion", "data-live")
    page.fill("#f-description", "楼下饭馆油烟太大了，熏得家里没法开窗，请尽快处理")
    page.wait_for_function(f"document.getElementById('suggestion').dataset.live !== '{seq}'")
    assert page.input_value("#f-matter") == "0601002"
    # by name and by keyword too
    page.fill("#f-matter-search", "停水")
    expect(page.locator('.cc-matter-list li[data-code="1101001"]')).to_be_visible()
    page.fill("#f-matter-search", "餐馆")  # a keyword of 餐饮油烟
    expect(page.locator('.cc-matter-list li[data-code="0601001"]')).to_be_visible()
