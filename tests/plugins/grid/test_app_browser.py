"""The grid worker app in Debian's Chromium (Playwright) with a phone viewport (375 × 812, touch),
browser geolocation and real file uploads, against the real API server (uvicorn), SQLite and Redis:
a report with photos and the browser's position, a report written offline and sent once when the
connection returns, 3 × 4 MB photos on a throttled connection (time printed; figure in
docs/benchmarks.md), and a check task done with before/after photos. Screenshots go to
test-artifacts/screenshots/."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select

from callcenter.api.app import create_app
from callcenter.db.models import Case, GridPhoto, GridReport, GridTask
from callcenter.db.session import session_scope
from callcenter.plugins.grid import services as svc
from tests.kernel.conftest import PASSWORD, seed_test_data
from tests.plugins.grid.conftest import GRIDS_CSV, MEMBERS_CSV, big_jpeg, grid_settings, jpeg

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-quic",
]
PHONE: Any = {"width": 375, "height": 812}
HERE: Any = {"latitude": 39.91612, "longitude": 116.40456}


class Live:
    def __init__(self, url: str, server: uvicorn.Server, thread: threading.Thread, db: str) -> None:
        self.url, self.server, self.thread, self.db = url, server, thread, db


@pytest.fixture
def live(sqlite_url: str, redis_url: str, redis_client: Any, tmp_path: Path) -> Iterator[Live]:
    seed_test_data(sqlite_url)
    with session_scope(sqlite_url) as s:
        svc.import_grids(s, GRIDS_CSV)
        svc.import_members(s, MEMBERS_CSV, PASSWORD)
    app = create_app(grid_settings(sqlite_url, redis_url, tmp_path / "uploads"), start_relay=False)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield Live(f"http://127.0.0.1:{port}", server, thread, sqlite_url)
    server.should_exit = True
    thread.join(timeout=15)


@pytest.fixture
def phone(live: Live) -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        ctx = browser.new_context(
            base_url=live.url,
            viewport=PHONE,
            is_mobile=True,
            has_touch=True,
            device_scale_factor=2,
            locale="zh-CN",
            geolocation=HERE,
            permissions=["geolocation"],
        )
        ctx.set_default_timeout(20_000)
        yield ctx
        ctx.close()
        browser.close()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def login(page: Any) -> None:
    page.goto("/grid")
    page.fill("#username", "grid1")
    page.fill("#password", PASSWORD)
    page.tap("#login-btn")
    page.wait_for_selector("#app:not([hidden])")
    page.wait_for_selector("#grid option[value=G001]", state="attached")


def counts(db: str) -> tuple[int, int, int]:
    with session_scope(db) as s:
        return (
            int(s.scalar(select(func.count()).select_from(Case)) or 0),
            int(s.scalar(select(func.count()).select_from(GridReport)) or 0),
            int(s.scalar(select(func.count()).select_from(GridPhoto)) or 0),
        )


def test_phone_report_offline_queue_throttled_upload_and_check_task(
    phone: Any, live: Live, tmp_path: Path
) -> None:
    page = phone.new_page()
    login(page)
    # phone layout: nothing wider than the screen, large touch targets
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    heights = page.evaluate(
        "Array.from(document.querySelectorAll('button:not([hidden])')).filter(b => b.offsetParent)"
        ".map(b => b.getBoundingClientRect().height)"
    )
    assert heights and min(heights) >= 48

    photos = []
    for i, color in enumerate(("red", "blue")):
        p = tmp_path / f"p{i}.jpg"
        p.write_bytes(jpeg(color=color))
        photos.append(str(p))
    # 1. a report with the browser's position and two photos
    page.fill("#description", "多福巷 3 号楼东侧垃圾桶满溢，周边有堆物")
    page.tap("#locate")
    page.wait_for_selector("#loc-text:has-text('已定位')")
    page.set_input_files("#photos", photos)
    page.wait_for_selector("#photo-thumbs img >> nth=1")
    shot(page, "grid-app-report")
    page.tap("#send")
    page.wait_for_selector("#report-msg:has-text('已上报')")
    assert counts(live.db) == (1, 1, 2)
    with session_scope(live.db) as s:
        r = s.scalar(select(GridReport))
        assert r is not None and r.location_source == "browser" and r.grid_code == "G001"
        assert abs((r.lat or 0) - HERE["latitude"]) < 1e-6 and abs((r.lon or 0) - HERE["longitude"]) < 1e-6

    # 2. written offline: kept in the browser, sent once when the connection returns
    phone.set_offline(True)
    page.evaluate("window.dispatchEvent(new Event('offline'))")
    page.fill("#description", "福祥里 5 号门口共享单车倒伏堵路")
    page.set_input_files("#photos", photos[:1])
    page.tap("#send")
    page.wait_for_selector("#report-msg:has-text('已保存在本机')")
    page.wait_for_selector("#queue:not([hidden])")
    assert "1 条" in page.inner_text("#queue")
    assert counts(live.db) == (1, 1, 2)
    shot(page, "grid-app-offline")
    phone.set_offline(False)
    page.wait_for_selector("#queue[hidden]", state="attached")
    assert counts(live.db) == (2, 2, 3)
    page.evaluate("window.dispatchEvent(new Event('online'))")  # a second 'online': nothing new
    page.wait_for_timeout(800)
    assert counts(live.db) == (2, 2, 3)

    # 3. three 4 MB photos on a throttled connection (16 Mbit/s up, 150 ms latency)
    big = []
    for i in range(3):
        p = tmp_path / f"big{i}.jpg"
        p.write_bytes(big_jpeg(4_000_000))
        big.append(str(p))
    sizes = [Path(p).stat().st_size for p in big]
    cdp = phone.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 150, "downloadThroughput": 2_000_000, "uploadThroughput": 2_000_000},
    )
    page.fill("#description", "沙滩北街路灯不亮，三张夜间照片")
    page.set_input_files("#photos", big)
    before = page.inner_text("#report-msg")
    started = time.monotonic()
    page.tap("#send")
    page.wait_for_function(
        "b => { const t = document.getElementById('report-msg').textContent;"
        " return t.includes('已上报') && t !== b; }",
        arg=before,
        timeout=120_000,
    )
    took = time.monotonic() - started
    print(f"\nthrottled upload: 3 photos, {sum(sizes) / 1e6:.1f} MB at 16 Mbit/s: {took:.1f} s")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    assert counts(live.db) == (3, 3, 6)
    assert took >= sum(sizes) / 2_000_000 * 0.8  # the throttle really applied to the upload

    # 4. a check task sent by the center, done on the phone with before/after photos
    agent = httpx.post(f"{live.url}/api/auth/token", data={"username": "agent1", "password": PASSWORD}).json()
    h = {"Authorization": f"Bearer {agent['access_token']}"}
    number = httpx.post(
        f"{live.url}/api/cases",
        json={
            "description": "多福巷 3 号门前路面塌陷",
            "caller_phone": "13800000000",
            "street_code": "110101001",
            "community_code": "110101001001",
            "address": "多福巷 3 号",
        },
        headers=h,
    ).json()["number"]
    r = httpx.post(
        f"{live.url}/api/grid/tasks", json={"case_number": number, "note": "请现场确认"}, headers=h
    )
    assert r.status_code == 201, r.text
    page.tap("nav button[data-tab=tasks]")
    card = page.wait_for_selector("form.task")
    card.query_selector("input[name=result]").fill("路面已修复")
    card.query_selector("input[name=before]").set_input_files(photos[0])
    card.query_selector("input[name=after]").set_input_files(photos[1])
    shot(page, "grid-app-task")
    card.query_selector("button[type=submit]").tap()
    page.wait_for_selector("form.task .msg:has-text('已提交')")
    with session_scope(live.db) as s:
        t = s.scalar(select(GridTask))
        assert t is not None and t.status == "done" and t.result == "路面已修复" and t.confirmed is True
    page.tap("nav button[data-tab=mine]")
    page.wait_for_selector("#mine .card >> nth=2")
    shot(page, "grid-app-mine")
