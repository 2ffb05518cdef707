"""Callbacks in the console: ``GET /api/console/callbacks`` over real HTTP (SQLite, real Redis)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
import redis as redis_lib

from callcenter.db.session import session_scope
from callcenter.services import callbacks as service
from tests.plugins.callbacks.helpers import close_case, make_settings, verified_case
from tests.plugins.console.conftest import LiveServer, seed_console, start_server, stop_server

pytestmark = [pytest.mark.redis]


@pytest.fixture
def console(sqlite_url: str, redis_client: redis_lib.Redis, redis_url: str) -> Iterator[LiveServer]:
    seed_console(sqlite_url)
    live = start_server(sqlite_url, redis_url, start_relay=False)
    yield live
    stop_server(live)


def test_scheduled_in_progress_and_done_callbacks_with_outcome(console: LiveServer) -> None:
    db = console.database_url
    settings = make_settings(db, console.redis_url)
    now = datetime.now(UTC)
    verified_case(db, "2026112300301", "13944440001")
    close_case(db, "2026112300301")
    with session_scope(db) as s:
        rv, _ = service.schedule_return_visit(s, "2026112300301", settings, now)
        assert rv is not None
        rv_id = rv.id
        waiting, _ = service.schedule(
            s,
            kind="queue_callback",
            key="t:later",
            phone="13944440002",
            at=now.replace(year=now.year + 1),
            max_attempts=3,
        )
        later_id = waiting.id
    with session_scope(db) as s:
        (claim,) = service.claim_due(s, now, settings, "w")
    assert claim.callback_id == rv_id
    with session_scope(db) as s:
        service.apply_survey(
            s,
            case_number="2026112300301",
            callback_id=rv_id,
            resolved=True,
            satisfaction="basic",
            method="dtmf",
            raw={},
            now=now,
            settings=settings,
        )
    with httpx.Client(base_url=console.url, timeout=10) as c:
        assert c.get("/api/console/callbacks").status_code == 401
        sup = c.get("/api/console/callbacks", headers=console.headers("chief1"))
        assert sup.status_code == 200
        rows = {r["id"]: r for r in sup.json()}
        assert rows[rv_id]["status"] == "done" and rows[rv_id]["kind"] == "return_visit"
        assert rows[rv_id]["case_number"] == "2026112300301" and rows[rv_id]["attempts"] == 1
        assert rows[rv_id]["survey"]["satisfaction"] == "basic" and rows[rv_id]["survey"]["evaluated"] is True
        assert rows[later_id]["status"] == "scheduled" and rows[later_id]["next_attempt_at"]
        only = c.get("/api/console/callbacks?status=scheduled", headers=console.headers("chief1")).json()
        assert [r["id"] for r in only] == [later_id]
        bad = c.get("/api/console/callbacks?status=nonsense", headers=console.headers("chief1"))
        assert bad.status_code == 422
        agent = c.get("/api/console/callbacks", headers=console.headers("seat1")).json()
        phones = {r["id"]: r["phone"] for r in agent}
        assert phones[later_id] == "13944440002"  # agents call citizens back: full number (privacy rules)
