"""The AudioSocket server under slow or hostile peers (issue 12, item 6), over real TCP against the real
speech service (real engines, Redis, SQLite); the test plays Asterisk's side of the protocol.

Before the fix the only clock on a session was the 10 s idle timeout, reset by every frame: 66
connections sending a 20 ms frame every 3 s held every session slot for as long as they liked and real
callers were refused. Now an intake session must keep up a minimum audio rate
(``speech.audiosocket_min_audio_ratio``), the UUID handshake has one total deadline, and per-address
limits keep one peer from taking every slot (``speech.audiosocket_*``).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis as redis_lib
from prometheus_client import REGISTRY

from callcenter.config import Settings
from callcenter.plugins.speech.audiosocket.protocol import audio_frame, uuid_frame
from callcenter.plugins.speech.audiosocket.session import SessionPolicy
from callcenter.plugins.speech.service import RedisDbSink, ServiceOptions, SpeechService
from callcenter.plugins.speech.text import cer
from callcenter.plugins.speech.twopass import TwoPassConfig
from callcenter.plugins.speech.vosk_engine import VoskEngine
from callcenter.plugins.speech.whisper_engine import WhisperEngine
from tests.plugins.speech.test_server import call, clip_pcm, frames, map_call, silence

pytestmark = [pytest.mark.speech, pytest.mark.redis, pytest.mark.slow]

ATTACKER = "127.0.0.2"  # another address on the loopback network; Asterisk's calls come from 127.0.0.1


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
async def limited_service(
    whisper_engine: WhisperEngine, vosk_ko: VoskEngine, sqlite_url: str, redis_url: str
) -> AsyncIterator[Callable[..., Any]]:
    services: list[SpeechService] = []

    async def factory(policy: SessionPolicy | None = None, **limits: Any) -> SpeechService:
        options = ServiceOptions(
            port=0,
            database_url=sqlite_url,
            redis_url=redis_url,
            twopass=TwoPassConfig("vosk", "whisper"),
            policy=policy or SessionPolicy(),
            **{"workers": 2, **limits},
        )
        service = SpeechService(options, vosk=vosk_ko, whisper=whisper_engine)
        await service.start()
        services.append(service)
        return service

    yield factory
    for service in services:
        await service.close()


async def slow_sender(port: int, every_s: float, duration_s: float, source: str = ATTACKER) -> float | None:
    """Connect, send a UUID, then one 20 ms frame every ``every_s`` s; seconds until the server closed
    the connection (``None`` = still open after ``duration_s``)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    started = time.monotonic()
    try:
        writer.write(uuid_frame(uuid.uuid4()))
        while time.monotonic() - started < duration_s:
            writer.write(audio_frame(bytes(320)))
            await writer.drain()
            try:
                if await asyncio.wait_for(reader.read(1), every_s) == b"":
                    return time.monotonic() - started
            except TimeoutError:
                continue
    except ConnectionError:
        return time.monotonic() - started
    finally:
        writer.close()
    return None


async def refused_at_once(port: int, source: str, payload: bytes = b"") -> bool:
    """True when the server closes a new connection without reading it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    try:
        if payload:
            writer.write(payload)
            await writer.drain()
        return await asyncio.wait_for(reader.read(1), 3.0) == b""
    except ConnectionError:
        return True
    except TimeoutError:
        return False
    finally:
        writer.close()


async def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def real_call(service: SpeechService, redis_client: redis_lib.Redis, uniqueid: str) -> str:
    """An Asterisk call (from 127.0.0.1) describing a matter; the text of its finished session."""
    audio_uuid = str(uuid.uuid4())
    map_call(redis_client, audio_uuid, uniqueid)
    before = len(service.server.completed)
    closed_by_server = await call(service.server.port, audio_uuid, frames(clip_pcm() + silence(2)))
    assert closed_by_server
    await wait_for(
        lambda: any(s.reason == "caller_done" for s in service.server.completed[before:]), 60, "the call"
    )
    assert isinstance(service.sink, RedisDbSink) and await asyncio.to_thread(service.sink.flush)
    summary = next(s for s in service.server.completed[before:] if s.reason == "caller_done")
    return summary.text


async def test_slow_senders_do_not_starve_a_real_session(
    limited_service: Any, redis_client: redis_lib.Redis, manifest: dict[str, str]
) -> None:
    """The probe of the issue, scaled down: as many slow senders as there are slots (a 20 ms frame
    every second — well inside the idle timeout), then a real call."""
    service = await limited_service(policy=SessionPolicy(min_audio_grace_s=2.0), max_sessions=8)
    slow_before = metric("cc_asr_sessions_total", mode="intake", reason="slow_audio")
    attackers = [asyncio.create_task(slow_sender(service.server.port, 1.0, 20.0)) for _ in range(8)]
    await wait_for(lambda: len(service.server.active) == 8, 10, "the slow senders to take every slot")
    # every slow sender is cut off by the minimum audio rate although it keeps sending
    closed_after = await asyncio.gather(*attackers)
    assert all(t is not None and t < 2.0 + 1.5 for t in closed_after), closed_after
    assert not service.server.active and service.server.slots_used == 0
    text = await real_call(service, redis_client, "1763860000.601")
    assert cer(manifest["paddlespeech_zh.wav"], text) <= 0.25
    slow = [s for s in service.server.completed if s.reason == "slow_audio"]
    assert len(slow) == 8 and all(s.error and "real time" in s.error for s in slow)
    assert metric("cc_asr_sessions_total", mode="intake", reason="slow_audio") - slow_before == 8


async def test_a_real_time_caller_is_not_cut_by_the_minimum_rate(
    limited_service: Any, redis_client: redis_lib.Redis
) -> None:
    """Audio at real time (with Asterisk's jitter) passes the minimum rate; the session ends as usual."""
    service = await limited_service(policy=SessionPolicy(min_audio_grace_s=1.0, min_audio_window_s=2.0))
    audio_uuid = str(uuid.uuid4())
    map_call(redis_client, audio_uuid, "1763860000.602")
    reader, writer = await asyncio.open_connection("127.0.0.1", service.server.port)
    writer.write(uuid_frame(audio_uuid))
    payload = frames(silence(0.3) + clip_pcm("funasr_short.wav") + silence(2))
    try:
        for i in range(0, len(payload), 10):  # 200 ms bursts at real time
            writer.writelines(payload[i : i + 10])
            await writer.drain()
            await asyncio.sleep(0.2)
        assert await asyncio.wait_for(reader.read(), 30) == b""
    except ConnectionError:
        pass  # the server ended the intake (caller_done) while the trailing silence was still going
    writer.close()
    await wait_for(lambda: len(service.server.completed) == 1, 60, "the session")
    (summary,) = service.server.completed
    assert summary.reason == "caller_done" and summary.text, summary


async def test_per_peer_limit_refuses_the_extra_connection(
    limited_service: Any, redis_client: redis_lib.Redis, manifest: dict[str, str]
) -> None:
    service = await limited_service(
        policy=SessionPolicy(min_audio_ratio=0.0, idle_timeout_s=60), max_sessions=8, max_sessions_per_peer=3
    )
    port = service.server.port
    refused_before = metric("cc_asr_connections_refused_total", reason="per_peer")
    holders = []
    for _ in range(3):  # three sessions of one peer that hold their slots
        _r, w = await asyncio.open_connection("127.0.0.1", port, local_addr=(ATTACKER, 0))
        w.write(uuid_frame(uuid.uuid4()))
        holders.append(w)
    await wait_for(lambda: len(service.server.active) == 3, 5, "three sessions")
    try:
        assert await refused_at_once(port, ATTACKER, uuid_frame(uuid.uuid4()))  # the fourth
        assert service.server.peers() == {ATTACKER: (3, 0)}
        # Asterisk (another address) is served while the peer holds its share
        text = await real_call(service, redis_client, "1763860000.603")
        assert cer(manifest["paddlespeech_zh.wav"], text) <= 0.25
        assert metric("cc_asr_connections_refused_total", reason="per_peer") - refused_before == 1
    finally:
        for w in holders:
            w.close()
    await wait_for(lambda: service.server.slots_used == 0, 10, "the holders to go")


async def test_handshake_has_one_total_deadline_and_a_per_peer_cap(limited_service: Any) -> None:
    service = await limited_service(handshake_timeout_s=1.0, max_pending_per_peer=2)
    port = service.server.port
    # a UUID frame one byte every 0.3 s: every read is quick, the whole frame is not
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(ATTACKER, 0))
    started = time.monotonic()
    closed_after = None
    for byte in uuid_frame(uuid.uuid4()):
        try:
            writer.write(bytes([byte]))
            await writer.drain()
            if await asyncio.wait_for(reader.read(1), 0.3) == b"":
                closed_after = time.monotonic() - started
                break
        except TimeoutError:
            continue
        except ConnectionError:
            closed_after = time.monotonic() - started
            break
    writer.close()
    assert closed_after is not None and 0.9 <= closed_after < 2.0, closed_after
    assert service.server.handshake_timeouts == 1
    # two silent connections of one address are in their handshake: the third is refused at once,
    # another address is not
    silent = [await asyncio.open_connection("127.0.0.1", port, local_addr=(ATTACKER, 0)) for _ in range(2)]
    await wait_for(lambda: service.server.peers().get(ATTACKER) == (2, 2), 5, "two pending connections")
    assert await refused_at_once(port, ATTACKER)
    _r, other = await asyncio.open_connection("127.0.0.1", port)
    await wait_for(lambda: service.server.peers().get("127.0.0.1") == (1, 1), 5, "the other address")
    other.close()
    for _r, w in silent:
        w.close()
    await wait_for(lambda: service.server.slots_used == 0, 5, "the slots to be released")


async def test_allowed_peers(limited_service: Any, redis_client: redis_lib.Redis) -> None:
    service = await limited_service(allowed_peers=("127.0.0.1/32",))
    assert await refused_at_once(service.server.port, ATTACKER, uuid_frame(uuid.uuid4()))
    assert await real_call(service, redis_client, "1763860000.604")


def test_limits_come_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLCENTER_SPEECH__AUDIOSOCKET_ALLOWED_PEERS", "10.0.0.5, 10.0.1.0/24")
    monkeypatch.setenv("CALLCENTER_SPEECH__AUDIOSOCKET_MIN_AUDIO_RATIO", "0.25")
    monkeypatch.setenv("CALLCENTER_SPEECH__AUDIOSOCKET_MAX_SESSIONS_PER_PEER", "40")
    monkeypatch.setenv("CALLCENTER_SPEECH__AUDIOSOCKET_HANDSHAKE_TIMEOUT_S", "2")
    from callcenter.config import get_settings

    get_settings.cache_clear()
    try:
        options = ServiceOptions.from_settings()
    finally:
        get_settings.cache_clear()
    assert options.policy.min_audio_ratio == 0.25 and options.policy.min_audio_grace_s == 3.0
    assert options.max_sessions_per_peer == 40 and options.handshake_timeout_s == 2.0
    assert options.allowed_peers == ("10.0.0.5", "10.0.1.0/24") and options.max_pending_per_peer == 16
    monkeypatch.setenv("CALLCENTER_SPEECH__AUDIOSOCKET_ALLOWED_PEERS", "not-an-address")
    with pytest.raises(ValueError, match="not an address or network"):
        Settings(mode="test")
