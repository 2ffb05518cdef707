"""Whole-call transcription from the recording (录音转写), after hangup.

When live whole-call transcription was off (``speech.whole_call`` false) or did not keep up, a call's
conversation has no ``both`` / ``agent`` utterances. With ``recordings.transcribe_after_hangup`` on, the
recordings loop transcribes each party's file of such calls (``-caller.wav``, ``-agent.wav``, or the mix
when the legs are missing) through the :data:`~callcenter.ports.FILE_TRANSCRIBER` port (the speech
plugin: faster-whisper) and stores ``transcript_utterances`` rows with speaker ``caller`` / ``agent`` /
``both``, after any utterances already there (the intake description). ``recordings.data["transcribed"]``
records that it was done (engine, segments), so a call is transcribed once.
"""

from __future__ import annotations

import logging

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callcenter.config import Settings
from callcenter.db.base import utcnow
from callcenter.db.models import Recording, TranscriptUtterance
from callcenter.ports import FileTranscriber

from .store import storage_path

log = logging.getLogger(__name__)

#: Speakers that only whole-call transcription produces; the intake description is speaker ``caller``.
CONVERSATION_SPEAKERS = ("both", "agent")


def needs_transcript(session: Session, rec: Recording) -> bool:
    if rec.deleted_at is not None or rec.data.get("transcribed"):
        return False
    live = session.scalar(
        select(func.count())
        .select_from(TranscriptUtterance)
        .where(
            TranscriptUtterance.call_id == rec.call_id, TranscriptUtterance.speaker.in_(CONVERSATION_SPEAKERS)
        )
    )
    return not live


def transcribe_recording(
    session: Session, settings: Settings, rec: Recording, transcribe: FileTranscriber
) -> int:
    """Transcribe one recording's parties; returns the utterances added (commits)."""
    legs = dict(rec.data.get("legs") or {})
    sources = [(leg, legs[leg]) for leg in ("caller", "agent") if leg in legs] or [("both", rec.path)]
    seq = session.scalar(
        select(func.coalesce(func.max(TranscriptUtterance.seq), -1)).where(
            TranscriptUtterance.call_id == rec.call_id
        )
    )
    seq = int(seq if seq is not None else -1)
    rows: list[TranscriptUtterance] = []
    engine = ""
    for speaker, rel in sources:
        path = storage_path(settings, rel)
        if not path.is_file():
            continue
        engine, segments = transcribe(path)
        rows += [
            TranscriptUtterance(
                call_id=rec.call_id,
                seq=0,
                speaker=speaker,
                text=s.text,
                start_s=s.start_s,
                end_s=s.end_s,
                engine=f"{engine}/recording",
                confidence=s.confidence,
                created_at=utcnow(),
            )
            for s in segments
        ]
    rows.sort(key=lambda r: (r.start_s, r.speaker))
    for row in rows:
        seq += 1
        row.seq = seq
        session.add(row)
    rec.data = {
        **rec.data,
        "transcribed": {"engine": engine, "utterances": len(rows), "at": utcnow().isoformat()},
    }
    session.commit()
    return len(rows)


def transcribe_pending(
    session: Session, settings: Settings, transcribe: FileTranscriber, limit: int = 1
) -> int:
    """Transcribe up to ``limit`` recordings that need it (oldest first); returns how many were done."""
    done = 0
    for rec in session.scalars(
        select(Recording).where(Recording.deleted_at.is_(None)).order_by(Recording.id).limit(200)
    ).all():
        if done >= limit:
            break
        if needs_transcript(session, rec):
            n = transcribe_recording(session, settings, rec, transcribe)
            log.info("recordings: transcribed %s from its recording (%d utterances)", rec.uniqueid, n)
            done += 1
    return done
