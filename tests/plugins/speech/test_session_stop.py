"""Regression: a session whose recognizer decided to stop (caller_done) must stop reading even when
the cancel of its read task is lost — on Python 3.11 ``asyncio.wait_for`` could swallow a cancel that
arrived together with a frame, and with frames every 20 ms the caller then sat in AudioSocket until
giving up (seen as 3 lost calls in the 30-caller load test)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from callcenter.plugins.speech.audiosocket.protocol import audio_frame
from callcenter.plugins.speech.audiosocket.session import CallInfo, CallSession


def _session(pool: ThreadPoolExecutor) -> CallSession:
    sink: Any = object()  # never reached by the reader
    return CallSession(
        CallInfo.from_mapping("9b0e1c36-5c37-4b3f-9d8e-2f2b8d1f4a11", None),
        make_recognizer=lambda rate: None,  # type: ignore[arg-type,return-value]
        sink=sink,
        partial_pool=pool,
        final_pool=pool,
    )


async def test_reader_honours_a_decided_stop_with_frames_still_arriving() -> None:
    with ThreadPoolExecutor(1) as pool:
        session = _session(pool)
        reader = asyncio.StreamReader()
        for _ in range(50):  # a second of audio already buffered, more than the idle timeout away from EOF
            reader.feed_data(audio_frame(b"\x00\x01" * 160))
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        session._close_reason = "caller_done"  # decided by the recognizer; its cancel was lost
        reason = await asyncio.wait_for(session._read(reader, queue), 2.0)
        assert reason == "caller_done"
        assert queue.empty() and session.frames == 0


async def test_reader_still_reads_until_a_stop_is_decided() -> None:
    with ThreadPoolExecutor(1) as pool:
        session = _session(pool)
        reader = asyncio.StreamReader()
        for _ in range(3):
            reader.feed_data(audio_frame(b"\x00\x01" * 160))
        reader.feed_eof()
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        assert await asyncio.wait_for(session._read(reader, queue), 2.0) == "hangup"
        assert session.frames == 3 and queue.qsize() == 3
