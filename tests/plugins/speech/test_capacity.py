"""Capacity of the real speech service (issue 14, item 4): a session's slot is freed when the caller's
audio ends, its finals wait in the process-wide final queue, and that queue degrades (partials shed,
cheap finals, then new connections refused) instead of refusing a caller who is speaking.

Before: a session held its slot until its last final was decoded, so with Whisper behind, callers were
refused at the session limit (docs/benchmarks.md: 272 of 806 intakes without a transcript).
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from typing import Any

import pytest
import redis as redis_lib

from callcenter.events import transcript_stream
from callcenter.plugins.speech.audiosocket.session import SessionPolicy
from callcenter.plugins.speech.final_queue import FinalQueuePolicy
from callcenter.plugins.speech.service import RedisDbSink, SpeechService
from callcenter.plugins.speech.text import cer
from tests.plugins.speech.test_audiosocket_limits import limited_service, refused_at_once, wait_for
from tests.plugins.speech.test_server import call, clip_pcm, events, frames, map_call, silence

pytestmark = [pytest.mark.speech, pytest.mark.redis, pytest.mark.slow]

__all__ = ["limited_service"]  # the fixture, imported so pytest finds it here

CLIPS = [
    "paddlespeech_zh.wav",
    "funasr_short.wav",
    "wenet_aishell-BAC009S0724W0121.wav",
    "funasr_asr_example.wav",
]


async def caller(service: SpeechService, redis_client: redis_lib.Redis, uniqueid: str, clip: str) -> bool:
    audio_uuid = str(uuid.uuid4())
    map_call(redis_client, audio_uuid, uniqueid)
    return await call(service.server.port, audio_uuid, frames(silence(0.3) + clip_pcm(clip) + silence(2)))


async def flushed(service: SpeechService, count: int) -> None:
    await wait_for(lambda: len(service.server.completed) >= count, 120, f"{count} sessions")
    assert isinstance(service.sink, RedisDbSink) and await asyncio.to_thread(service.sink.flush)


async def test_one_slot_serves_callers_back_to_back_while_finals_are_pending(
    limited_service: Any, redis_client: redis_lib.Redis, manifest: dict[str, str]
) -> None:
    """One session slot, four callers, each starting the moment the previous one's socket closes: every
    caller is served (none refused) although the earlier callers' finals are still being decoded."""
    service = await limited_service(max_sessions=1, workers=1)
    pending_at_connect: list[int] = []
    for i, clip in enumerate(CLIPS):
        pending_at_connect.append(service.final_queue.pending)
        assert await caller(service, redis_client, f"1763870000.{i}", clip), "the server must end the intake"
    # the later callers came in while earlier finals were waiting: the slot did not wait for them
    assert max(pending_at_connect) >= 1, pending_at_connect
    await flushed(service, len(CLIPS))
    assert service.server.rejected == 0
    for i, clip in enumerate(CLIPS):
        evs = events(redis_client, transcript_stream(f"1763870000.{i}"))
        assert evs[-1]["type"] == "transcript.done", evs[-1]
        assert cer(manifest[clip], evs[-1]["data"]["text"]) <= 0.35, (clip, evs[-1])
    assert service.final_queue.pending == 0 and service.final_queue.backlog_s == 0
    assert not service.server.finishing and not service.server.active


async def test_a_long_final_queue_sheds_partials_then_decodes_cheaper(
    limited_service: Any, redis_client: redis_lib.Redis, manifest: dict[str, str]
) -> None:
    service = await limited_service(
        workers=1,
        # only the final queue may shed partials here; the burst clients wait for the server to end
        policy=SessionPolicy(max_partial_lag_s=60, idle_timeout_s=60),
        final_queue=FinalQueuePolicy(shed_partials_s=1.0, cheap_after_s=3.0, max_backlog_s=600),
    )
    ids = [f"1763870001.{i}" for i in range(len(CLIPS))]
    await asyncio.gather(*(caller(service, redis_client, u, c) for u, c in zip(ids, CLIPS, strict=True)))
    await flushed(service, len(CLIPS))
    summaries = service.server.completed
    assert sum(s.partial_skipped_s for s in summaries) > 1.0  # step 1: partial work shed
    assert service.final_queue.stats.cheap >= 1  # step 2: greedy finals under the backlog
    for uid, clip in zip(ids, CLIPS, strict=True):
        done = events(redis_client, transcript_stream(uid))[-1]
        assert done["type"] == "transcript.done" and cer(manifest[clip], done["data"]["text"]) <= 0.4


async def test_a_full_final_queue_refuses_new_callers_not_speaking_ones(
    limited_service: Any, redis_client: redis_lib.Redis
) -> None:
    service = await limited_service(
        workers=1,
        policy=SessionPolicy(idle_timeout_s=60),  # the burst clients wait for the server to end the intake
        final_queue=FinalQueuePolicy(shed_partials_s=600, cheap_after_s=600, max_backlog_s=1.0),
    )
    busy = threading.Event()
    service.final_pool.submit(busy.wait, 120)
    ids = [f"1763870002.{i}" for i in range(3)]
    callers = [
        asyncio.create_task(caller(service, redis_client, u, c)) for u, c in zip(ids, CLIPS[:3], strict=True)
    ]
    # the only final worker thread is busy (as under load), so the callers' utterances wait; a new
    # caller while the backlog is over the limit is refused at once
    await wait_for(lambda: service.final_queue.backlog_s > 1.0, 60, "a backlog over the limit")
    assert await refused_at_once(service.server.port, "127.0.0.1")
    busy.set()
    assert all(await asyncio.gather(*callers))  # the callers already speaking were all served
    await flushed(service, 3)
    for uid in ids:  # ... with every final
        done = events(redis_client, transcript_stream(uid))[-1]
        assert done["type"] == "transcript.done" and done["data"]["text"]
        assert done["data"]["reason"] == "caller_done"
    assert service.server.rejected == 1 and service.final_queue.stats.refused == 1
