"""Live streams and the people behind them (issue 12, items 1, 7 and 8), over real HTTP (uvicorn in a
thread), SQLite and Redis.

* An open stream ends (``event: end``) when its user is deactivated or its role or unit changes —
  before the fix it kept delivering events to a deactivated user — and when the login token expires;
  reconnecting then gets 401. The same for one call's live transcript.
* A co-unit (协办单位) gets the events of its cases; names and numbers in event payloads are masked for
  unit handlers.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import update

from callcenter import events as ev
from callcenter.config import get_settings
from callcenter.db.models import User
from callcenter.db.session import session_scope
from callcenter.security import ALGORITHM
from callcenter.services.calls import get_or_create_call
from tests.plugins.console.conftest import LiveServer
from tests.plugins.console.test_api import SSE

pytestmark = [pytest.mark.redis]

RECHECK_S = 0.3


@pytest.fixture
def live(live_server: LiveServer) -> Iterator[LiveServer]:
    live_server.app.state.settings.console.stream_recheck_s = RECHECK_S
    yield live_server


def _open(live: LiveServer, path: str, headers: dict[str, str]) -> Any:
    client = httpx.Client(base_url=live.url, timeout=httpx.Timeout(10.0))
    return client, client.stream("GET", path, headers=headers)


def _user_id(live: LiveServer, username: str) -> int:
    from sqlalchemy import select

    with session_scope(live.database_url) as s:
        return int(s.scalar(select(User.id).where(User.username == username)) or 0)


def _set_user(live: LiveServer, username: str, **values: Any) -> None:
    with session_scope(live.database_url) as s:
        s.execute(update(User).where(User.username == username).values(**values))


def _wait_end(stream: SSE, redis_client: Any, within_s: float) -> tuple[dict[str, Any], int]:
    """Read until ``event: end`` (publishing case events meanwhile); returns it and how many case
    events were delivered before it."""
    delivered = 0
    deadline = time.monotonic() + within_s
    while True:
        assert time.monotonic() < deadline, "the stream did not end"
        ev.publish_now(redis_client, ev.STREAM_CASES, "case.note", {"number": "X", "unit_code": "S110101001"})
        msg = stream.next(event=None)
        if msg["event"] == "end":
            return msg, delivered
        if msg["event"] == "message":
            delivered += 1


@pytest.mark.parametrize(
    ("username", "change"),
    [
        ("street1", {"active": False}),
        ("agent1", {"active": False}),
        ("street1", {"unit_code": "S110101002"}),
        ("agent1", {"role": "unit_handler", "unit_code": "S110101001"}),
    ],
)
def test_the_stream_ends_when_the_user_is_deactivated_or_changed(
    live: LiveServer, redis_client: Any, username: str, change: dict[str, Any]
) -> None:
    headers = live.headers(username)
    client, ctx = _open(live, "/api/console/events", headers)
    with client, ctx as r:
        assert r.status_code == 200
        stream = SSE(r)
        stream.next(event="hello")
        ev.publish_now(redis_client, ev.STREAM_CASES, "case.note", {"number": "A", "unit_code": "S110101001"})
        assert stream.next()["data"]["data"]["number"] == "A"
        changed_at = time.monotonic()
        _set_user(live, username, **change)
        end, _ = _wait_end(stream, redis_client, within_s=RECHECK_S * 10 + 5)
        assert time.monotonic() - changed_at < RECHECK_S * 10 + 5
        assert "no longer active" in end["data"]["reason"] or "role or unit" in end["data"]["reason"]
        with pytest.raises(EOFError):  # and the server closed it
            stream.next(event=None)
    # the browser's reconnect: refused for a deactivated user, a fresh stream (new role/unit) otherwise
    client, ctx = _open(live, "/api/console/events", headers)
    with client, ctx as again:
        assert again.status_code == (401 if change.get("active") is False else 200)


def test_the_stream_ends_when_the_token_expires(live: LiveServer, redis_client: Any) -> None:
    live.app.state.settings.console.stream_recheck_s = 60.0  # expiry alone must end it
    now = datetime.now(UTC)
    token = jwt.encode(
        {
            "sub": str(_user_id(live, "super1")),
            "role": "supervisor",
            "iat": now,
            "exp": now + timedelta(seconds=2),
        },
        get_settings().secret_key,
        algorithm=ALGORITHM,
    )
    headers = {"Authorization": f"Bearer {token}"}
    client, ctx = _open(live, "/api/console/events", headers)
    started = time.monotonic()
    with client, ctx as r:
        assert r.status_code == 200
        stream = SSE(r)
        stream.next(event="hello")
        end, delivered = _wait_end(stream, redis_client, within_s=10)
    assert end["data"]["reason"] == "the login token expired"
    assert delivered >= 1  # it did deliver while the token was valid
    assert time.monotonic() - started < 6
    assert httpx.get(f"{live.url}/api/console/events", headers=headers, timeout=5).status_code == 401


def test_the_live_transcript_ends_when_the_user_is_deactivated(live: LiveServer, redis_client: Any) -> None:
    with session_scope(live.database_url) as s:
        get_or_create_call(s, "pbx1-77.1", caller_number="13812348000")
    headers = live.headers("seat1")
    client, ctx = _open(live, "/api/console/calls/pbx1-77.1/live", headers)
    with client, ctx as r:
        assert r.status_code == 200
        stream = SSE(r)
        ev.publish_now(
            redis_client, ev.transcript_stream("pbx1-77.1"), "transcript.partial", {"text": "路灯"}
        )
        assert stream.next()["data"]["data"] == {"text": "路灯"}
        _set_user(live, "seat1", active=False)
        end = stream.next(event="end")
    assert end["data"]["reason"] == "the user is no longer active"


def test_co_units_get_their_case_events_and_names_and_numbers_are_masked(
    live: LiveServer, redis_client: Any
) -> None:
    """Case events from the real API (the kernel writes ``co_unit_codes`` into each event)."""
    agent = live.headers("agent1")
    note_text = "居民电话13812348000，身份证110101199003071234"
    client, ctx = _open(live, "/api/console/events", live.headers("water1"))
    with client, ctx as r:
        stream = SSE(r)
        stream.next(event="hello")
        c = httpx.post(
            f"{live.url}/api/cases",
            json={
                "description": "水管漏水",
                "caller_phone": "13812348000",
                "caller_name": "张三丰",
                "matter_code": "0601001",
                "register": True,
                "dispatch_unit_code": "S110101001",
                "co_unit_codes": ["B110101-SW"],
            },
            headers=agent,
            timeout=10,
        )
        assert c.status_code == 201, c.text
        number = c.json()["number"]
        r2 = httpx.post(
            f"{live.url}/api/cases/{number}/transitions",
            json={"action": "note", "text": note_text},
            headers=agent,
            timeout=10,
        )
        assert r2.status_code == 200
        got = [stream.next()["data"], stream.next()["data"]]
    # 受理 and 立案 happened before the dispatch named the units: the co-unit sees from the dispatch on
    assert [m["type"] for m in got] == ["case.dispatch", "case.note"]
    note = got[-1]["data"]
    assert note["number"] == number and note["co_unit_codes"] == ["B110101-SW"]
    assert note["reason"] == "居民电话138****8000，身份证110101********1234"
    full = httpx.get(f"{live.url}/api/cases/{number}", headers=agent, timeout=10).json()
    assert [e["reason"] for e in full["timeline"] if e["action"] == "note"] == [note_text]
