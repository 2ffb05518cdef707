"""Events on the real Redis: every committed change is published; a Redis outage loses nothing."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis as redis_lib
from sqlalchemy import func, select

from callcenter import events
from callcenter.db.models import OutboxEvent
from callcenter.db.session import get_sessionmaker, session_scope
from callcenter.events import OutboxRelay
from tests.kernel.conftest import make_client


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateRedis:
    """A redis-server of our own, so the test can stop and restart it."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        exe = shutil.which("redis-server")
        assert exe, "redis-server is not installed"
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        client = redis_lib.Redis.from_url(self.url)
        for _ in range(100):
            try:
                client.ping()
                return
            except redis_lib.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("private redis did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    r = PrivateRedis()
    r.start()
    yield r
    r.stop()


def _stream(client: redis_lib.Redis, stream: str = events.STREAM_CASES) -> list[dict[str, object]]:
    entries: Any = client.xrange(stream)
    return [events.decode(fields) for _, fields in entries]


def test_every_change_is_published_in_order(
    seeded_url: str, redis_client: redis_lib.Redis, redis_url: str
) -> None:
    with make_client(seeded_url, redis_url, start_relay=True) as client:
        h = {
            "Authorization": "Bearer "
            + client.post(
                "/api/auth/token", data={"username": "agent1", "password": "correct-horse-1"}
            ).json()["access_token"]
        }
        number = client.post(
            "/api/cases", json={"description": "井盖丢失", "matter_code": "0601002"}, headers=h
        ).json()["number"]
        client.post(f"/api/cases/{number}/transitions", json={"action": "register"}, headers=h)
        client.post(
            f"/api/cases/{number}/transitions",
            json={"action": "dispatch", "unit_code": "S110101001"},
            headers=h,
        )
        deadline = time.monotonic() + 10
        while len(_stream(redis_client)) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    got = _stream(redis_client)
    assert [e["type"] for e in got] == ["case.create", "case.register", "case.dispatch"]
    assert all(e["data"]["number"] == number for e in got)  # type: ignore[index]
    assert got[2]["data"]["unit_code"] == "S110101001"  # type: ignore[index]


def test_redis_down_during_changes_loses_nothing(seeded_url: str, private_redis: PrivateRedis) -> None:
    private_redis.stop()  # Redis is down while agents work
    with make_client(seeded_url, private_redis.url, start_relay=True) as client:
        token = client.post(
            "/api/auth/token", data={"username": "agent1", "password": "correct-horse-1"}
        ).json()
        h = {"Authorization": f"Bearer {token['access_token']}"}
        numbers = []
        for i in range(5):
            r = client.post("/api/cases", json={"description": f"路灯不亮 {i}"}, headers=h)
            assert r.status_code == 201, r.text  # the change is not blocked by the outage
            numbers.append(r.json()["number"])
        relay = client.app.state.relay  # type: ignore[attr-defined]
        assert relay.flush() == 0  # nothing can be published now
        with session_scope(seeded_url) as s:
            waiting = s.scalar(
                select(func.count()).select_from(OutboxEvent).where(OutboxEvent.published_at.is_(None))
            )
            assert waiting == 5
        private_redis.start()  # Redis comes back (empty)
        deadline = time.monotonic() + 15
        client_r = redis_lib.Redis.from_url(private_redis.url)
        while len(_stream(client_r)) < 5 and time.monotonic() < deadline:
            relay.notify()
            time.sleep(0.1)
    got = _stream(client_r)
    assert [e["data"]["number"] for e in got] == numbers  # type: ignore[index]
    with session_scope(seeded_url) as s:
        assert (
            s.scalar(select(func.count()).select_from(OutboxEvent).where(OutboxEvent.published_at.is_(None)))
            == 0
        )


def test_relays_in_parallel_publish_each_event_once(
    seeded_url: str, redis_client: redis_lib.Redis, redis_url: str
) -> None:
    with session_scope(seeded_url) as s:
        for i in range(300):
            events.enqueue(s, events.STREAM_CALLS, "call.test", {"i": i})
    relays = [
        OutboxRelay(get_sessionmaker(seeded_url), redis_lib.Redis.from_url(redis_url), batch=50)
        for _ in range(3)
    ]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(3) as pool:
        counts = list(pool.map(lambda r: r.flush(), relays))
    assert sum(counts) == 300
    got = [e["data"]["i"] for e in _stream(redis_client, events.STREAM_CALLS)]  # type: ignore[index]
    assert sorted(got) == list(range(300)) and len(got) == 300


def test_replies_read_as_text_from_bytes_and_str_clients(
    redis_client: redis_lib.Redis, redis_url: str
) -> None:
    """One decoder for both kinds of Redis client: raw bytes (the default) and ``decode_responses``."""
    entry = events.publish_now(redis_client, "cc:test:text", "case.note", {"text": "路灯坏了"})
    str_client = redis_lib.Redis.from_url(redis_url, decode_responses=True)
    try:
        for client in (redis_client, str_client):
            entries: Any = client.xrange("cc:test:text")
            [(entry_id, fields)] = entries
            assert events.as_text(entry_id) == entry
            assert {events.as_text(k): events.as_text(v) for k, v in fields.items()}["type"] == "case.note"
            assert events.decode(fields)["data"] == {"text": "路灯坏了"}
    finally:
        str_client.close()
    assert events.as_text("中文".encode()) == "中文"
    assert events.as_text(12) == "12"


# --------------------------------------------------------------------------- the shared consumer loop


def test_stream_consumer_pending_first_drops_junk_and_keeps_failures(redis_client: redis_lib.Redis) -> None:
    """One consumer-group loop for every worker (real Redis): a restarted consumer gets its own
    unacknowledged entries first; undecodable entries and ``drop_on`` errors are acknowledged and
    skipped; any other handler error leaves the entry pending for the next read."""
    stream = "cc:test:consumer"
    seen: list[str] = []

    def make() -> events.StreamConsumer:
        return events.StreamConsumer(redis_client, stream, "g", "c1", drop_on=(KeyError,), name="test")

    first = make()
    first.ensure_group()
    for i in range(3):
        events.publish_now(redis_client, stream, "t.ok", {"i": i})
    redis_client.xadd(stream, {"data": "{not json"})
    events.publish_now(redis_client, stream, "t.fail", {})
    events.publish_now(redis_client, stream, "t.drop", {})
    # a run that read two entries and died before acknowledging them
    redis_client.xreadgroup("g", "c1", {stream: ">"}, count=2)

    fail_times = {"n": 0}

    def handle(ev: dict[str, Any]) -> bool:
        if ev["type"] == "t.fail":
            fail_times["n"] += 1
            if fail_times["n"] == 1:
                raise RuntimeError("database down")
        if ev["type"] == "t.drop":
            raise KeyError("malformed payload")
        seen.append(f"{ev['type']}:{ev['data'].get('i', '')}")
        return True

    again = make()
    assert again.read(handle, block_ms=50) == 3  # the two pending ones, then the third
    assert seen == ["t.ok:0", "t.ok:1", "t.ok:2"]
    pending = redis_client.xpending(stream, "g")
    assert pending["pending"] == 1  # t.fail stays; junk and t.drop were acknowledged
    assert again.read(handle, block_ms=50) == 1  # redelivered and handled this time
    assert seen[-1] == "t.fail:"
    assert redis_client.xpending(stream, "g")["pending"] == 0
