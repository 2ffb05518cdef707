"""Fixtures for the console: a seeded database, the real API server (uvicorn in a thread) and
Debian's Chromium driven by Playwright."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from callcenter.api.app import create_app
from callcenter.config import Settings
from callcenter.db.models import User
from callcenter.db.session import session_scope
from tests.kernel.conftest import PASSWORD, seed_test_data

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

#: Console users added on top of the core test users (agent with a queue member interface).
CONSOLE_USERS = {
    "seat1": ("agent", None, "8001"),
    "chief1": ("supervisor", None, "8009"),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed_console(url: str, extra_users: dict[str, tuple[str, str | None, str | None]] | None = None) -> None:
    seed_test_data(url)
    from tests.kernel.conftest import _HASH

    with session_scope(url) as session:
        for name, (role, unit, ext) in {**CONSOLE_USERS, **(extra_users or {})}.items():
            session.add(
                User(
                    username=name,
                    password_hash=_HASH,
                    role=role,
                    unit_code=unit,
                    extension=ext,
                    display_name=name,
                )
            )


@dataclass
class LiveServer:
    url: str
    app: Any
    server: uvicorn.Server
    thread: threading.Thread
    database_url: str
    redis_url: str

    def token(self, username: str) -> str:
        r = httpx.post(f"{self.url}/api/auth/token", data={"username": username, "password": PASSWORD})
        r.raise_for_status()
        return str(r.json()["access_token"])

    def headers(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(username)}"}


def start_server(database_url: str, redis_url: str, *, start_relay: bool = True) -> LiveServer:
    settings = Settings(mode="test", database_url=database_url, redis_url=redis_url)
    app = create_app(settings, start_relay=start_relay)
    app.state.console_command_timeout_s = 3.0
    port = free_port()
    # open SSE streams would otherwise hold a graceful shutdown until every browser disconnects
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="console-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    return LiveServer(f"http://127.0.0.1:{port}", app, server, thread, database_url, redis_url)


def stop_server(live: LiveServer) -> None:
    live.server.should_exit = True
    live.thread.join(timeout=15)


@pytest.fixture
def console_db(sqlite_url: str) -> str:
    seed_console(sqlite_url)
    return sqlite_url


@pytest.fixture
def live_server(console_db: str, redis_client: Any, redis_url: str) -> Iterator[LiveServer]:
    live = start_server(console_db, redis_url)
    yield live
    stop_server(live)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian Chromium through Playwright, one per test module: the sync API keeps an asyncio loop
    running in the main thread while it is open, which would break the asyncio tests of later
    packages if the browser lived for the whole session."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def new_page(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    """``new_page()`` → a fresh page (own context: own storage) on the live server."""
    contexts: list[Any] = []

    def make() -> Any:
        ctx = browser.new_context(
            base_url=live_server.url, viewport={"width": 1440, "height": 900}, locale="zh-CN"
        )
        ctx.set_default_timeout(10_000)
        contexts.append(ctx)
        return ctx.new_page()

    yield make
    for ctx in contexts:
        ctx.close()


def login(page: Any, username: str) -> None:
    page.goto("/console/")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url("**/console/*.html")
    page.wait_for_selector("#live:not(.down)")


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
