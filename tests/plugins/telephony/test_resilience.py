"""The FastAGI server survives bad input and hangups; the AMI bridge survives kill -9 of Asterisk."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest
from sqlalchemy import select

from callcenter.db.models import Call
from callcenter.db.session import session_scope
from callcenter.events import STREAM_CALLS, STREAM_QUEUES, decode
from tests.support.asterisk import AsteriskHandle, TelephonyStack

pytestmark = [pytest.mark.asterisk, pytest.mark.redis, pytest.mark.slow]


def _send_raw(port: int, payload: bytes, close_write: bool = True) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=15) as s:
        try:
            if payload:
                s.sendall(payload)
            if close_write:
                s.shutdown(socket.SHUT_WR)
        except OSError as exc:  # BrokenPipe / ConnectionReset / ENOTCONN
            # the server may drop a bad connection before the client has finished sending (an
            # oversized line is refused after its first bytes): that is a close, not an answer
            if isinstance(exc, TimeoutError):
                raise
            return b""
        chunks = []
        while True:
            try:
                data = s.recv(4096)
            except (ConnectionResetError, TimeoutError):
                break
            if not data:
                break
            chunks.append(data)
        return b"".join(chunks)


def _wait(predicate: Any, timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_malformed_agi_environments_leave_the_server_serving(telephony_stack: TelephonyStack) -> None:
    stack = telephony_stack
    port = stack.agi.port
    bad = [
        b"hello there\n\n",  # not an AGI environment
        b"agi_request: agi://127.0.0.1/intake\nagi_channel: Local/x\n",  # truncated, no blank line
        b"agi_request: agi://127.0.0.1/intake\n\n",  # lacks channel and uniqueid
        b"agi_request: " + b"x" * 20000 + b"\n\n",  # oversized line
        b"",  # connect and close
        b"\xff\xfe\x00garbage\n\n",
    ]
    for payload in bad:
        assert _send_raw(port, payload) == b""
    # an unknown script is refused politely, not crashed on
    env = (
        b"agi_request: agi://127.0.0.1/nope\nagi_channel: Local/x\n"
        b"agi_uniqueid: 1.1\nagi_network_script: nope\n\n"
    )
    assert b"unknown FastAGI script" in _send_raw(port, env)
    snap = stack.agi.stats.snapshot()
    assert snap["malformed"] == len(bad) and snap["errors"] == 1 and snap["completed"] == 0
    # and a real call still goes through the IVR
    r = stack.place_call(keys="3", agents=0)
    assert r["ivr_choice"] == "3" and not r["lost"]
    assert stack.agi.stats.snapshot()["completed"] == 1


def test_hangup_in_the_middle_of_a_command(telephony_stack: TelephonyStack) -> None:
    stack = telephony_stack
    # the caller hangs up while the IVR waits for the menu key (GET DATA in progress)
    r = stack.place_call(keys="H", agents=0)
    assert r["ivr_choice"] is None and r["disposition"] == "ivr" and not r["lost"]
    _wait(lambda: stack.agi.stats.snapshot()["hangups"] == 1, 15, "the AGI session to end as a hangup")
    snap = stack.agi.stats.snapshot()
    assert snap["errors"] == 0 and snap["active"] == 0
    # the case-number input is interrupted too (second input of the status flow)
    r2 = stack.place_call(keys="2|H", agents=0)
    assert r2["ivr_choice"] == "2" and not r2["lost"]
    _wait(lambda: stack.agi.stats.snapshot()["hangups"] == 2, 15, "the status session to end as a hangup")
    # the server keeps serving: a full call to an agent
    ok = stack.place_call(keys="1", agents=1, talk_s=1)
    assert ok["answered"] is True
    assert stack.agi.stats.snapshot()["errors"] == 0


def test_kill_9_asterisk_mid_call_bridge_recovers_and_resyncs(
    telephony_stack: TelephonyStack, asterisk: AsteriskHandle
) -> None:
    stack = telephony_stack
    r = stack.redis
    bridge = stack.bridge
    from callcenter.commands import send_command, wait_result
    from callcenter.plugins.telephony.simulator import agent_interface

    # two callers talking to agents (long talk time), so the crash hits live calls
    for n in (1, 2):
        assert wait_result(r, send_command(r, "queue_add", interface=agent_interface(n, 60)), 20)["ok"]
    uids = []
    for i in (1, 2):
        uid = f"crash-{i}-2"
        uids.append(uid)
        aid = send_command(
            r,
            "originate",
            channel="Local/12345@hotline",
            context="sim-caller",
            exten="s",
            caller_id=f'"赵六{i}" <1360000000{i}>',
            variables={"SIM_KEYS": "1", "SIM_HOLD": "90"},
            channel_id=f"crash-{i}-1",
            other_channel_id=uid,
        )
        assert wait_result(r, aid, 30)["ok"]

    def answered() -> bool:
        types = [
            (e["type"], e["data"].get("uniqueid")) for e in (decode(f) for _i, f in r.xrange(STREAM_CALLS))
        ]
        return all(("call.answered", u) in types for u in uids)

    _wait(answered, 60, "both calls answered")
    generation = bridge.bridge.generation
    asterisk.kill()
    _wait(lambda: not bridge.bridge.connected.is_set(), 10, "the bridge to notice")
    asterisk.restart()
    bridge.wait_synced(timeout=30, generation=generation + 1)  # same bridge object, same thread
    # the calls cut by the crash are closed, with an event each
    with session_scope(stack.database_url) as s:
        rows = {c.uniqueid: c for c in s.scalars(select(Call).where(Call.uniqueid.in_(uids)))}
        for uid in uids:
            assert rows[uid].ended_at is not None
            assert rows[uid].hangup_cause == "lost (Asterisk restarted)"
            assert rows[uid].disposition == "answered" and rows[uid].data.get("closed_by_resync") is True

    def resynced_ends() -> list[dict[str, Any]]:
        ended = [decode(f) for _i, f in r.xrange(STREAM_CALLS)]
        return [e for e in ended if e["type"] == "call.ended" and e["data"].get("resync")]

    # the events travel through the outbox relay (asynchronous): wait for them, do not race it
    resynced = _wait(lambda: len(resynced_ends()) >= len(uids) and resynced_ends(), 15, "resync events")
    assert sorted(e["data"]["uniqueid"] for e in resynced) == sorted(uids)
    snapshots = [decode(f) for _i, f in r.xrange(STREAM_QUEUES)]
    last = [e for e in snapshots if e["type"] == "queue.snapshot"][-1]["data"]
    assert last["generation"] == generation + 1 and last["closed_calls"] == 2
    assert [q["queue"] for q in last["queues"]] == ["hotline"]
    assert last["queues"][0]["members"] == []  # dynamic members are gone after a restart
    # and the same bridge carries new calls end to end
    after = stack.place_call(keys="1", agents=1, talk_s=1)
    assert after["answered"] is True and after["call_id"] is not None
