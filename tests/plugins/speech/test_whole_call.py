"""Whole-call transcription (通话全程转写): an agent answers → the worker loop starts ChanSpy into the
speech service → the conversation is transcribed on the call's stream until hang-up."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
import redis as redis_lib

from callcenter import events as ev
from callcenter.commands import command_stream
from callcenter.config import Settings, SpeechSettings
from callcenter.events import audiosocket_key
from callcenter.plugins.speech.service import SpeechService
from callcenter.plugins.telephony.whole_call import GROUP, WholeCallStarter, spy_request, whole_call_loop
from tests.plugins.speech.test_asterisk_e2e import LONG_CLIP, _events, _wait_for, speech_service  # noqa: F401
from tests.support.asterisk import TelephonyStack

AGENT_CONNECT = {
    "uniqueid": "pbx2-1763880000.42",
    "channel": "Local/12345@hotline-00000001;2",
    "agent": "sim-agent-1",
    "queue": "hotline",
    "node": "pbx2",
}


def test_spy_request_is_built_only_for_a_caller_channel() -> None:
    req = spy_request(AGENT_CONNECT, "10.0.0.5:9092")
    assert req is not None
    audio_uuid, mapping, command = req
    assert mapping == {"uniqueid": "pbx2-1763880000.42", "mode": "spy", "agent": "sim-agent-1"}
    assert command["supervisor"] == f"AudioSocket/10.0.0.5:9092/{audio_uuid}"
    assert command["target"] == "Local/12345@hotline-00000001;2" and command["mode"] == "listen"
    for bad in (
        {},
        {**AGENT_CONNECT, "channel": ""},
        {**AGENT_CONNECT, "uniqueid": None},
        {**AGENT_CONNECT, "channel": "a,b"},
    ):
        assert spy_request(bad, "10.0.0.5:9092") is None


def test_off_by_default() -> None:
    assert whole_call_loop(Settings(mode="test")) is None
    assert whole_call_loop(Settings(mode="test", speech=SpeechSettings(whole_call=True))) is not None


@pytest.mark.redis
def test_each_answer_starts_one_spy_on_its_node_and_survives_a_restart(redis_client: redis_lib.Redis) -> None:
    """Real Redis, no Asterisk: the command lands on the answering node's stream; an entry read but not
    acknowledged before a crash is handled by the next run; junk entries are dropped, not retried."""
    first = WholeCallStarter(redis_client, "127.0.0.1:9092", consumer="w1")
    first.ensure_group()
    ev.publish_now(redis_client, ev.STREAM_AGENTS, "agent.called", {**AGENT_CONNECT})
    ev.publish_now(redis_client, ev.STREAM_AGENTS, "agent.connect", {**AGENT_CONNECT})
    redis_client.xadd(ev.STREAM_AGENTS, {"junk": "x"})
    # a crash after reading: the entries are pending for consumer w1
    redis_client.xreadgroup(GROUP, "w1", {ev.STREAM_AGENTS: ">"}, count=10)
    assert redis_client.xlen(command_stream("pbx2")) == 0

    again = WholeCallStarter(redis_client, "127.0.0.1:9092", consumer="w1")
    assert again.run_once(block_ms=10) == 1
    assert again.run_once(block_ms=10) == 0  # acknowledged: never twice
    assert redis_client.xpending(ev.STREAM_AGENTS, GROUP)["pending"] == 0
    entries: Any = redis_client.xrange(command_stream("pbx2"))
    assert len(entries) == 1 and redis_client.xlen(ev.STREAM_COMMANDS) == 0
    cmd = ev.decode(entries[0][1])
    assert cmd["type"] == "spy" and cmd["data"]["target"] == AGENT_CONNECT["channel"]
    audio_uuid = cmd["data"]["supervisor"].rsplit("/", 1)[1]
    mapping = json.loads(redis_client.get(audiosocket_key(audio_uuid)) or b"{}")
    assert mapping["uniqueid"] == AGENT_CONNECT["uniqueid"] and mapping["mode"] == "spy"


@pytest.mark.asterisk
@pytest.mark.speech
@pytest.mark.slow
def test_answered_call_is_transcribed_until_hangup(
    telephony_stack: TelephonyStack,
    speech_service: SpeechService,  # noqa: F811
) -> None:
    stack = telephony_stack
    starter = WholeCallStarter(stack.redis, f"127.0.0.1:{speech_service.server.port}")
    starter.ensure_group()
    stop = threading.Event()
    loop = threading.Thread(target=starter.run_forever, args=(stop,), daemon=True)
    loop.start()
    try:
        r = stack.place_call(keys="1", agents=1, talk_s=6, sounds=(f"callcenter/speech/{LONG_CLIP[:-4]}",))
    finally:
        stop.set()
        loop.join(10)
    assert r["answered"] is True, r
    assert starter.started == 1
    leg = r["uniqueid"]

    def spy_done() -> dict[str, Any] | None:
        evs = _events(stack.redis, ev.transcript_stream(leg))
        return next((e for e in evs if e["type"] == "transcript.done" and e["data"]["mode"] == "spy"), None)

    finished = _wait_for(spy_done, 90, "the whole-call session's transcript.done")
    assert finished["data"]["reason"] == "hangup", finished  # ChanSpy ends with the spied call
    # the spy attached when the agent answered and heard the 6 s conversation (greeting + talk)
    assert finished["data"]["audio_s"] >= 4.0, finished


@pytest.mark.redis
def test_the_loop_recreates_its_group_after_redis_lost_everything(redis_client: redis_lib.Redis) -> None:
    starter = WholeCallStarter(redis_client, "127.0.0.1:9092", consumer="w1")
    starter.ensure_group()
    redis_client.flushdb()  # Redis restarted without persistence: stream and group are gone
    stop = threading.Event()
    loop = threading.Thread(target=starter.run_forever, args=(stop,), daemon=True)
    loop.start()
    try:
        _wait_for(lambda: redis_client.exists(ev.STREAM_AGENTS), 10, "the group to be re-created")
        ev.publish_now(redis_client, ev.STREAM_AGENTS, "agent.connect", {**AGENT_CONNECT})
        _wait_for(lambda: redis_client.xlen(command_stream("pbx2")) == 1, 10, "the spy command")
    finally:
        stop.set()
        loop.join(10)
