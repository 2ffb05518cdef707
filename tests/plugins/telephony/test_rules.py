"""Pure-logic unit tests: IVR rules, AMI event mapping, command validation, config rendering."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcenter.commands import CommandError, build_action
from callcenter.config import AMISettings, Settings, TelephonySettings
from callcenter.events import STREAM_AGENTS, STREAM_CALLS, STREAM_QUEUES
from callcenter.plugins.telephony import ivr
from callcenter.plugins.telephony.ami import events as ev
from callcenter.plugins.telephony.commands import summarize
from callcenter.plugins.telephony.provision import (
    ProvisionError,
    render_template,
    template_values,
)

# ---------------------------------------------------------------- IVR rules


@pytest.mark.parametrize(
    ("digits", "choice", "nxt"),
    [
        ("1", ivr.MenuChoice.NEW_REQUEST, ivr.Next.SPEECH),
        ("2", ivr.MenuChoice.CASE_STATUS, ivr.Next.STATUS),
        ("3#", ivr.MenuChoice.CALLBACK, ivr.Next.HANGUP),
        ("", None, ivr.Next.QUEUE),
        ("9", None, ivr.Next.QUEUE),
        ("12", None, ivr.Next.QUEUE),
    ],
)
def test_menu(digits: str, choice: ivr.MenuChoice | None, nxt: ivr.Next) -> None:
    assert ivr.parse_menu_choice(digits) is choice
    assert ivr.next_after_menu(choice) is nxt


@pytest.mark.parametrize(
    ("digits", "number"),
    [
        ("2026112200042#", "2026112200042"),
        ("2026112200042", "2026112200042"),
        ("*2026112200042#", "2026112200042"),
        ("2026113200042#", None),  # 31 Nov does not exist... 32nd even less
        ("2026022900001", None),  # 2026 is not a leap year
        ("202611220004", None),  # 12 digits
        ("20261122000421", None),  # 14 digits
        ("", None),
    ],
)
def test_case_number(digits: str, number: str | None) -> None:
    assert ivr.normalize_case_number(digits) == number


@given(
    st.dates(min_value=datetime(2000, 1, 1).date(), max_value=datetime(2099, 12, 31).date()),
    st.integers(0, 99999),
)
def test_case_number_roundtrip(day: object, seq: int) -> None:
    number = f"{day:%Y%m%d}{seq:05d}"
    assert ivr.normalize_case_number(number + "#") == number


def test_caller_profile() -> None:
    p = ivr.caller_profile(
        1, 3, [("2026112200003", "dispatched"), ("2026112000001", "closed"), ("2026111900009", "received")]
    )
    assert p == ivr.CallerProfile(
        known=True, open_cases=2, repeat_caller=True, last_open_case="2026112200003"
    )
    assert p.channel_variables() == {
        "CC_CALLER_KNOWN": "1",
        "CC_OPEN_CASES": "2",
        "CC_REPEAT_CALLER": "1",
        "CC_LAST_OPEN_CASE": "2026112200003",
    }
    new = ivr.caller_profile(0, 0, [])
    assert new.channel_variables()["CC_CALLER_KNOWN"] == "0" and not new.repeat_caller


def test_status_prompt() -> None:
    assert ivr.status_prompt("dispatched", {"dispatched"}) == "callcenter/status-dispatched"
    assert ivr.status_prompt("weird", {"dispatched"}) == "callcenter/status-unknown"
    assert ivr.status_prompt(None, {"dispatched"}) == "callcenter/status-unknown"


# ---------------------------------------------------------------- AMI event mapping

BASE = {
    "Channel": "Local/12345@hotline-00000001;2",
    "Uniqueid": "u-2",
    "Linkedid": "u-1",
    "CallerIDNum": "13800138000",
    "CallerIDName": "张三",
    "Timestamp": "1795385819.5",
}


def test_user_event_creates_the_call() -> None:
    eff = ev.translate(
        {**BASE, "Event": "UserEvent", "UserEvent": "CcCall", "Direction": "in", "Dialled": "96010"}
    )
    assert eff is not None and eff.uniqueid == "u-2" and not eff.needs_call
    assert eff.create is not None
    assert eff.create["dialled_number"] == "96010" and eff.create["caller_name"] == "张三"
    assert eff.create["started_at"] == datetime.fromtimestamp(1795385819.5, tz=UTC)
    assert [(p.stream, p.type, p.outbox) for p in eff.publish] == [(STREAM_CALLS, "call.new", True)]


def test_other_user_events_are_ignored() -> None:
    assert ev.translate({**BASE, "Event": "UserEvent", "UserEvent": "Other"}) is None


def test_queue_and_agent_events() -> None:
    join = ev.translate(
        {**BASE, "Event": "QueueCallerJoin", "Queue": "hotline", "Position": "2", "Count": "2"}
    )
    assert join is not None and join.update["queue"] == "hotline"
    assert [(p.stream, p.type) for p in join.publish] == [
        (STREAM_CALLS, "call.queued"),
        (STREAM_QUEUES, "queue.caller_join"),
    ]
    assert join.publish[1].payload["position"] == 2
    conn = ev.translate(
        {
            **BASE,
            "Event": "AgentConnect",
            "Queue": "hotline",
            "MemberName": "sim-agent-1",
            "HoldTime": "7",
            "RingTime": "1",
        }
    )
    assert conn is not None
    assert conn.update["agent"] == "sim-agent-1" and conn.update["wait_seconds"] == 7.0
    assert {p.type for p in conn.publish} == {"call.answered", "agent.connect"}
    ab = ev.translate(
        {**BASE, "Event": "QueueCallerAbandon", "Queue": "hotline", "HoldTime": "12", "Position": "1"}
    )
    assert ab is not None and ab.update == {"disposition": "abandoned", "wait_seconds": 12.0}
    pause = ev.translate(
        {
            "Event": "QueueMemberPause",
            "Queue": "hotline",
            "MemberName": "a1",
            "Interface": "PJSIP/8001",
            "Paused": "1",
            "PausedReason": "午休",
        }
    )
    assert pause is not None and not pause.needs_call
    assert pause.publish[0].stream == STREAM_AGENTS and pause.publish[0].type == "agent.paused"
    assert pause.publish[0].payload["paused_reason"] == "午休" and pause.publish[0].payload["paused"] is True


def test_hangup_and_finish() -> None:
    eff = ev.translate({**BASE, "Event": "Hangup", "Cause": "16", "Cause-txt": "Normal Clearing"})
    assert eff is not None and eff.end and eff.update["hangup_cause"] == "Normal Clearing"
    t0 = datetime(2026, 11, 22, tzinfo=UTC)
    assert ev.finish_call(t0, t0, t0 + timedelta(seconds=30), "answered", None) == ("answered", 30.0)
    assert ev.finish_call(None, t0, t0 + timedelta(seconds=30), None, None) == ("abandoned", None)
    assert ev.finish_call(None, None, t0, None, None) == ("ivr", None)
    assert ev.finish_call(None, t0, t0, "abandoned", None) == ("abandoned", None)


def test_unknown_events_are_ignored() -> None:
    assert ev.translate({"Event": "TestEvent"}) is None
    assert ev.translate({"Event": "VarSet", "Uniqueid": "x"}) is None


# ---------------------------------------------------------------- commands


def test_originate_action() -> None:
    a = build_action(
        "originate",
        {
            "action_id": "a1",
            "channel": "Local/12345@hotline",
            "context": "sim-caller",
            "exten": "s",
            "caller_id": '"张三" <13800138000>',
            "variables": {"SIM_KEYS": "1", "SIM_HOLD": "5"},
            "other_channel_id": "x-2",
        },
    )
    assert a["Action"] == "Originate" and a["ActionID"] == "a1" and a["Async"] == "true"
    assert a["Variable"] == ["SIM_KEYS=1", "SIM_HOLD=5"] and a["OtherChannelId"] == "x-2"


def test_spy_modes() -> None:
    base = {"action_id": "s1", "supervisor": "PJSIP/8001", "target": "PJSIP/trunk-0001"}
    assert build_action("spy", base)["Data"] == "PJSIP/trunk-0001,qE"
    assert build_action("spy", {**base, "mode": "whisper"})["Data"].endswith(",qEw")
    assert build_action("spy", {**base, "mode": "barge"})["Data"].endswith(",qEB")
    with pytest.raises(CommandError):
        build_action("spy", {**base, "mode": "shout"})


def test_queue_pause_with_reason() -> None:
    a = build_action("queue_pause", {"action_id": "p", "interface": "PJSIP/8001", "reason": "培训"})
    assert a == {
        "Action": "QueuePause",
        "Interface": "PJSIP/8001",
        "Paused": "true",
        "Reason": "培训",
        "ActionID": "p",
    }


@pytest.mark.parametrize(
    ("type_", "args"),
    [
        ("originate", {"action_id": "x"}),  # no channel
        ("originate", {"action_id": "x", "channel": "Local/1@a"}),  # no destination
        ("hangup", {"action_id": "x", "channel": "a\r\nAction: Command"}),  # header injection
        ("queue_add", {"action_id": "x"}),
        ("teleport", {"action_id": "x"}),
    ],
)
def test_bad_commands_are_refused(type_: str, args: dict[str, object]) -> None:
    with pytest.raises(CommandError):
        build_action(type_, args)


def test_summarize_originate() -> None:
    res = summarize(
        "originate",
        [
            {"Response": "Success", "Message": "Originate successfully queued"},
            {"Event": "OriginateResponse", "Response": "Failure", "Reason": "5", "Uniqueid": "<null>"},
        ],
    )
    assert res["ok"] is False and res["data"]["reason"] == "5"


# ---------------------------------------------------------------- rendering


def test_render_template_rejects_unknown_placeholders() -> None:
    assert render_template("a=%%{x} ${KEEP}", {"x": "1"}) == "a=1 ${KEEP}"
    with pytest.raises(ProvisionError, match="unknown placeholder"):
        render_template("%%{nope}", {})


def test_template_values_and_secrets() -> None:
    s = Settings(mode="test")
    v = template_values(s, TelephonySettings())
    assert v["ami_secret"] == s.ami.secret and v["ami_bind"] == "127.0.0.1" and v["sip_bind"] == "127.0.0.1"
    assert "exten => 12345,1,Set(__CC_DIALLED=12345)" in v["hotline_did_lines"]
    assert "exten => 96010,1,Set(__CC_DIALLED=96010)" in v["hotline_did_lines"]
    bad = Settings(mode="test", ami=AMISettings(secret="x\n[evil]"))
    with pytest.raises(ProvisionError):
        template_values(bad, TelephonySettings())


def test_telephony_settings_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLCENTER_TELEPHONY__SPEECH_STEP", "0")
    monkeypatch.setenv("CALLCENTER_TELEPHONY__AGENT_EXTENSIONS", "9001, 9002")
    o = Settings(mode="test").telephony
    assert o.speech_step is False and o.agent_extensions == ["9001", "9002"]
