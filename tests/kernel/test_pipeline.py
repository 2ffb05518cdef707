"""Transcript → suggestion pipeline on the real Redis, a real SQLite database and a real trained model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import redis as redis_lib
from sqlalchemy import func, select

from callcenter import events
from callcenter.db.models import Suggestion, TranscriptUtterance
from callcenter.db.session import get_sessionmaker, session_scope
from callcenter.pipeline import GROUP, SuggestionPipeline
from callcenter.services.calls import get_or_create_call


@pytest.fixture
def pipeline(sqlite_url: str, redis_client: redis_lib.Redis, trained_model_dir: Path) -> SuggestionPipeline:
    from callcenter.plugins.classifier.suggester import SuggesterHolder

    holder = SuggesterHolder(trained_model_dir)

    def suggest(text: str, hint: dict[str, object] | None) -> dict[str, object]:
        return holder.get().suggest(text, caller_hint=hint).to_dict()

    p = SuggestionPipeline(get_sessionmaker(sqlite_url), redis_client, suggest, consumer="test")
    p.ensure_group()
    return p


def _final(client: redis_lib.Redis, uniqueid: str, seq: int, text: str, sqlite_url: str) -> None:
    with session_scope(sqlite_url) as s:
        call = get_or_create_call(s, uniqueid, caller_number="13800001111")
        s.add(TranscriptUtterance(call_id=call.id, seq=seq, text=text, engine="whisper"))
    payload = {"uniqueid": uniqueid, "seq": seq, "text": text, "final": True}
    events.publish_now(client, events.STREAM_TRANSCRIPTS, "transcript.final", payload)


def test_final_transcript_becomes_a_stored_and_published_suggestion(
    pipeline: SuggestionPipeline, redis_client: redis_lib.Redis, sqlite_url: str
) -> None:
    _final(redis_client, "1700000000.1", 1, "我家楼下的饭馆油烟特别大，熏得窗户都不敢开", sqlite_url)
    events.publish_now(
        redis_client, events.STREAM_TRANSCRIPTS, "transcript.partial", {"uniqueid": "x", "text": "我"}
    )
    assert pipeline.run_once(block_ms=100) == 2  # the partial is acknowledged and ignored
    with session_scope(sqlite_url) as s:
        sug = s.scalar(select(Suggestion))
        assert sug is not None and sug.model_version
        top = sug.matters[0]
        assert "油烟" in top["name"], sug.matters
        assert len(sug.matters) == 3 and sug.evidence
    entries: Any = redis_client.xrange(events.transcript_stream("1700000000.1"))
    got = [events.decode(f) for _, f in entries]
    assert got[-1]["type"] == "suggestion.ready" and got[-1]["data"]["suggestion_id"] == sug.id
    entries = redis_client.xrange(events.STREAM_SUGGESTIONS)
    ready = [events.decode(f) for _, f in entries]
    assert ready[0]["data"]["matters"][0]["code"] == top["code"]


def test_more_words_refine_and_redelivery_does_not_duplicate(
    pipeline: SuggestionPipeline, redis_client: redis_lib.Redis, sqlite_url: str
) -> None:
    _final(redis_client, "1700000000.2", 1, "我们小区停车位被人装了地锁", sqlite_url)
    assert pipeline.run_once(block_ms=100) == 1
    # the same event delivered again (e.g. a worker died before XACK): no second suggestion
    assert pipeline.handle("transcript.final", {"uniqueid": "1700000000.2", "text": "x"}) is not None
    _final(redis_client, "1700000000.2", 2, "物业也不管，车都停不进去", sqlite_url)
    pipeline.run_once(block_ms=100)
    with session_scope(sqlite_url) as s:
        texts = list(s.scalars(select(Suggestion.text).order_by(Suggestion.id)))
    assert texts == ["我们小区停车位被人装了地锁", "我们小区停车位被人装了地锁物业也不管，车都停不进去"]


def test_unacknowledged_entries_are_processed_after_a_restart(
    pipeline: SuggestionPipeline, redis_client: redis_lib.Redis, sqlite_url: str
) -> None:
    _final(redis_client, "1700000000.3", 1, "楼上装修噪音太大了晚上十点还在砸墙", sqlite_url)
    # a worker read the entry and died before acknowledging it
    redis_client.xreadgroup(GROUP, "test", {events.STREAM_TRANSCRIPTS: ">"}, count=10)
    assert redis_client.xpending(events.STREAM_TRANSCRIPTS, GROUP)["pending"] == 1
    assert pipeline.run_once(block_ms=100) == 1  # the restarted consumer picks up its pending entry
    assert redis_client.xpending(events.STREAM_TRANSCRIPTS, GROUP)["pending"] == 0
    with session_scope(sqlite_url) as s:
        assert s.scalar(select(func.count()).select_from(Suggestion)) == 1


def test_junk_events_do_not_stop_the_pipeline(
    pipeline: SuggestionPipeline, redis_client: redis_lib.Redis, sqlite_url: str
) -> None:
    redis_client.xadd(events.STREAM_TRANSCRIPTS, {"type": "transcript.final", "data": "{not json"})
    events.publish_now(redis_client, events.STREAM_TRANSCRIPTS, "transcript.final", {"text": "no uniqueid"})
    events.publish_now(
        redis_client, events.STREAM_TRANSCRIPTS, "transcript.final", {"uniqueid": "1.9", "text": "😀😀"}
    )
    _final(redis_client, "1700000000.4", 1, "小区里的路灯坏了好几天了晚上特别黑", sqlite_url)
    pipeline.run_once(block_ms=100)
    with session_scope(sqlite_url) as s:
        rows = list(s.scalars(select(Suggestion)))
    assert [r.text for r in rows if r.matters] == ["小区里的路灯坏了好几天了晚上特别黑"]
    assert json.dumps(rows[-1].area, ensure_ascii=False)
