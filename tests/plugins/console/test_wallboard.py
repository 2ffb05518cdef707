"""Pure logic: the wallboard fold and the SSE cursor codec."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcenter.plugins.console.asterisk import spy_target
from callcenter.plugins.console.hub import STREAM_KEYS, CursorError, decode_cursor, encode_cursor
from callcenter.plugins.console.wallboard import Wallboard

TZ = ZoneInfo("Asia/Shanghai")
T0 = "2026-11-22T02:00:00+00:00"
T1 = "2026-11-22T02:00:05+00:00"
T2 = "2026-11-22T02:00:40+00:00"
NEXT_DAY = "2026-11-22T16:30:00+00:00"  # 00:30 on 23 November in Beijing


def test_queue_counters_sla_and_abandon() -> None:
    b = Wallboard(TZ, sla_seconds=20)
    member = {"queue": "hotline", "agent": "a1", "interface": "PJSIP/8001", "status": 1, "change": "added"}
    b.apply("agent.status", member, T0)
    for uid in ("u1", "u2", "u3"):
        b.apply("queue.caller_join", {"uniqueid": uid, "queue": "hotline", "caller_number": "138"}, T0)
    b.apply(
        "queue.caller_join", {"uniqueid": "u1", "queue": "hotline"}, T0
    )  # repeated event: no double count
    b.apply(
        "agent.connect", {"uniqueid": "u1", "queue": "hotline", "interface": "PJSIP/8001", "wait": 5.0}, T1
    )
    b.apply(
        "agent.connect", {"uniqueid": "u2", "queue": "hotline", "interface": "PJSIP/8002", "wait": 35.0}, T2
    )
    b.apply("queue.caller_abandon", {"uniqueid": "u3", "queue": "hotline", "wait": 40.0}, T2)
    b.apply(
        "agent.complete", {"uniqueid": "u1", "queue": "hotline", "interface": "PJSIP/8001", "talk": 30}, T2
    )
    q = b.snapshot()["queues"][0]
    assert (q["offered"], q["answered"], q["answered_in_sla"], q["abandoned"], q["handled"]) == (
        3,
        2,
        1,
        1,
        1,
    )
    assert q["sla_pct"] == 50.0
    assert q["abandoned_pct"] == pytest.approx(33.3)
    assert q["waiting"] == 0 and q["longest_wait_since"] is None
    agent = b.agent("PJSIP/8001")
    assert agent is not None and agent["state"] == "wrapup" and agent["calls_taken"] == 1
    assert agent["wrapup_until"] is not None


def test_agent_states_follow_asterisk_events() -> None:
    b = Wallboard(TZ)
    iface = "Local/sim-1-20@sim-agents/n"
    b.apply(
        "agent.status",
        {"queue": "hotline", "agent": "seat1", "interface": iface, "status": 1, "change": "added"},
        T0,
    )
    assert b.agent(iface)["state"] == "idle"  # type: ignore[index]
    b.apply(
        "agent.paused", {"queue": "hotline", "interface": iface, "paused": True, "paused_reason": "break"}, T1
    )
    a = b.agent(iface)
    assert a is not None and (a["state"], a["paused_reason"], a["since"]) == ("paused", "break", T1)
    b.apply("agent.paused", {"queue": "hotline", "interface": iface, "paused": False}, T2)
    assert b.agent(iface)["state"] == "idle"  # type: ignore[index]
    b.apply("agent.called", {"uniqueid": "u1", "queue": "hotline", "interface": iface}, T2)
    assert b.agent(iface)["state"] == "ringing"  # type: ignore[index]
    b.apply("agent.status", {"queue": "hotline", "interface": iface, "status": 5, "change": "status"}, T2)
    assert b.agent(iface)["state"] == "offline"  # type: ignore[index]
    b.apply("agent.status", {"queue": "hotline", "interface": iface, "change": "removed"}, T2)
    assert b.agent(iface) is None


def test_snapshot_replaces_live_state_and_day_rolls_over() -> None:
    b = Wallboard(TZ)
    b.apply("queue.caller_join", {"uniqueid": "gone", "queue": "hotline"}, T0)
    b.apply(
        "agent.status", {"queue": "hotline", "interface": "PJSIP/8009", "status": 1, "change": "added"}, T0
    )
    b.apply("queue.caller_abandon", {"uniqueid": "x", "queue": "hotline"}, T0)
    snap = {
        "queues": [
            {
                "queue": "hotline",
                "members": [
                    {
                        "interface": "PJSIP/8001",
                        "agent": "a1",
                        "status": 2,
                        "paused": False,
                        "queue": "hotline",
                    }
                ],
                "callers": [{"uniqueid": "u7", "caller_number": "139", "position": 1}],
            }
        ]
    }
    b.apply("queue.snapshot", snap, T1)
    s = b.snapshot()
    assert [c["uniqueid"] for c in s["queues"][0]["callers"]] == ["u7"]
    assert [a["interface"] for a in s["agents"]] == ["PJSIP/8001"]
    assert s["agents"][0]["state"] == "talking"
    assert s["queues"][0]["abandoned"] == 1
    b.apply("queue.caller_join", {"uniqueid": "u8", "queue": "hotline"}, NEXT_DAY)
    q = b.snapshot()["queues"][0]
    assert (q["abandoned"], q["offered"], b.day) == (0, 1, "2026-11-23")


def test_unknown_events_do_not_change_the_board() -> None:
    b = Wallboard(TZ)
    assert b.apply("case.dispatch", {"number": "1"}, T0) is False
    assert b.version == 0


cursors = st.dictionaries(
    st.sampled_from(sorted(STREAM_KEYS)),
    st.tuples(st.integers(0, 2**48), st.integers(0, 2**20)).map(lambda t: f"{t[0]}-{t[1]}"),
    min_size=1,
)


@given(cursors)
def test_cursor_round_trip(positions: dict[str, str]) -> None:
    assert decode_cursor(encode_cursor(positions)) == positions


@pytest.mark.parametrize("raw", ["", "K", "K:abc", "Z:1-0", "K:1-0,C", "K:1-x", "K:" + "1" * 2000])
def test_bad_cursors_are_refused(raw: str) -> None:
    with pytest.raises(CursorError):
        decode_cursor(raw)


def test_spy_target_of_local_members() -> None:
    assert spy_target("Local/sim-1-20@sim-agents/n") == "Local/sim-1-20@sim-agents"
    assert spy_target("PJSIP/8001") == "PJSIP/8001"


def test_snapshot_clears_a_call_whose_end_was_lost_in_a_restart() -> None:
    """An agent 通话中 when Asterisk died: the re-sync's member (idle, not in a call) is what counts."""
    b = Wallboard(TZ)
    member = {"queue": "hotline", "agent": "a1", "interface": "PJSIP/8001", "status": 1, "node": "pbx1"}
    b.apply("agent.status", {**member, "change": "added"}, T0)
    b.apply(
        "agent.connect",
        {
            "uniqueid": "u1",
            "queue": "hotline",
            "interface": "PJSIP/8001",
            "node": "pbx1",
            "agent_channel": "c",
        },
        T1,
    )
    assert b.agent("PJSIP/8001")["state"] == "talking"  # type: ignore[index]
    # the member came back (e.g. a static member) idle; no agent.complete was ever seen
    snap = {"node": "pbx1", "queues": [{"queue": "hotline", "members": [{**member, "in_call": False}]}]}
    b.apply("queue.snapshot", snap, T2)
    a = b.agent("PJSIP/8001")
    assert a is not None and a["state"] == "idle" and a["uniqueid"] is None and a["channel"] is None
    # and a snapshot without the member removes it
    b.apply("queue.snapshot", {"node": "pbx1", "queues": [{"queue": "hotline", "members": []}]}, T2)
    assert b.agent("PJSIP/8001") is None


def test_queue_snapshot_is_a_command_of_the_bus() -> None:
    from callcenter.commands import COMMAND_TYPES, build_action

    assert "queue_snapshot" in COMMAND_TYPES
    assert build_action("queue_snapshot", {"action_id": "a1"}) == {"Action": "QueueStatus", "ActionID": "a1"}


def test_console_refusal_codes_name_chinese_texts() -> None:
    import json
    from pathlib import Path

    from callcenter.plugins.console.asterisk import AMI_REFUSALS, refusal_code

    texts = json.loads(
        (
            Path(__file__).resolve().parents[3] / "callcenter/plugins/console/static/i18n/zh-CN.json"
        ).read_text()
    )
    assert refusal_code({"message": "Unable to remove interface: Not there"}) == "ami.not_in_queue"
    assert refusal_code({"message": "Unable to add interface: Already there"}) == "ami.already_in_queue"
    assert refusal_code({"error": "ami_disconnected", "message": "Asterisk is not connected"}) == (
        "ami.ami_disconnected"
    )
    assert refusal_code({"message": "something new"}) == "ami.refused"
    for code in {c for _, c in AMI_REFUSALS} | {
        "ami.refused",
        "ami.ami_disconnected",
        "ami.timeout",
        "ami.expired",
    }:
        assert "error." + code in texts
