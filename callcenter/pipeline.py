"""Transcript → suggestion pipeline (智能辅助受理).

Reads final transcripts from the Redis stream ``STREAM_TRANSCRIPTS`` through a consumer group (so a
restarted worker resumes where it stopped and unacknowledged entries are delivered again), asks the
suggester for matters / place / owning unit, stores a :class:`~callcenter.db.models.Suggestion`
row for the call and announces it as ``suggestion.ready`` on ``STREAM_SUGGESTIONS`` and on the
call's own transcript stream, where the agent console listens.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter import events
from callcenter.db.models import Call, Case, Suggestion, TranscriptUtterance
from callcenter.observability import SUGGESTION_CONFIDENCE, SUGGESTION_ERRORS, SUGGESTION_LATENCY
from callcenter.ports import SuggestFn
from callcenter.services.calls import get_or_create_call

log = logging.getLogger(__name__)

GROUP = "pipeline"
#: Transcript events that trigger a suggestion.
TRIGGERS = frozenset({"transcript.final", "transcript.done"})


def caller_hint(session: Session, phone: str | None) -> dict[str, Any] | None:
    """The place of the caller's latest case, as a hint for place extraction (来电人历史地址)."""
    if not phone:
        return None
    case = session.scalar(
        select(Case)
        .where(Case.caller_phone == phone, Case.street_code.is_not(None))
        .order_by(Case.created_at.desc())
        .limit(1)
    )
    if case is None:
        return None
    return {
        "district": case.district_code,
        "street": case.street_code,
        "community": case.community_code,
        "address": case.address,
    }


class SuggestionPipeline:
    def __init__(
        self,
        session_factory: Callable[[], Session],
        client: redis.Redis,
        suggest_fn: SuggestFn,
        *,
        consumer: str | None = None,
        maxlen: int = 100_000,
    ) -> None:
        self.session_factory = session_factory
        self.client = client
        self.suggest_fn = suggest_fn
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self.maxlen = maxlen
        self.consumer_group = events.StreamConsumer(
            client,
            events.STREAM_TRANSCRIPTS,
            GROUP,
            self.consumer,
            count=50,
            on_error=self._on_error,
            name="pipeline",
        )

    def ensure_group(self) -> None:
        self.consumer_group.ensure_group()

    def _call_text(self, session: Session, call: Call, event_text: str) -> str:
        texts = session.scalars(
            select(TranscriptUtterance.text)
            .where(TranscriptUtterance.call_id == call.id, TranscriptUtterance.speaker == "caller")
            .order_by(TranscriptUtterance.seq)
        )
        joined = "".join(t for t in texts if t)
        return joined if len(joined) >= len(event_text) else event_text

    def handle(self, type_: str, data: dict[str, Any], event_ts: str | None = None) -> Suggestion | None:
        """Process one transcript event; returns the stored suggestion (None when skipped).

        ``event_ts`` (the ISO time the event was published) feeds the suggestion latency metric.
        """
        if type_ not in TRIGGERS:
            return None
        uniqueid = str(data.get("uniqueid") or "")
        if not uniqueid:
            log.warning("pipeline: %s without uniqueid ignored", type_)
            return None
        with self.session_factory() as session, session.begin():
            call = get_or_create_call(session, uniqueid)
            text = self._call_text(session, call, str(data.get("text") or "")).strip()
            if not text:
                return None
            last = session.scalar(
                select(Suggestion)
                .where(Suggestion.call_id == call.id)
                .order_by(Suggestion.id.desc())
                .limit(1)
            )
            if last is not None and last.text == text:
                return last  # redelivered or no new words: nothing new to suggest
            result = self.suggest_fn(text, caller_hint(session, call.caller_number))
            unit = result.get("unit") or {}
            suggestion = Suggestion(
                call_id=call.id,
                model_version=str(result.get("model_version") or ""),
                text=text,
                matters=list(result.get("matters") or []),
                unit_code=unit.get("code"),
                area=dict(result.get("area") or {}),
                evidence=list(result.get("evidence") or []),
                confidence=float(result.get("confidence") or 0.0),
                auto_dispatch=bool(result.get("auto_dispatch")),
            )
            session.add(suggestion)
            session.flush()
            payload = {"uniqueid": uniqueid, "suggestion_id": suggestion.id, "text": text, **result}
        SUGGESTION_CONFIDENCE.observe(float(result.get("confidence") or 0.0))
        if event_ts:
            try:
                published = datetime.fromisoformat(event_ts)
                SUGGESTION_LATENCY.observe(max(0.0, (datetime.now(UTC) - published).total_seconds()))
            except (ValueError, TypeError):  # not ISO / no time zone: no latency for this one
                pass
        for stream in (events.STREAM_SUGGESTIONS, events.transcript_stream(uniqueid)):
            events.publish_now(self.client, stream, "suggestion.ready", payload, maxlen=self.maxlen)
        return suggestion

    def _on_error(self, entry_id: Any, ev: dict[str, Any]) -> None:
        SUGGESTION_ERRORS.inc()
        data = ev.get("data")
        uniqueid = data.get("uniqueid") if isinstance(data, dict) else None
        log.warning("pipeline: event %s of call %s failed", entry_id, uniqueid, extra={"uniqueid": uniqueid})

    def _handle_entry(self, ev: dict[str, Any]) -> bool:
        self.handle(ev["type"], ev["data"], ev.get("ts"))
        return True

    def run_once(self, block_ms: int = 1000) -> int:
        """Read and process one batch (pending entries first); returns the number handled."""
        return self.consumer_group.read(self._handle_entry, block_ms)

    def run_forever(self, stop: threading.Event) -> None:
        self.consumer_group.run_forever(self._handle_entry, stop)
