"""AudioSocket server end to end over real TCP: real engines, real Redis, real database."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import numpy as np
import pytest
import redis as redis_lib
from sqlalchemy import select

from callcenter.db.models import Call, TranscriptUtterance
from callcenter.db.session import session_scope
from callcenter.events import STREAM_TRANSCRIPTS, audiosocket_key, decode, transcript_stream
from callcenter.plugins.speech.audio import float_to_pcm16, read_audio_pcm16
from callcenter.plugins.speech.audiosocket.protocol import audio_frame, dtmf_frame, hangup_frame, uuid_frame
from callcenter.plugins.speech.audiosocket.session import SessionPolicy, SessionSummary
from callcenter.plugins.speech.service import RedisDbSink, ServiceOptions, SpeechService
from callcenter.plugins.speech.text import cer
from callcenter.plugins.speech.twopass import TwoPassConfig
from callcenter.plugins.speech.vosk_engine import VoskEngine
from callcenter.plugins.speech.whisper_engine import WhisperEngine
from tests.plugins.speech.conftest import SPEECH

pytestmark = [pytest.mark.speech, pytest.mark.redis, pytest.mark.slow]

CLIP = "paddlespeech_zh.wav"
FRAME = 320  # 20 ms at 8 kHz


def clip_pcm(name: str = CLIP) -> bytes:
    pcm, rate = read_audio_pcm16(SPEECH / "8k" / name)
    assert rate == 8000
    return pcm


def silence(seconds: float) -> bytes:
    return float_to_pcm16(np.zeros(int(8000 * seconds), dtype=np.float32))


def frames(pcm: bytes, rate: int = 8000) -> list[bytes]:
    size = rate // 50 * 2
    return [audio_frame(pcm[i : i + size], rate) for i in range(0, len(pcm) - len(pcm) % 2, size)]


async def call(port: int, audio_uuid: str | None, payload: list[bytes], *, close: bool = False) -> bool:
    """Play frames to the server like Asterisk; True if the server closed the socket first."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        if audio_uuid is not None:
            writer.write(uuid_frame(audio_uuid))
        for i, f in enumerate(payload):
            writer.write(f)
            if i % 25 == 0:
                await writer.drain()
        await writer.drain()
    except ConnectionError:
        return True
    if close:
        writer.close()
        return False
    try:
        data = await asyncio.wait_for(reader.read(), timeout=60)
        return data == b""
    except ConnectionError:
        return True
    finally:
        writer.close()


async def wait_done(service: SpeechService, count: int) -> list[SessionSummary]:
    for _ in range(1200):
        if len(service.server.completed) >= count:
            assert isinstance(service.sink, RedisDbSink)
            assert await asyncio.to_thread(service.sink.flush)
            return service.server.completed
        await asyncio.sleep(0.05)
    raise AssertionError(f"only {len(service.server.completed)} of {count} sessions finished")


def events(client: redis_lib.Redis, stream: str) -> list[dict[str, Any]]:
    entries: Any = client.xrange(stream)
    return [decode(fields) for _id, fields in entries]


@pytest.fixture
async def make_service(
    whisper_engine: WhisperEngine, vosk_ko: VoskEngine, sqlite_url: str, redis_url: str
) -> AsyncIterator[Callable[..., Any]]:
    services: list[SpeechService] = []

    async def factory(policy: SessionPolicy | None = None, **kw: Any) -> SpeechService:
        options = ServiceOptions(
            port=0,
            database_url=kw.pop("database_url", sqlite_url),
            redis_url=redis_url,
            twopass=kw.pop("twopass", TwoPassConfig("vosk", "whisper")),
            workers=2,
            policy=policy or SessionPolicy(),
        )
        service = SpeechService(options, vosk=vosk_ko, whisper=whisper_engine, **kw)
        await service.start()
        services.append(service)
        return service

    yield factory
    for service in services:
        await service.close()
    assert all(not s.server.active for s in services)


def map_call(client: redis_lib.Redis, audio_uuid: str, uniqueid: str, **extra: str) -> None:
    data = {"uniqueid": uniqueid, "linkedid": uniqueid, "caller": "13800138000", "dialled": "12345", **extra}
    client.set(audiosocket_key(audio_uuid), json.dumps(data), ex=3600)


def stored(db_url: str, uniqueid: str) -> tuple[Call | None, list[TranscriptUtterance]]:
    with session_scope(db_url) as s:
        row = s.scalar(select(Call).where(Call.uniqueid == uniqueid))
        utts = (
            list(
                s.scalars(
                    select(TranscriptUtterance).where(TranscriptUtterance.call_id == row.id).order_by("seq")
                )
            )
            if row
            else []
        )
        s.expunge_all()
    return row, utts


async def test_intake_call_transcript_on_redis_and_in_db(
    make_service: Any, redis_client: redis_lib.Redis, sqlite_url: str, manifest: dict[str, str]
) -> None:
    # the client sends faster than real time; a large lag allowance keeps every partial
    service = await make_service(policy=SessionPolicy(max_partial_lag_s=60))
    audio_uuid, uniqueid = str(uuid.uuid4()), "1763850000.101"
    map_call(redis_client, audio_uuid, uniqueid)
    closed_by_server = await call(
        service.server.port, audio_uuid, frames(silence(0.5) + clip_pcm() + silence(3))
    )
    assert closed_by_server, "the server must close the socket when the caller stops talking"
    (summary,) = await wait_done(service, 1)
    assert summary.reason == "caller_done" and summary.partial_skipped_s == 0
    evs = events(redis_client, transcript_stream(uniqueid))
    types = [e["type"] for e in evs]
    assert "transcript.partial" in types and "transcript.final" in types and types[-1] == "transcript.done"
    assert types.index("transcript.partial") < types.index("transcript.final")
    final = next(e["data"] for e in evs if e["type"] == "transcript.final")
    assert set(final) == {"uniqueid", "seq", "text", "start_s", "end_s", "engine", "final", "ended_at"}
    assert final["final"] is True and final["engine"] == "whisper" and final["uniqueid"] == uniqueid
    partial = next(e["data"] for e in evs if e["type"] == "transcript.partial")
    assert partial["final"] is False and partial["engine"] == "vosk"
    done = evs[-1]["data"]
    assert cer(manifest[CLIP], done["text"]) <= 0.25, done
    all_calls = [e["type"] for e in events(redis_client, STREAM_TRANSCRIPTS)]
    assert "transcript.final" in all_calls and "transcript.done" in all_calls
    row, utts = stored(sqlite_url, uniqueid)
    assert row is not None and row.caller_number == "13800138000" and row.dialled_number == "12345"
    assert utts and "".join(u.text for u in utts) == done["text"]
    assert all(u.engine == "whisper" and u.speaker == "caller" and u.end_s > u.start_s for u in utts)


@pytest.mark.postgres
async def test_intake_call_on_postgres(
    make_service: Any, redis_client: redis_lib.Redis, pg_url: str, manifest: dict[str, str]
) -> None:
    service = await make_service(database_url=pg_url)
    audio_uuid, uniqueid = str(uuid.uuid4()), "1763850000.202"
    map_call(redis_client, audio_uuid, uniqueid)
    await call(service.server.port, audio_uuid, frames(clip_pcm("funasr_short.wav") + silence(2)))
    (_summary,) = await wait_done(service, 1)
    row, utts = stored(pg_url, uniqueid)
    assert row is not None and utts
    assert cer(manifest["funasr_short.wav"], "".join(u.text for u in utts)) <= 0.25


async def test_lagging_session_drops_partial_work_not_finals(
    make_service: Any, redis_client: redis_lib.Redis, manifest: dict[str, str]
) -> None:
    service = await make_service(policy=SessionPolicy(max_partial_lag_s=0.5))
    audio_uuid, uniqueid = str(uuid.uuid4()), "1763850000.111"
    map_call(redis_client, audio_uuid, uniqueid)
    # a burst of 9 s of audio arrives at once: far behind "real time" for the partial pass
    pcm = clip_pcm("paddlespeech_features_test.wav") + silence(2)
    await call(service.server.port, audio_uuid, frames(pcm))
    (summary,) = await wait_done(service, 1)
    assert summary.partial_skipped_s > 1.0
    assert summary.reason == "caller_done"
    assert cer(manifest["paddlespeech_features_test.wav"], summary.text) <= 0.25


async def test_unmapped_uuid_is_the_call_id(
    make_service: Any, redis_client: redis_lib.Redis, sqlite_url: str
) -> None:
    service = await make_service()
    audio_uuid = str(uuid.uuid4())
    await call(service.server.port, audio_uuid, frames(clip_pcm("funasr_asr_example.wav") + silence(2)))
    (summary,) = await wait_done(service, 1)
    assert summary.text
    row, utts = stored(sqlite_url, audio_uuid)
    assert row is not None and utts
    assert events(redis_client, transcript_stream(audio_uuid))[-1]["type"] == "transcript.done"


async def test_spy_mode_keeps_listening_until_eof(
    make_service: Any, redis_client: redis_lib.Redis, sqlite_url: str
) -> None:
    service = await make_service()
    audio_uuid, uniqueid = str(uuid.uuid4()), "1763850000.303"
    map_call(redis_client, audio_uuid, uniqueid, mode="spy")
    pcm = clip_pcm("funasr_asr_example.wav") + silence(3) + clip_pcm("funasr_short.wav") + silence(1)
    closed_by_server = await call(service.server.port, audio_uuid, frames(pcm), close=True)
    assert not closed_by_server
    (summary,) = await wait_done(service, 1)
    assert summary.reason == "hangup"  # EOF is the hangup
    _row, utts = stored(sqlite_url, uniqueid)
    assert len(utts) >= 2 and [u.seq for u in utts] == sorted(u.seq for u in utts)
    assert all(u.speaker == "both" for u in utts)


async def test_simultaneous_calls(
    make_service: Any, redis_client: redis_lib.Redis, manifest: dict[str, str]
) -> None:
    service = await make_service()
    names = ["funasr_short.wav", "paddlespeech_zh.wav", "wenet_aishell-BAC009S0724W0121.wav"]
    ids = [f"1763850000.4{i}" for i in range(len(names))]
    uuids = [str(uuid.uuid4()) for _ in names]
    for u, i in zip(uuids, ids, strict=True):
        map_call(redis_client, u, i)
    await asyncio.gather(
        *(
            call(service.server.port, u, frames(clip_pcm(n) + silence(2)))
            for u, n in zip(uuids, names, strict=True)
        )
    )
    await wait_done(service, 3)
    for name, uniqueid in zip(names, ids, strict=True):
        done = events(redis_client, transcript_stream(uniqueid))[-1]
        assert done["type"] == "transcript.done"
        assert cer(manifest[name], done["data"]["text"]) <= 0.35, (name, done)


BAD_CASES = {
    # name: (frames after the UUID, expected reason, whether some text must survive); the client
    # closes the connection after sending for "hangup" and "protocol_error" (EOF mid-frame)
    "unknown_kind_midway": (lambda: [*frames(clip_pcm())[:200], b"B\x00\x00"], "protocol_error", True),
    "truncated_frame": (
        lambda: [*frames(clip_pcm())[:200], b"\x10\x01@" + bytes(100)],
        "protocol_error",
        True,
    ),
    "oversized_length": (lambda: [*frames(clip_pcm())[:200], b"\x10\xff\xff"], "protocol_error", True),
    "odd_audio_payload": (lambda: [b"\x10\x00\x03abc"], "protocol_error", False),
    "wrong_sample_rate": (lambda: frames(float_to_pcm16(np.zeros(48000)), 48000), "bad_audio", False),
    "rate_changes": (lambda: frames(clip_pcm())[:200] + frames(silence(0.1), 16000), "bad_audio", True),
    "silence_only": (lambda: frames(silence(9.5)), "no_speech", False),
    "hangup_mid_utterance": (lambda: [*frames(clip_pcm())[:180], hangup_frame()], "hangup", True),
    "dtmf_hash_ends_intake": (lambda: [*frames(clip_pcm())[:200], dtmf_frame("#")], "dtmf", True),
    "asterisk_error_frame": (
        lambda: [*frames(clip_pcm())[:200], b"\xff\x00\x01\x04"],
        "asterisk_error",
        True,
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
async def test_bad_input_ends_cleanly(
    make_service: Any, redis_client: redis_lib.Redis, sqlite_url: str, case: str
) -> None:
    build, reason, keeps_text = BAD_CASES[case]
    service = await make_service()
    audio_uuid = str(uuid.uuid4())
    map_call(redis_client, audio_uuid, f"bad-{case}")
    await call(
        service.server.port, audio_uuid, build(), close=reason == "hangup" or case == "truncated_frame"
    )
    (summary,) = await wait_done(service, 1)
    assert summary.reason == reason, summary
    assert bool(summary.text) == keeps_text, summary
    done = events(redis_client, transcript_stream(f"bad-{case}"))[-1]
    assert done["type"] == "transcript.done" and done["data"]["reason"] == reason
    _row, utts = stored(sqlite_url, f"bad-{case}")
    assert bool(utts) == keeps_text
    # the server is still fine: a good call right after works
    good = str(uuid.uuid4())
    await call(service.server.port, good, frames(clip_pcm("funasr_asr_example.wav") + silence(2)))
    summaries = await wait_done(service, 2)
    assert summaries[-1].reason == "caller_done" and summaries[-1].text


async def test_connection_level_garbage(make_service: Any) -> None:
    service = await make_service(policy=SessionPolicy(idle_timeout_s=1.0))
    port = service.server.port
    # not a UUID first, garbage, and an immediate EOF: closed without a session
    assert await call(port, None, [audio_frame(bytes(320))])
    assert await call(port, None, [b"GET / HTTP/1.1\r\n\r\n"])
    assert await call(port, None, [b"\x01\x00"], close=True) is False
    # a UUID and then nothing: the idle timeout ends the session
    assert await call(port, str(uuid.uuid4()), [])
    (summary,) = await wait_done(service, 1)
    assert summary.reason == "idle_timeout" and summary.text == ""
    assert not service.server.active


async def test_speech_longer_than_the_cap(make_service: Any) -> None:
    service = await make_service(policy=SessionPolicy(max_duration_s=6.0))
    long_speech = clip_pcm("paddlespeech_features_test.wav") + clip_pcm("funasr_short.wav")
    assert await call(service.server.port, str(uuid.uuid4()), frames(long_speech))
    (summary,) = await wait_done(service, 1)
    assert summary.reason == "max_duration"
    assert summary.text and 6.0 <= summary.audio_s < 7.5


async def test_redis_outage_does_not_lose_finals(
    make_service: Any, sqlite_url: str, manifest: dict[str, str]
) -> None:
    dead = redis_lib.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, socket_timeout=0.2)
    service = await make_service(redis_client=dead)
    audio_uuid = str(uuid.uuid4())
    await call(service.server.port, audio_uuid, frames(clip_pcm() + silence(2)))
    (summary,) = await wait_done(service, 1)
    assert summary.reason == "caller_done"
    _row, utts = stored(sqlite_url, audio_uuid)  # lookup failed too: the UUID is the call id
    assert cer(manifest[CLIP], "".join(u.text for u in utts)) <= 0.25
    assert service.sink.redis_failures >= 1
