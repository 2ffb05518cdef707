"""Through the real Asterisk: a simulated caller describes the problem (a Mandarin clip) after
pressing 1; the IVR streams it with ``AudioSocket()`` to the real speech service, which closes the
socket when the caller stops, so the call goes on to the queue. The transcript arrives on Redis and
in the database for that call.

Uses the telephony area's ``telephony_stack`` fixture (Asterisk chroot, FastAGI, AMI bridge).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis as redis_lib
from sqlalchemy import select

from callcenter.db.models import Call, TranscriptUtterance
from callcenter.db.session import session_scope
from callcenter.events import STREAM_TRANSCRIPTS, decode, transcript_stream
from callcenter.plugins.speech.service import ServiceOptions, SpeechService
from callcenter.plugins.speech.text import cer
from callcenter.plugins.speech.twopass import TwoPassConfig
from callcenter.plugins.speech.vosk_engine import VoskEngine
from callcenter.plugins.speech.whisper_engine import WhisperEngine
from tests.support.asterisk import TelephonyStack

pytestmark = [pytest.mark.asterisk, pytest.mark.speech, pytest.mark.redis, pytest.mark.slow]

CLIP = "paddlespeech_zh.wav"
LONG_CLIP = "paddlespeech_features_test.wav"  # 9.4 s, so the call lasts a while


class ServiceThread:
    """The speech service on its own event loop in a daemon thread."""

    def __init__(self, service: SpeechService) -> None:
        self.service = service
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="speech-service", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self.service.start())
            self.ready.set()
            self.loop.run_forever()
            self.loop.run_until_complete(self.service.close())
        except BaseException as exc:  # pragma: no cover - surfaced by start()
            self.error = exc
            self.ready.set()
        finally:
            self.loop.close()

    def start(self) -> int:
        self.thread.start()
        self.ready.wait(30)
        if self.error is not None:
            raise RuntimeError(f"speech service failed to start: {self.error!r}")
        return self.service.server.port

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)


@pytest.fixture
def speech_service(
    telephony_stack: TelephonyStack, whisper_engine: WhisperEngine, vosk_ko: VoskEngine
) -> Iterator[SpeechService]:
    options = ServiceOptions(
        port=0,
        database_url=telephony_stack.database_url,
        redis_url=telephony_stack.redis_url,
        twopass=TwoPassConfig("vosk", "whisper"),  # Korean Vosk stands in for the Mandarin partial model
        workers=2,
    )
    service = SpeechService(options, vosk=vosk_ko, whisper=whisper_engine)
    runner = ServiceThread(service)
    port = runner.start()
    telephony_stack.asterisk.set_global("AUDIOSOCKET_ADDR", f"127.0.0.1:{port}")
    telephony_stack.asterisk.set_global("SPEECH_STEP", "1")
    try:
        yield service
    finally:
        telephony_stack.asterisk.reset_globals()
        runner.stop()


def _events(r: redis_lib.Redis, stream: str) -> list[dict[str, Any]]:
    entries: Any = r.xrange(stream)
    return [decode(fields) for _id, fields in entries]


def _wait_for(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_caller_description_is_transcribed_live(
    telephony_stack: TelephonyStack, speech_service: SpeechService, manifest: dict[str, str]
) -> None:
    stack = telephony_stack
    r = stack.place_call(keys="1", agents=1, talk_s=1, sounds=(f"callcenter/speech/{CLIP[:-4]}",))
    assert r["answered"] is True, r  # the socket was closed after the description: on to the queue
    uniqueid = r["uniqueid"]
    stream = transcript_stream(uniqueid)

    def done() -> dict[str, Any] | None:
        evs = _events(stack.redis, stream)
        return next((e for e in evs if e["type"] == "transcript.done"), None)

    finished = _wait_for(done, 60, "transcript.done on Redis")
    assert finished["data"]["reason"] == "caller_done", finished
    assert cer(manifest[CLIP], finished["data"]["text"]) <= 0.3, finished
    types = [e["type"] for e in _events(stack.redis, stream)]
    assert "transcript.partial" in types and "transcript.final" in types
    assert "transcript.final" in [e["type"] for e in _events(stack.redis, STREAM_TRANSCRIPTS)]
    with session_scope(stack.database_url) as s:
        call = s.scalar(select(Call).where(Call.uniqueid == uniqueid))
        assert call is not None and call.queue == "hotline"
        utts = list(s.scalars(select(TranscriptUtterance).where(TranscriptUtterance.call_id == call.id)))
        assert utts and "".join(u.text for u in sorted(utts, key=lambda u: u.seq)) == finished["data"]["text"]
        assert all(u.engine == "whisper" and u.speaker == "caller" for u in utts)


def test_whole_call_streams_through_chanspy(
    telephony_stack: TelephonyStack, speech_service: SpeechService
) -> None:
    """Spy mode: an ``AudioSocket/…`` channel originated into ``ChanSpy`` on the hotline leg streams
    the call to the same server until the call ends (telephony-notes: whole-call transcription)."""
    import json
    import uuid

    from callcenter.commands import send_command, wait_result
    from callcenter.events import audiosocket_key

    stack = telephony_stack
    results: list[dict[str, Any]] = []
    caller = threading.Thread(
        target=lambda: results.append(
            stack.place_call(keys="1", agents=1, talk_s=2, sounds=(f"callcenter/speech/{LONG_CLIP[:-4]}",))
        ),
        daemon=True,
    )
    channels = stack.bridge.bridge.channels
    before = set(channels)  # a previous test's call may still be hanging up on the shared Asterisk
    caller.start()
    leg = _wait_for(
        lambda: next(
            (u for u in list(channels) if u.startswith("sim-") and u.endswith("-2") and u not in before), None
        ),
        30,
        "the hotline leg of the simulated call",
    )
    spy_uuid = str(uuid.uuid4())
    stack.redis.set(audiosocket_key(spy_uuid), json.dumps({"uniqueid": leg, "mode": "spy"}), ex=600)
    port = speech_service.server.port
    spy = send_command(
        stack.redis,
        "spy",
        supervisor=f"AudioSocket/127.0.0.1:{port}/{spy_uuid}",
        target=channels[leg]["channel"],
    )
    assert wait_result(stack.redis, spy, 30)["ok"]
    caller.join(120)
    assert results and results[0]["answered"] is True
    assert results[0]["uniqueid"] == leg

    def spy_done() -> dict[str, Any] | None:
        evs = _events(stack.redis, transcript_stream(leg))
        return next((e for e in evs if e["type"] == "transcript.done" and e["data"]["mode"] == "spy"), None)

    finished = _wait_for(spy_done, 90, "the spy session's transcript.done")
    assert finished["data"]["reason"] == "hangup", finished  # ChanSpy ends with the spied call: EOF
    # The spy streamed the call (prompts, the caller, hold music, the agent) until the call ended.
    # What it heard depends on when it attached, so its text is not checked here: the intake test
    # checks recognition through Asterisk, and test_server.py checks spy-mode storage over TCP.
    assert finished["data"]["audio_s"] >= 5.0, finished
    with session_scope(stack.database_url) as s:
        call = s.scalar(select(Call).where(Call.uniqueid == leg))
        assert call is not None  # the spy session is tied to the call its UUID mapping names
