"""End-to-end calls through the real Asterisk 22: IVR (FastAGI) → queue → simulated agent."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis as redis_lib
from sqlalchemy import select

from callcenter.commands import send_command, wait_result
from callcenter.db.models import Call, Callback, Case
from callcenter.db.session import session_scope
from callcenter.events import STREAM_AGENTS, STREAM_CALLS, STREAM_QUEUES, audiosocket_key, decode
from tests.support.asterisk import TelephonyStack

pytestmark = [pytest.mark.asterisk, pytest.mark.redis, pytest.mark.slow]


def _events(r: redis_lib.Redis, stream: str) -> list[dict[str, Any]]:
    entries: Any = r.xrange(stream)
    return [decode(fields) for _id, fields in entries]


def _call(db_url: str, uniqueid: str) -> Call:
    with session_scope(db_url) as s:
        call = s.scalar(select(Call).where(Call.uniqueid == uniqueid))
        assert call is not None, uniqueid
        s.expunge(call)
        return call


def _wait_for(predicate: Any, timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.postgres
def test_12345_and_96010_reach_an_agent_with_complete_call_rows(telephony_stack_pg: TelephonyStack) -> None:
    stack = telephony_stack_pg
    results = stack.place_calls(2, rate=2, numbers=("12345", "96010"), keys="1", agents=2, talk_s=2)
    assert [r["dialled"] for r in results] == ["12345", "96010"]
    for r in results:
        assert r["answered"] is True and r["lost"] is False, r
        assert r["agent"] in {"sim-agent-1", "sim-agent-2"}
        assert r["hangup_cause"] == "Normal Clearing"
        call = _call(stack.database_url, r["uniqueid"])
        assert call.id == r["call_id"]
        assert call.direction == "in" and call.dialled_number == r["dialled"]
        assert call.caller_number == r["caller"] and call.caller_name == r["caller_name"]
        assert call.linkedid == r["caller_uniqueid"]
        assert call.channel and call.channel.startswith(f"Local/{r['dialled']}@hotline-")
        assert call.ivr_choice == "1" and call.queue == "hotline" and call.agent == r["agent"]
        assert call.started_at <= call.queued_at <= call.answered_at <= call.ended_at  # type: ignore[operator]
        assert call.wait_seconds is not None and call.wait_seconds >= 0
        assert call.talk_seconds is not None and call.talk_seconds >= 2
        assert call.disposition == "answered"
        assert call.data["ivr"]["intake"]["trail"][0] == {"ask": "callcenter/menu", "digits": "1"}
        assert call.data["ivr"]["intake"]["audio_uuid"]
        assert call.data["cdr"]["Disposition"] == "ANSWERED"
        # the speech service learns whose audio the AudioSocket UUID carries
        key = audiosocket_key(call.data["ivr"]["intake"]["audio_uuid"])
        meta = json.loads(stack.redis.get(key))
        assert meta == {
            "uniqueid": call.uniqueid,
            "linkedid": call.linkedid,
            "caller": call.caller_number,
            "dialled": call.dialled_number,
        }
        assert 0 < stack.redis.ttl(key) <= 3600
    # lifecycle events, in order, per call
    calls = _events(stack.redis, STREAM_CALLS)
    for r in results:
        types = [e["type"] for e in calls if e["data"].get("uniqueid") == r["uniqueid"]]
        lifecycle = [t for t in types if t != "call.recording"]
        assert lifecycle == ["call.new", "call.queued", "call.answered", "call.ended"]
        # every answered call is recorded (MixMonitorStart; Asterisk sends no MixMonitorStop at hangup)
        states = [
            e["data"]["state"]
            for e in calls
            if e["type"] == "call.recording" and e["data"].get("uniqueid") == r["uniqueid"]
        ]
        assert states[:1] == ["start"]
    queue_types = {e["type"] for e in _events(stack.redis, STREAM_QUEUES)}
    assert {"queue.snapshot", "queue.caller_join", "queue.caller_leave"} <= queue_types
    agent_types = {e["type"] for e in _events(stack.redis, STREAM_AGENTS)}
    assert {"agent.called", "agent.connect", "agent.complete", "agent.status", "ami.result"} <= agent_types


def test_chinese_caller_name_survives_the_bridge(telephony_stack: TelephonyStack) -> None:
    stack = telephony_stack
    r = stack.place_call(keys="3", agents=0, caller_names=("欧阳娜娜",))
    call = _call(stack.database_url, r["uniqueid"])
    assert call.caller_name == "欧阳娜娜"
    new = [e for e in _events(stack.redis, STREAM_CALLS) if e["type"] == "call.new"]
    assert new[0]["data"]["caller_name"] == "欧阳娜娜"
    # menu 3 booked a callback and ended the call in the IVR
    assert call.ivr_choice == "3" and call.disposition == "ivr"
    with session_scope(stack.database_url) as s:
        cb = s.scalar(select(Callback).where(Callback.call_id == call.id))
        assert cb is not None and cb.kind == "queue_callback" and cb.phone == r["caller"]


def _add_case(db_url: str, number: str, status: str, phone: str) -> None:
    with session_scope(db_url) as s:
        s.add(Case(number=number, status=status, description="路灯不亮", caller_phone=phone, hotline="12345"))


def test_status_lookup_reads_back_the_right_state(telephony_stack: TelephonyStack) -> None:
    stack = telephony_stack
    _add_case(stack.database_url, "2026112200042", "dispatched", "13900000000")
    _add_case(stack.database_url, "2026112200043", "closed", "13900000000")
    # menu 2, an unknown number first, retry (1), then the right one; no key after the status
    r = stack.place_call(keys="2|2026112299999#|1|2026112200042#", agents=0, hold_s=90)
    call = _call(stack.database_url, r["uniqueid"])
    status = call.data["ivr"]["status"]
    assert [a["number"] for a in status["attempts"]] == ["2026112299999", "2026112200042"]
    assert [a["status"] for a in status["attempts"]] == [None, "dispatched"]
    trail = status["trail"]
    assert {"say_digits": "2026112200042"} in trail
    i = trail.index({"say_digits": "2026112200042"})
    assert trail[i + 1 : i + 3] == [
        {"play": "callcenter/case-status-is"},
        {"play": "callcenter/status-dispatched"},
    ]
    assert {"play": "callcenter/case-not-found"} in trail
    assert call.ivr_choice == "2" and status["next"] == "hangup" and call.queue is None


def test_caller_with_open_cases_is_recognised(telephony_stack: TelephonyStack) -> None:
    stack = telephony_stack
    first = stack.place_call(keys="3", agents=0, seed=7)
    _add_case(stack.database_url, "2026112200050", "accepted", first["caller"])
    second = stack.place_call(keys="3", agents=0, seed=7)  # same seed, same caller number
    assert second["caller"] == first["caller"]
    profile = _call(stack.database_url, second["uniqueid"]).data["ivr"]["intake"]["profile"]
    assert profile == {
        "CC_CALLER_KNOWN": "1",
        "CC_OPEN_CASES": "1",
        "CC_REPEAT_CALLER": "1",
        "CC_LAST_OPEN_CASE": "2026112200050",
    }


def test_commands_pause_spy_and_hangup(telephony_stack: TelephonyStack) -> None:
    stack = telephony_stack
    r = stack.redis
    iface = "Local/sim-9-30@sim-agents/n"
    added = wait_result(r, send_command(r, "queue_add", interface=iface, member_name="坐席九号"), 20)
    assert added["ok"], added
    paused = wait_result(r, send_command(r, "queue_pause", interface=iface, reason="培训"), 20)
    assert paused["ok"], paused
    ev = _wait_for(
        lambda: [e for e in _events(r, STREAM_AGENTS) if e["type"] == "agent.paused"], what="agent.paused"
    )
    assert ev[0]["data"]["paused"] is True and ev[0]["data"]["paused_reason"] == "培训"
    assert ev[0]["data"]["agent"] == "坐席九号"
    unpaused = wait_result(r, send_command(r, "queue_pause", interface=iface, paused=False), 20)
    assert unpaused["ok"]
    bad = wait_result(r, send_command(r, "hangup", channel="PJSIP/no-such-channel-1"), 20)
    assert bad["ok"] is False and bad["response"] == "Error"
    # a live call: spy on the hotline leg, then hang it up by command
    orig = send_command(
        r,
        "originate",
        channel="Local/12345@hotline",
        context="sim-caller",
        exten="s",
        caller_id='"王五" <13700000000>',
        variables={"SIM_KEYS": "1", "SIM_HOLD": "60"},
        other_channel_id="cmd-test-2",
        channel_id="cmd-test-1",
    )
    assert wait_result(r, orig, 30)["ok"]
    _wait_for(lambda: "cmd-test-2" in stack.bridge.bridge.channels, what="hotline leg")
    channel = stack.bridge.bridge.channels["cmd-test-2"]["channel"]
    spy = wait_result(
        r, send_command(r, "spy", supervisor="Local/s@sim-supervisor", target=channel, mode="whisper"), 30
    )
    assert spy["ok"], spy
    moved = wait_result(
        r, send_command(r, "redirect", channel=channel, context="hotline-queue", exten="s"), 20
    )
    assert moved["ok"], moved
    _wait_for(
        lambda: [
            e
            for e in _events(r, STREAM_CALLS)
            if e["type"] == "call.queued" and e["data"]["uniqueid"] == "cmd-test-2"
        ],
        what="the redirected call in the queue",
    )
    hung = wait_result(r, send_command(r, "hangup", channel=channel), 20)
    assert hung["ok"], hung
    ended = _wait_for(
        lambda: [
            e
            for e in _events(r, STREAM_CALLS)
            if e["type"] == "call.ended" and e["data"]["uniqueid"] == "cmd-test-2"
        ],
        what="call.ended",
    )
    assert ended[0]["data"]["call_id"] == _call(stack.database_url, "cmd-test-2").id
    assert wait_result(r, send_command(r, "queue_remove", interface=iface), 20)["ok"]


def test_bad_command_gets_a_clear_error_and_nothing_is_lost(telephony_stack: TelephonyStack) -> None:
    r = telephony_stack.redis
    from callcenter.events import STREAM_COMMANDS, encode

    # a command that bypassed the client-side check (e.g. another language's client)
    r.xadd(STREAM_COMMANDS, encode("originate", {"action_id": "raw-bad-1", "channel": "Local/1@x"}))
    res = wait_result(r, "raw-bad-1", 20)
    assert res["ok"] is False and res["error"] == "bad_request" and "context" in res["message"]
    # the next good command still runs
    ok = wait_result(r, send_command(r, "queue_remove", interface="Local/none@sim-agents/n"), 20)
    assert ok["type"] == "queue_remove" and ok["ok"] is False  # not a member: Asterisk says so


def test_return_visit_records_the_survey(telephony_stack: TelephonyStack) -> None:
    stack = telephony_stack
    r = stack.redis
    from callcenter.db.models import SurveyResult

    _add_case(stack.database_url, "2026112200077", "closed", "13912345678")
    with session_scope(stack.database_url) as s:  # a real closed case has its closing time
        closed = s.scalar(select(Case).where(Case.number == "2026112200077"))
        assert closed is not None
        closed.closed_at = datetime.now(ZoneInfo("UTC"))
    aid = send_command(
        r,
        "originate",
        channel="Local/13912345678@sim-citizen",
        context="return-visit",
        exten="s",
        caller_id='"12345回访" <12345>',
        # inherited by the citizen's half (;2): its keypad script; the rest is for the hotline half
        variables={
            "__SIM_KEYS": "1|2",
            "CC_CASE_NUMBER": "2026112200077",
            "CC_CALLBACK_ID": "",
            "CC_PHONE": "13912345678",
        },
        channel_id="rv-test-1",
        other_channel_id="rv-test-2",
    )
    assert wait_result(r, aid, 30)["ok"]
    ended = _wait_for(
        lambda: [
            e
            for e in _events(r, STREAM_CALLS)
            if e["type"] == "call.ended" and e["data"]["uniqueid"] == "rv-test-1"
        ],
        timeout=90,
        what="the return-visit call to end",
    )
    assert ended[0]["data"]["dialled"] == "13912345678"
    call = _call(stack.database_url, "rv-test-1")
    assert call.direction == "out" and call.dialled_number == "13912345678"
    with session_scope(stack.database_url) as s:
        survey = s.scalar(select(SurveyResult))
        assert survey is not None
        assert (survey.resolved, survey.satisfaction, survey.method) == (True, "basic", "dtmf")
        assert survey.raw["complete"] is True and survey.raw["uniqueid"] == "rv-test-1"
        case_id = s.scalar(select(Case.id).where(Case.number == "2026112200077"))
        assert survey.case_id == case_id
        # applied to the case as its evaluation (评价) by callcenter.callbacks.service.apply_survey
        case = s.scalar(select(Case).where(Case.number == "2026112200077"))
        assert case is not None
        assert (case.status, case.satisfaction, case.resolved) == ("evaluated", "basic", True)
    from callcenter.events import STREAM_CALLBACKS

    # relayed from the outbox by the bridge's relay
    recorded = _wait_for(
        lambda: [e for e in _events(r, STREAM_CALLBACKS) if e["type"] == "survey.recorded"],
        15,
        "survey event",
    )
    assert recorded[0]["data"]["case_number"] == "2026112200077"
    assert recorded[0]["data"]["satisfaction"] == "basic" and recorded[0]["data"]["resolved"] is True


def test_outside_business_hours_the_caller_hears_the_closed_prompt(telephony_stack: TelephonyStack) -> None:
    stack = telephony_stack
    now = datetime.now(ZoneInfo(stack.asterisk.settings.timezone))
    start = (now + timedelta(hours=2)).strftime("%H:00")
    end = (now + timedelta(hours=3)).strftime("%H:00")
    stack.asterisk.set_global("BUSINESS_HOURS", f"{start}-{end}")
    r = stack.place_call(keys="1", agents=0)
    assert r["disposition"] == "ivr" and r["ivr_choice"] is None and not r["lost"]
    assert stack.agi.stats.snapshot()["sessions"] == 0  # no IVR outside business hours
