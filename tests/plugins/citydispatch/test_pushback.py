"""Push-back (回传) to the partner: every status change once, in order, signed; retried with back-off
while the partner is down; dead letters after the last attempt, listed for supervisors and retried."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from callcenter.db.models import CityPush
from callcenter.db.session import session_scope
from tests.kernel.conftest import Login
from tests.plugins.citydispatch.conftest import City, make_city
from tests.plugins.citydispatch.test_orders import ORDER

LOOP: list[tuple[str, str, dict[str, object]]] = [
    ("agent1", "register", {}),
    ("agent1", "dispatch", {"unit_code": "S110101001"}),
    ("street1", "accept", {}),
    ("street1", "note", {"text": "内部备注：不回传"}),
    ("street1", "feedback", {"text": "已责令餐馆安装油烟净化设备", "resolved": True}),
    ("agent1", "verify", {}),
    ("agent1", "close", {}),
]
EXPECTED = ["create", "register", "dispatch", "accept", "feedback", "verify", "close"]


def run_loop(city: City, auth: Login, number: str, steps: list[tuple[str, str, dict[str, object]]]) -> None:
    for user, action, extra in steps:
        r = city.client.post(
            f"/api/cases/{number}/transitions", json={"action": action, **extra}, headers=auth(user)
        )
        assert r.status_code == 200, r.text


def rounds_until(city: City, done: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        city.pushback.round()
        if done():  # type: ignore[operator]
            return
        time.sleep(0.06)
    raise AssertionError("push-backs did not arrive in time")


def test_every_change_is_pushed_once_in_order(city: City, auth: Login) -> None:
    number = city.upstream.send_order(ORDER).json()["case_number"]
    run_loop(city, auth, number, LOOP)
    rounds_until(city, lambda: len(city.receiver.received) == len(EXPECTED))
    for _ in range(3):
        city.pushback.round()  # more rounds add nothing
    got = city.receiver.received
    assert [p["action"] for p in got] == EXPECTED
    assert [p["seq"] for p in got] == sorted(p["seq"] for p in got)
    assert got[-1]["final"] is True and got[-1]["status"] == "closed"
    assert got[-1]["reply"] == "已责令餐馆安装油烟净化设备"
    assert all(p["order_id"] == ORDER["order_id"] and p["case_number"] == number for p in got)
    assert city.receiver.repeats == 0 and city.receiver.refused == 0


def test_partner_down_then_back_every_update_once_in_order(city: City, auth: Login, seeded_url: str) -> None:
    number = city.upstream.send_order(ORDER).json()["case_number"]
    city.receiver.stop()  # the partner goes down
    run_loop(city, auth, number, LOOP)
    for _ in range(5):
        city.pushback.round()
        time.sleep(0.06)
    with session_scope(seeded_url) as s:
        pushes = list(s.scalars(select(CityPush).order_by(CityPush.case_seq)))
        assert len(pushes) == len(EXPECTED) and all(p.status == "pending" for p in pushes)
        assert pushes[0].attempts >= 3 and pushes[0].last_error
        assert all(p.attempts == 0 for p in pushes[1:])  # later ones wait behind the first: order kept
    city.receiver.start()  # back on the same port
    rounds_until(city, lambda: len(city.receiver.received) == len(EXPECTED))
    assert [p["action"] for p in city.receiver.received] == EXPECTED
    assert city.receiver.repeats == 0


@pytest.fixture
def short_city(seeded_url: str, redis_url: str) -> Iterator[City]:
    yield from make_city(seeded_url, redis_url, city_push_max_attempts=2)


def test_dead_letters_listed_for_supervisors_and_retried(short_city: City, auth: Login) -> None:
    city = short_city
    number = city.upstream.send_order(ORDER).json()["case_number"]
    city.receiver.stop()
    run_loop(city, auth, number, LOOP[:2])
    for _ in range(4):
        city.pushback.round()
        time.sleep(0.06)
    sup = auth("super1")
    dead = city.client.get("/api/city/pushes", params={"status": "dead"}, headers=sup).json()
    assert [d["kind"] for d in dead] == ["create"] and dead[0]["attempts"] == 2
    assert dead[0]["order_id"] == ORDER["order_id"] and "connect" in (dead[0]["last_error"] or "").lower()
    pending = city.client.get("/api/city/pushes", params={"status": "pending"}, headers=sup).json()
    assert sorted(p["kind"] for p in pending) == ["dispatch", "register"]  # held behind the dead one
    assert city.client.get("/api/city/pushes", headers=auth("agent1")).status_code == 403
    city.receiver.start()
    for _ in range(3):
        city.pushback.round()
    assert city.receiver.received == []  # nothing jumps the queue past a dead letter
    r = city.client.post(f"/api/city/pushes/{dead[0]['id']}/retry", headers=sup)
    assert r.status_code == 200 and r.json()["status"] == "pending"
    assert city.client.post(f"/api/city/pushes/{dead[0]['id']}/retry", headers=sup).status_code == 409
    rounds_until(city, lambda: len(city.receiver.received) == 3)
    assert [p["action"] for p in city.receiver.received] == ["create", "register", "dispatch"]


def test_the_worker_loop_delivers(city: City, auth: Login) -> None:
    """The ``citydispatch`` loop as ``callcenter worker`` runs it (a thread until the stop event)."""
    import threading

    from callcenter.plugins.citydispatch.loops import pushback_loop

    loop = pushback_loop(city.settings, interval_s=0.1)
    assert loop is not None
    stop = threading.Event()
    thread = threading.Thread(target=loop, args=(stop,), daemon=True)
    thread.start()
    try:
        number = city.upstream.send_order(ORDER).json()["case_number"]
        run_loop(city, auth, number, LOOP[:2])
        deadline = time.monotonic() + 20
        while len(city.receiver.received) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [p["action"] for p in city.receiver.received] == ["create", "register", "dispatch"]
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()


def test_no_partner_no_loop(city: City) -> None:
    from callcenter.config import Settings
    from callcenter.plugins.citydispatch.loops import pushback_loop

    assert pushback_loop(Settings(mode="test", database_url=city.settings.database_url)) is None
