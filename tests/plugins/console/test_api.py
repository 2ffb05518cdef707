"""Console API over real HTTP (uvicorn), SQLite and Redis: live events with resume, role filtering,
screen-pop, commands to the AMI bridge, callbacks, KPIs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from callcenter import events as ev
from callcenter.db.models import Callback, Case
from callcenter.db.session import session_scope
from callcenter.services.calls import get_or_create_call
from tests.plugins.console.conftest import LiveServer

pytestmark = [pytest.mark.redis]


class SSE:
    """A minimal SSE reader over an httpx streaming response."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.lines = response.iter_lines()

    def next(self, *, event: str | None = "message") -> dict[str, Any]:
        """The next message of type ``event`` (None: any) as {"event", "id", "data"}."""
        while True:
            msg: dict[str, Any] = {"event": "message", "id": None, "data": []}
            for line in self.lines:
                if line == "":
                    if msg["data"] or msg["id"]:
                        break
                    continue
                if line.startswith(":"):
                    continue
                key, _, value = line.partition(": ")
                if key == "data":
                    msg["data"].append(value)
                elif key in ("id", "event"):
                    msg[key] = value
            else:
                raise EOFError("stream ended")
            msg["data"] = json.loads("\n".join(msg["data"])) if msg["data"] else None
            if event is None or msg["event"] == event:
                return msg


@contextmanager
def sse(live: LiveServer, user: str, path: str = "/api/console/events", **headers: str) -> Iterator[SSE]:
    h = {**live.headers(user), **headers}
    with (
        httpx.Client(base_url=live.url, timeout=httpx.Timeout(10.0)) as client,
        client.stream("GET", path, headers=h) as r,
    ):
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"].startswith("text/event-stream")
        yield SSE(r)


def test_events_need_a_valid_token(live_server: LiveServer) -> None:
    r = httpx.get(f"{live_server.url}/api/console/events", timeout=5)
    assert r.status_code == 401
    r = httpx.get(f"{live_server.url}/api/console/events?token=garbage", timeout=5)
    assert r.status_code == 401


def test_events_stream_and_resume_with_last_event_id(live_server: LiveServer, redis_client: Any) -> None:
    with sse(live_server, "super1") as stream:
        hello = stream.next(event="hello")
        assert hello["id"] and hello["data"]["resumed"] is False
        for i in range(3):
            ev.publish_now(
                redis_client, ev.STREAM_CASES, "case.create", {"number": f"N{i}", "unit_code": None}
            )
        got = [stream.next() for _ in range(3)]
    assert [m["data"]["data"]["number"] for m in got] == ["N0", "N1", "N2"]
    last = got[-1]["id"]
    # while the console is away: a case event, a queue event, then it comes back with its cursor
    ev.publish_now(redis_client, ev.STREAM_CASES, "case.create", {"number": "N3"})
    ev.publish_now(
        redis_client, ev.STREAM_QUEUES, "queue.caller_join", {"uniqueid": "u9", "queue": "hotline"}
    )
    with sse(live_server, "super1", **{"Last-Event-ID": last}) as stream:
        assert stream.next(event="hello")["data"]["resumed"] is True
        missed = [stream.next(), stream.next()]
        assert [m["data"]["type"] for m in missed] == ["case.create", "queue.caller_join"]
        ev.publish_now(redis_client, ev.STREAM_CASES, "case.create", {"number": "N4"})
        live_msg = stream.next()
    assert live_msg["data"]["data"]["number"] == "N4"  # nothing twice: N3 is not repeated


def test_bad_last_event_id_is_refused(live_server: LiveServer) -> None:
    r = httpx.get(
        f"{live_server.url}/api/console/events",
        headers={**live_server.headers("super1"), "Last-Event-ID": "X:1-0"},
        timeout=5,
    )
    assert r.status_code == 400
    assert "Last-Event-ID" in r.json()["detail"]


def test_unit_handler_sees_only_its_own_case_events(live_server: LiveServer, redis_client: Any) -> None:
    with sse(live_server, "street1") as stream:
        stream.next(event="hello")
        ev.publish_now(
            redis_client, ev.STREAM_CALLS, "call.new", {"uniqueid": "u1", "caller_number": "13800000000"}
        )
        ev.publish_now(
            redis_client, ev.STREAM_CASES, "case.dispatch", {"number": "A", "unit_code": "S110101002"}
        )
        ev.publish_now(
            redis_client, ev.STREAM_CASES, "case.dispatch", {"number": "B", "unit_code": "S110101001"}
        )
        msg = stream.next()
    assert msg["data"]["data"]["number"] == "B"


def test_wallboard_snapshot_follows_queue_events(live_server: LiveServer, redis_client: Any) -> None:
    with sse(live_server, "super1", path="/api/console/events?wallboard=1") as stream:
        first = stream.next(event="wallboard")["data"]
        assert first["queues"] == []
        ev.publish_now(
            redis_client,
            ev.STREAM_QUEUES,
            "queue.caller_join",
            {"uniqueid": "u1", "queue": "hotline", "caller_number": "13800000000", "position": 1},
        )
        board = stream.next(event="wallboard")["data"]
    q = board["queues"][0]
    assert (q["queue"], q["waiting"], q["offered"]) == ("hotline", 1, 1)
    r = httpx.get(f"{live_server.url}/api/console/wallboard", headers=live_server.headers("seat1"), timeout=5)
    assert r.json()["queues"][0]["waiting"] == 1
    r = httpx.get(
        f"{live_server.url}/api/console/wallboard", headers=live_server.headers("street1"), timeout=5
    )
    assert r.status_code == 403


def test_screen_pop_with_repeat_caller_and_masking(live_server: LiveServer) -> None:
    phone = "13611112222"
    with session_scope(live_server.database_url) as s:
        old = get_or_create_call(
            s, "1790000000.1", caller_number=phone, started_at=datetime.now(UTC) - timedelta(days=3)
        )
        old.ended_at = datetime.now(UTC) - timedelta(days=3)
        get_or_create_call(s, "1790000000.2", caller_number=phone, caller_name="李四", dialled_number="96010")
    with httpx.Client(base_url=live_server.url, timeout=5) as c:
        r = c.post(
            "/api/cases",
            headers=live_server.headers("agent1"),
            json={"description": "上次反映的油烟问题", "caller_phone": phone, "matter_code": "0601001"},
        )
        assert r.status_code == 201
        pop = c.get("/api/console/screen-pop/1790000000.2", headers=live_server.headers("seat1")).json()
        assert pop["call"]["caller_number"] == phone
        assert pop["call"]["caller_name"] == "李四"
        assert pop["repeat_caller"] is True and pop["prior_calls"] == 1
        assert [c["number"] for c in pop["open_cases"]] == [r.json()["number"]]
        assert pop["suggestion"] is None
        assert c.get("/api/console/screen-pop/nope", headers=live_server.headers("seat1")).status_code == 404
        assert (
            c.get("/api/console/screen-pop/1790000000.2", headers=live_server.headers("street1")).status_code
            == 403
        )


def test_commands_go_to_the_ami_bridge_stream(live_server: LiveServer, redis_client: Any) -> None:
    """Without a bridge running the command waits on ``cc:commands:ami`` and the API says so (504)."""
    with httpx.Client(base_url=live_server.url, timeout=15) as c:
        r = c.post("/api/console/agent/queue", headers=live_server.headers("seat1"), json={"join": True})
        if not redis_client.keys("cc:ami:bridge:*"):  # no bridge on this Redis (CI runs suites one by one)
            assert r.status_code == 504
            assert "ami-bridge" in r.json()["detail"]
        # an agent's commands go to the bridge of the agent's node (here the API's node, pbx1)
        assert redis_client.xlen(ev.STREAM_COMMANDS) == 0
        entries = redis_client.xrange(f"{ev.STREAM_COMMANDS}:pbx1")
        cmd = ev.decode(entries[-1][1])
        assert cmd["type"] == "queue_add"
        assert cmd["data"]["interface"] == "PJSIP/8001"
        assert cmd["data"]["member_name"] == "seat1"
        assert cmd["data"]["queue"] == "hotline"
        # bad input never reaches Redis
        n = len(entries)
        r = c.post("/api/console/agent/pause", headers=live_server.headers("seat1"), json={"paused": True})
        assert r.status_code == 422
        r = c.post(
            "/api/console/agent/pause",
            headers=live_server.headers("seat1"),
            json={"paused": True, "reason": "nap"},
        )
        assert r.status_code == 422
        r = c.post("/api/console/agent/queue", headers=live_server.headers("agent1"), json={"join": True})
        assert r.status_code == 409  # no extension configured
        r = c.post("/api/console/spy", headers=live_server.headers("seat1"), json={"agent": "PJSIP/8002"})
        assert r.status_code == 403  # agents may not spy
        assert len(redis_client.xrange(f"{ev.STREAM_COMMANDS}:pbx1")) == n


def test_schedule_callback_is_idempotent(live_server: LiveServer) -> None:
    at = (datetime.now(UTC) + timedelta(hours=2)).replace(second=0, microsecond=0)
    body = {"phone": "13500001111", "at": at.isoformat(), "note": "下午回电"}
    with httpx.Client(base_url=live_server.url, headers=live_server.headers("seat1"), timeout=5) as c:
        first = c.post("/api/console/callbacks", json=body)
        again = c.post("/api/console/callbacks", json=body)
        assert first.status_code == again.status_code == 201
        assert first.json()["id"] == again.json()["id"]
        past = c.post("/api/console/callbacks", json={**body, "at": "2020-01-01T00:00:00+08:00"})
        assert past.status_code == 422
        bad = c.post("/api/console/callbacks", json={**body, "phone": "call me"})
        assert bad.status_code == 422
    with session_scope(live_server.database_url) as s:
        rows = s.query(Callback).all()
        assert len(rows) == 1
        assert rows[0].kind == "queue_callback" and rows[0].status == "scheduled"
        assert rows[0].next_attempt_at == at


def test_kpi_and_overdue_are_for_supervisors(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url, timeout=10) as c:
        r = c.post(
            "/api/cases",
            headers=live_server.headers("agent1"),
            json={
                "description": "停水",
                "matter_code": "1101001",
                "district_code": "110101",
                "register": True,
                "dispatch_unit_code": "B110101-SW",
            },
        )
        number = r.json()["number"]
        assert c.get("/api/console/kpi", headers=live_server.headers("seat1")).status_code == 403
        rep = c.get("/api/console/kpi?days=7&by=street&period=month", headers=live_server.headers("super1"))
        assert rep.status_code == 200
        assert rep.json()["overall"]["total"] == 1
        assert c.get("/api/console/kpi?days=0", headers=live_server.headers("super1")).status_code == 422
        # make it overdue: the accept deadline in the past
        with session_scope(live_server.database_url) as s:
            case = s.query(Case).filter_by(number=number).one()
            case.accept_due_at = datetime.now(UTC) - timedelta(hours=1)
        rows = c.get("/api/console/overdue", headers=live_server.headers("super1")).json()
        assert [(x["number"], x["kind"]) for x in rows] == [(number, "accept")]
        assert rows[0]["unit_name"] == "东城区水务局"
