"""The scheduler against the real databases (SQLite and PostgreSQL) and the real Redis.

The clock is injected: the calling window and back-off are checked at chosen moments.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis as redis_lib
from sqlalchemy import select

from callcenter.db.models import Call, Callback, Case, CaseEvent, SurveyResult
from callcenter.db.session import session_scope
from callcenter.domain.callbacks import Failure
from callcenter.events import STREAM_CALLBACKS, decode
from callcenter.plugins.callbacks.dialler import SENT_KEY, Dialler, TickStats, originated_action_ids
from callcenter.services import callbacks as service
from tests.plugins.callbacks.helpers import (
    Clock,
    callbacks,
    close_case,
    make_settings,
    relay,
    reopen_and_close,
    unit_satisfaction,
    verified_case,
)

pytestmark = [pytest.mark.redis]

# 10:00 and 22:30 in Shanghai
DAY = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
NIGHT = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)


def _schedule(
    db_url: str, phone: str, key: str, at: datetime, kind: str = "queue_callback", **kw: Any
) -> int:
    with session_scope(db_url) as s:
        cb, created = service.schedule(s, kind=kind, key=key, phone=phone, at=at, max_attempts=3, **kw)
        assert created
        return cb.id


def _claim(db_url: str, settings: Any, now: datetime, worker: str = "w1") -> list[service.Claim]:
    with session_scope(db_url) as s:
        return service.claim_due(s, now, settings, worker)


def test_window_and_do_not_call_with_an_injected_clock(
    db_url: str, redis_client: redis_lib.Redis, redis_url: str
) -> None:
    settings = make_settings(db_url, redis_url, window_start="08:00", window_end="21:00")
    a = _schedule(db_url, "13900000001", "t:a", DAY - timedelta(hours=1))
    b = _schedule(db_url, "+86 139 0000 0002", "t:b", DAY - timedelta(hours=1))
    with session_scope(db_url) as s:
        service.add_do_not_call(s, "13900000002", "市民要求不再回访")
    clock = Clock(fixed=NIGHT)
    dialler = Dialler(settings, redis_client, clock=clock, database_url=db_url)
    stats = dialler.tick()
    assert stats.sent == 0 and originated_action_ids(redis_client) == []  # 22:30: nobody is called
    assert {c.id: c.status for c in callbacks(db_url)} == {a: "scheduled", b: "scheduled"}
    clock.fixed = DAY  # 10:00 the next morning
    stats = dialler.tick()
    assert stats.claimed == [a]
    rows = {c.id: c for c in callbacks(db_url)}
    assert rows[b].status == "cancelled" and rows[b].last_result == "do_not_call" and rows[b].attempts == 0
    assert rows[a].status == "in_progress" and rows[a].attempts == 1
    assert rows[a].outcome["phase"] == "dialing" and rows[a].outcome["action_id"] == f"cb-{a}-1"
    assert originated_action_ids(redis_client) == [f"cb-{a}-1"]
    assert redis_client.exists(SENT_KEY.format(action_id=f"cb-{a}-1"))
    # the command carries the outbound caller ID and the dial template
    entries: Any = redis_client.xrange("cc:commands:ami")
    ev = decode(entries[0][1])
    assert ev["data"]["channel"] == "Local/13900000001@sim-citizen"
    assert ev["data"]["caller_id"] == '"12345" <12345>'
    assert ev["data"]["variables"]["CC_CALLBACK_ID"] == str(a)
    # the next tick does not dial the same callback again while the attempt is open
    assert dialler.tick().sent == 0
    assert originated_action_ids(redis_client) == [f"cb-{a}-1"]


def test_retry_back_off_and_attempt_limit(db_url: str, redis_url: str) -> None:
    settings = make_settings(db_url, redis_url, window_start="08:00", window_end="21:00", max_attempts=2)
    cb_id = _schedule(db_url, "13900000003", "t:c", DAY)
    with session_scope(db_url) as s:
        cb = s.get(Callback, cb_id)
        assert cb is not None
        cb.max_attempts = 2
    (c1,) = _claim(db_url, settings, DAY)
    with session_scope(db_url) as s:
        d = service.fail_attempt(
            s, cb_id, 1, Failure.BUSY, DAY, settings.callbacks, service.window_of(settings), "reason 5"
        )
    assert d is not None and d.next_attempt_at == DAY + timedelta(seconds=600)
    with session_scope(db_url) as s:  # a late report of the same attempt changes nothing
        assert service.fail_attempt(s, cb_id, 1, Failure.NO_ANSWER, DAY, settings.callbacks, None) is None
    assert _claim(db_url, settings, DAY + timedelta(seconds=599)) == []  # still backing off
    (c2,) = _claim(db_url, settings, DAY + timedelta(seconds=600))
    assert (c1.attempt, c2.attempt, c2.action_id) == (1, 2, f"cb-{cb_id}-2")
    with session_scope(db_url) as s:
        d = service.fail_attempt(s, cb_id, 2, Failure.NO_ANSWER, DAY, settings.callbacks, None)
    assert d is not None and d.status == "failed"
    (row,) = callbacks(db_url)
    assert row.status == "failed" and row.last_result == "no_answer"
    assert [h["result"] for h in row.outcome["history"]] == ["busy", "no_answer"]
    assert _claim(db_url, settings, DAY + timedelta(days=1)) == []


def test_cap_on_simultaneous_calls(db_url: str, redis_url: str) -> None:
    settings = make_settings(db_url, redis_url, max_concurrent_calls=3)
    ids = [_schedule(db_url, f"1390000001{i}", f"t:cap{i}", DAY) for i in range(5)]
    first = _claim(db_url, settings, DAY)
    assert [c.callback_id for c in first] == ids[:3]  # arrival order
    assert _claim(db_url, settings, DAY) == []  # three calls are up: the cap holds
    with session_scope(db_url) as s:
        service.complete_attempt(s, ids[0], 1, "connected", DAY)
    assert [c.callback_id for c in _claim(db_url, settings, DAY)] == [ids[3]]


@pytest.mark.postgres
def test_concurrent_claimers_never_share_a_callback(pg_url: str, redis_url: str) -> None:
    settings = make_settings(pg_url, redis_url, max_concurrent_calls=10)
    for i in range(30):
        _schedule(pg_url, f"139000002{i:02d}", f"t:race{i}", DAY)
    got: list[list[int]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(6)

    def worker(n: int) -> None:
        barrier.wait()
        claims = _claim(pg_url, settings, DAY, worker=f"w{n}")
        with lock:
            got.append([c.callback_id for c in claims])

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    flat = [i for g in got for i in g]
    assert len(flat) == len(set(flat)) == 10  # each claimed once, and the cap held across workers
    assert sum(1 for c in callbacks(pg_url) if c.status == "in_progress") == 10


def test_queue_callback_waits_for_earlier_callers(db_url: str, redis_url: str) -> None:
    settings = make_settings(db_url, redis_url)
    t0 = DAY - timedelta(minutes=5)
    with session_scope(db_url) as s:  # a caller who joined the queue before the callback's owner did
        s.add(Call(uniqueid="waiting-1", queue="hotline", queued_at=t0, started_at=t0))
    cb_id = _schedule(db_url, "13900000031", "t:q", DAY, requested_at=t0 + timedelta(seconds=30))
    early = _schedule(db_url, "13900000032", "t:q0", DAY, requested_at=t0 - timedelta(seconds=30))
    assert [c.callback_id for c in _claim(db_url, settings, DAY)] == [early]
    with session_scope(db_url) as s:
        call = s.scalar(select(Call).where(Call.uniqueid == "waiting-1"))
        assert call is not None
        call.answered_at = DAY
    assert [c.callback_id for c in _claim(db_url, settings, DAY)] == [cb_id]


def test_closing_a_case_schedules_one_return_visit(
    db_url: str, redis_client: redis_lib.Redis, redis_url: str
) -> None:
    settings = make_settings(db_url, redis_url)
    verified_case(db_url, "2026112300001", "13900000041")
    verified_case(db_url, "2026112300002", None)  # no phone: nothing to schedule
    close_case(db_url, "2026112300001")
    close_case(db_url, "2026112300002")
    relay(db_url, redis_client)
    dialler = Dialler(settings, redis_client, clock=Clock(DAY), database_url=db_url)
    dialler.consume_case_events(first := TickStats())
    assert first.scheduled == 1
    # the same events again (a consumer that died before acking): still one visit
    redis_client.xgroup_setid("cc:events:cases", "callbacks", id="0")
    dialler.consume_case_events(again := TickStats())
    assert again.scheduled == 0
    (rv,) = callbacks(db_url)
    assert rv.kind == "return_visit" and rv.idempotency_key == "rv:2026112300001:1"
    assert rv.phone == "13900000041" and rv.outcome["visit"] == 1
    # reopened and closed again: a new visit for the second closing
    reopen_and_close(db_url, "2026112300001")
    relay(db_url, redis_client)
    dialler.consume_case_events(third := TickStats())
    assert third.scheduled == 1
    assert [c.idempotency_key for c in callbacks(db_url)] == ["rv:2026112300001:1", "rv:2026112300001:2"]
    relay(db_url, redis_client)
    published: Any = redis_client.xrange(STREAM_CALLBACKS)
    types = [decode(f)["type"] for _i, f in published]
    assert types.count("callback.scheduled") == 2


def _survey(db_url: str, redis_url: str, number: str, cb_id: int, resolved: Any, satisfaction: Any) -> Any:
    settings = make_settings(db_url, redis_url)
    with session_scope(db_url) as s:
        return service.apply_survey(
            s,
            case_number=number,
            callback_id=cb_id,
            resolved=resolved,
            satisfaction=satisfaction,
            method="dtmf",
            raw={"uniqueid": "x"},
            now=datetime.now(UTC),
            settings=settings,
        )


def _return_visit(db_url: str, redis_url: str, number: str, phone: str) -> int:
    verified_case(db_url, number, phone)
    close_case(db_url, number)
    settings = make_settings(db_url, redis_url)
    with session_scope(db_url) as s:
        cb, why = service.schedule_return_visit(s, number, settings, DAY)
        assert why == "scheduled" and cb is not None
        cb_id = cb.id
    with session_scope(db_url) as s:
        claims = service.claim_due(s, DAY, settings, "w")
    assert cb_id in [c.callback_id for c in claims]
    return cb_id


def test_survey_answers_drive_the_case(db_url: str, redis_url: str) -> None:
    before = unit_satisfaction(db_url)
    # satisfied: evaluated, the unit's 满意率 moves
    ok = _return_visit(db_url, redis_url, "2026112300011", "13900000051")
    out = _survey(db_url, redis_url, "2026112300011", ok, True, "satisfied")
    assert out.evaluated and out.follow_up == "none" and out.callback_status == "done"
    after = unit_satisfaction(db_url)
    assert before == (None, 0) and after == (1.0, 1)
    # not resolved: evaluated, then reopened (重办)
    bad = _return_visit(db_url, redis_url, "2026112300012", "13900000052")
    out = _survey(db_url, redis_url, "2026112300012", bad, False, "basic")
    assert out.evaluated and out.follow_up == "reopen"
    with session_scope(db_url) as s:
        case = s.scalar(select(Case).where(Case.number == "2026112300012"))
        assert case is not None and case.status == "registered"
        actions = list(s.scalars(select(CaseEvent.action).where(CaseEvent.case_id == case.id)))
        assert actions[-2:] == ["evaluate", "reopen"]
    # resolved but unsatisfied: a second visit (二次回访), the case waits for it
    unhappy = _return_visit(db_url, redis_url, "2026112300013", "13900000053")
    out = _survey(db_url, redis_url, "2026112300013", unhappy, True, "unsatisfied")
    assert not out.evaluated and out.follow_up == "second_visit"
    second = [c for c in callbacks(db_url) if c.idempotency_key == "rv:2026112300013:1:2"]
    assert len(second) == 1 and second[0].outcome["visit"] == 2 and second[0].status == "scheduled"
    with session_scope(db_url) as s:  # the second visit's answer is final
        claims = service.claim_due(
            s, datetime.now(UTC) + timedelta(hours=2), make_settings(db_url, redis_url), "w"
        )
    assert second[0].id in [c.callback_id for c in claims]
    out = _survey(db_url, redis_url, "2026112300013", second[0].id, True, "unsatisfied")
    assert out.evaluated and out.follow_up == "none"
    # every evaluated closure counts for the unit: satisfied, the reopened case's 基本满意 (kept although
    # 重办 cleared the case for its next closure) and the second visit's unsatisfied
    value, rated = unit_satisfaction(db_url)
    assert rated == 3 and value == pytest.approx(2 / 3)
    # hang-up mid-survey: stored, the attempt counts, retried later
    inc = _return_visit(db_url, redis_url, "2026112300014", "13900000054")
    out = _survey(db_url, redis_url, "2026112300014", inc, True, None)
    assert not out.evaluated and out.callback_status == "scheduled"
    with session_scope(db_url) as s:
        stored = s.scalar(select(SurveyResult).where(SurveyResult.callback_id == inc))
        assert stored is not None and stored.raw["complete"] is False
        row = s.get(Callback, inc)
        assert row is not None and row.last_result == "incomplete" and row.attempts == 1


def test_bad_input_is_refused_and_loses_nothing(db_url: str, redis_url: str) -> None:
    good = _schedule(db_url, "13900000061", "t:good", DAY)
    with pytest.raises(ValueError), session_scope(db_url) as s:
        service.schedule(s, kind="queue_callback", key="t:bad", phone="abc", at=DAY, max_attempts=3)
    with pytest.raises(ValueError), session_scope(db_url) as s:
        service.schedule(s, kind="nonsense", key="t:bad2", phone="13900000062", at=DAY, max_attempts=3)
    with session_scope(db_url) as s:  # same key twice: the first row, not a second one
        again, created = service.schedule(
            s, kind="queue_callback", key="t:good", phone="13900000061", at=DAY, max_attempts=3
        )
        assert not created and again.id == good
    assert [c.id for c in callbacks(db_url)] == [good]
    with pytest.raises(ValueError), session_scope(db_url) as s:
        service.add_do_not_call(s, "12")


def test_crash_between_claim_and_send_sends_exactly_once(
    db_url: str, redis_client: redis_lib.Redis, redis_url: str
) -> None:
    settings = make_settings(db_url, redis_url)
    cb_id = _schedule(db_url, "13900000071", "t:crash", DAY)
    (claim,) = _claim(db_url, settings, DAY)  # committed; the process "dies" before sending
    assert originated_action_ids(redis_client) == []
    clock = Clock(fixed=DAY)
    leased = make_settings(db_url, redis_url, lease_s=150)
    dialler = Dialler(leased, redis_client, clock=clock, database_url=db_url)
    assert dialler.tick().resent == 0  # the lease of the dead claimer has not run out yet
    clock.advance(151)
    assert dialler.tick().resent == 1
    assert originated_action_ids(redis_client) == [claim.action_id] == [f"cb-{cb_id}-1"]
    clock.advance(151)  # sent but no originate result ever came (the bridge was down): lost, retried
    stats = dialler.tick()
    assert stats.resent == 0 and stats.lost == 1
    (row,) = callbacks(db_url)
    assert row.status == "scheduled" and row.attempts == 1 and row.last_result == "ami_error"
    assert originated_action_ids(redis_client) == [f"cb-{cb_id}-1"]
