"""Speech metrics (语音指标) of the real speech service, scraped from this process's metrics server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import redis as redis_lib

from callcenter.config import Settings
from callcenter.observability import start_metrics_server, stop_metrics_server
from callcenter.plugins.speech.audio import float_to_pcm16
from tests.kernel.test_observability import free_port, scrape, value
from tests.plugins.speech.test_server import (
    call,
    clip_pcm,
    frames,
    make_service,
    map_call,
    silence,
    wait_done,
)

pytestmark = [pytest.mark.speech, pytest.mark.redis, pytest.mark.slow]

__all__ = ["make_service"]  # the fixture, imported so pytest finds it here


@pytest.fixture(scope="module")
def metrics_port() -> Iterator[int]:
    port = start_metrics_server(Settings(mode="test"), "speech", port=free_port())
    assert port is not None
    yield port
    stop_metrics_server(port)


async def test_speech_service_metrics(
    make_service: Any, redis_client: redis_lib.Redis, metrics_port: int
) -> None:
    from callcenter.plugins.speech.audiosocket.session import SessionPolicy

    service = await make_service(policy=SessionPolicy(max_partial_lag_s=60))
    before = await asyncio.to_thread(scrape, metrics_port)
    audio_uuid, uniqueid = str(uuid.uuid4()), "1763850000.501"
    map_call(redis_client, audio_uuid, uniqueid)
    await call(service.server.port, audio_uuid, frames(silence(0.5) + clip_pcm() + silence(3)))
    (summary,) = await wait_done(service, 1)
    # a second call with audio the service cannot use
    await call(service.server.port, str(uuid.uuid4()), frames(float_to_pcm16(np.zeros(4800)), 48000))
    await wait_done(service, 2)
    after = await asyncio.to_thread(scrape, metrics_port)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert summary.reason == "caller_done" and summary.finals
    assert delta("cc_asr_sessions_total", mode="intake", reason="caller_done") == 1.0
    assert delta("cc_asr_sessions_total", mode="intake", reason="bad_audio") == 1.0
    assert value(after, "cc_asr_active_sessions") == 0.0
    assert delta("cc_asr_final_latency_seconds_count", engine="whisper") == len(summary.finals)
    assert delta("cc_asr_final_latency_seconds_sum", engine="whisper") > 0.0
    assert delta("cc_asr_partial_latency_seconds_count", engine="vosk") >= 1.0
    assert delta("cc_asr_audio_seconds_total", mode="intake") == pytest.approx(summary.audio_s, abs=0.01)
    assert delta("cc_asr_errors_total", stage="final") == 0.0
