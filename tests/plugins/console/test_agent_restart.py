"""Agent state after restarts (no phantom states), through the real Asterisk 22, the AMI bridge, the
API server and Chromium.

The agent joins and takes a real call (a simulated answering phone is its queue member), so the board
shows 通话中. Then Asterisk is killed mid-call and started again (``persistentmembers = no``: the
member is gone) and the API server is restarted too (its wallboard is rebuilt from today's events).
The console must show what Asterisk has — 未签入, join enabled, leave disabled — and joining works
again. Leaving when Asterisk has no such member succeeds (``already``), pausing then is refused with a
Chinese text (``X-Error-Code``).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.plugins.console.conftest import (
    LiveServer,
    login,
    screenshot,
    seed_console,
    start_server,
    stop_server,
)

pytestmark = [pytest.mark.asterisk, pytest.mark.redis, pytest.mark.browser, pytest.mark.slow]

#: The agent's queue member: a simulated phone that answers and talks 90 s (longer than the test).
AGENT_IFACE = "Local/sim-93-90@sim-agents/n"
TEXTS = Path(__file__).resolve().parents[3] / "callcenter" / "plugins" / "console" / "static" / "i18n"


@pytest.fixture
def stack(asterisk: Any, sqlite_url: str, telephony_redis_url: str) -> Iterator[dict[str, Any]]:
    import redis as redis_lib

    from tests.support.asterisk import start_stack

    asterisk.ensure_running()
    seed_console(sqlite_url, {"seat93": ("agent", None, AGENT_IFACE)})
    client = redis_lib.Redis.from_url(telephony_redis_url)
    with start_stack(asterisk, sqlite_url, telephony_redis_url) as st:
        servers: list[LiveServer] = []

        def serve() -> LiveServer:
            live = start_server(sqlite_url, telephony_redis_url)
            live.app.state.console_command_timeout_s = 15.0
            servers.append(live)
            return live

        try:
            yield {"stack": st, "serve": serve, "servers": servers, "asterisk": asterisk}
        finally:
            for live in servers:
                if live.thread.is_alive():
                    stop_server(live)
            asterisk.ensure_running()
            from callcenter.commands import send_command, wait_result

            with contextlib.suppress(Exception):
                wait_result(client, send_command(client, "queue_remove", interface=AGENT_IFACE), 10)
    client.close()


def _state(page: Any) -> Any:
    return page.locator("#my-state")


def test_no_phantom_agent_state_after_asterisk_and_api_restart(stack: dict[str, Any], browser: Any) -> None:
    st = stack["stack"]
    live: LiveServer = stack["serve"]()
    ctx = browser.new_context(base_url=live.url, viewport={"width": 1440, "height": 900}, locale="en-US")
    ctx.set_default_timeout(20_000)
    try:
        page = ctx.new_page()
        login(page, "seat93")
        page.click("#btn-join")
        expect(_state(page)).to_have_attribute("data-state", "idle", timeout=15_000)

        # a real call reaches the agent's queue member: 通话中
        calls: list[dict[str, Any]] = []
        caller = threading.Thread(
            target=lambda: calls.append(st.place_call(agents=0, keys="1", hold_s=90)), daemon=True
        )
        caller.start()
        expect(_state(page)).to_have_attribute("data-state", "talking", timeout=60_000)
        expect(_state(page)).to_have_text("通话中")

        # Asterisk dies mid-call and comes back without the member; the API server restarts as well
        stack["asterisk"].kill()
        stack["asterisk"].restart()
        st.bridge.wait_synced(60, generation=2)
        stop_server(live)
        live2: LiveServer = stack["serve"]()
        login_at(page, live2, "seat93")  # a new port is a new origin: log in again

        expect(_state(page)).to_have_attribute("data-state", "out", timeout=15_000)
        expect(_state(page)).to_have_text("未签入")
        expect(page.locator("#btn-join")).to_be_enabled()
        expect(page.locator("#btn-leave")).to_be_disabled()
        screenshot(page, "agent-after-asterisk-restart")

        # the API agrees with Asterisk: leaving when not a member is the wanted state, pausing is refused
        # with a Chinese text named by X-Error-Code
        headers = live2.headers("seat93")
        r = httpx.post(
            f"{live2.url}/api/console/agent/queue", json={"join": False}, headers=headers, timeout=30
        )
        assert r.status_code == 200, r.text
        assert r.json()["result"]["already"] is True
        r = httpx.post(
            f"{live2.url}/api/console/agent/pause",
            json={"paused": True, "reason": "break"},
            headers=headers,
            timeout=30,
        )
        assert r.status_code == 502
        assert r.headers["X-Error-Code"] == "ami.not_in_queue"
        import json

        texts = json.loads((TEXTS / "zh-CN.json").read_text(encoding="utf-8"))
        assert "不在队列" in texts["error.ami.not_in_queue"]

        # and joining works again from the page
        page.click("#btn-join")
        expect(_state(page)).to_have_attribute("data-state", "idle", timeout=15_000)
        expect(page.locator("#btn-leave")).to_be_enabled()
        caller.join(120)
    finally:
        ctx.close()


def test_board_is_reread_from_asterisk_when_the_api_starts(stack: dict[str, Any], browser: Any) -> None:
    """A member Asterisk has but today's events do not show (joined before midnight, or the streams
    were trimmed) appears once the API starts: the hub asks the bridge for a fresh ``queue.snapshot``."""
    import redis as redis_lib

    from callcenter.commands import send_command, wait_result

    st = stack["stack"]
    client = redis_lib.Redis.from_url(st.redis_url)
    try:
        res = wait_result(
            client,
            send_command(client, "queue_add", interface=AGENT_IFACE, member_name="seat93", queue="hotline"),
            15,
        )
        assert res["ok"], res
        # forget every event: the board can only learn the member from Asterisk itself
        for key in ("cc:events:agents", "cc:events:queues"):
            client.delete(key)
    finally:
        client.close()
    live: LiveServer = stack["serve"]()
    ctx = browser.new_context(base_url=live.url, viewport={"width": 1440, "height": 900})
    ctx.set_default_timeout(20_000)
    try:
        page = ctx.new_page()
        login(page, "seat93")
        expect(_state(page)).to_have_attribute("data-state", "idle", timeout=20_000)
        expect(page.locator("#btn-join")).to_be_disabled()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not live.app.state.console_hub.wallboard.agents:
            time.sleep(0.1)
        assert any(a.interface == AGENT_IFACE for a in live.app.state.console_hub.wallboard.agents.values())
    finally:
        ctx.close()


def login_at(page: Any, live: LiveServer, username: str) -> None:
    """Log in on another server (new port = new origin: its own storage)."""
    from tests.kernel.conftest import PASSWORD

    page.goto(f"{live.url}/console/")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url("**/console/*.html")
    page.wait_for_selector("#live:not(.down)")
