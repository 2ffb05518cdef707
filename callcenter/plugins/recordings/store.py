"""Collecting and expiring recordings (录音归档与保留).

Asterisk records every answered call with ``MixMonitor(<uniqueid>.wav,b r(…-caller.wav) t(…-agent.wav))``
(both parties mixed for playback, and each party on its own; only while bridged) into
``ROOT/var/spool/asterisk/monitor``; the AMI bridge stores that path in ``calls.recording``.
:func:`collect` runs after hangup (the call has ``ended_at``): it moves the file to
``recordings.root/YYYY/MM/DD/<uniqueid>.wav`` (atomic rename, or copy + fsync + unlink across file
systems), measures it, and adds the :class:`~callcenter.db.models.Recording` row linked to the call and
its case. A row is written only after the file is in place, and a file already moved is found again
after a crash, so a restart loses nothing. :func:`apply_retention` deletes files past ``expires_at``
and keeps the row with ``deleted_at``.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import wave
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.config import Settings
from callcenter.db.base import utcnow
from callcenter.db.models import Call, Case, Recording

log = logging.getLogger(__name__)

#: A call ended this long ago whose file is still missing was not recorded (never bridged).
GIVE_UP_AFTER = timedelta(minutes=10)
#: MixMonitor closes the file a moment after hangup; files younger than this are left for the next sweep.
SETTLE_S = 2.0


@dataclass
class SweepResult:
    collected: int = 0
    missing: int = 0
    expired: int = 0


def spool_path(settings: Settings, recording: str) -> Path:
    """Host path of the file Asterisk wrote (``calls.recording`` is a path inside the chroot)."""
    return settings.asterisk.rootfs / recording.lstrip("/")


def storage_path(settings: Settings, rel: str) -> Path:
    root = settings.recordings.root.resolve()
    path = (root / rel).resolve()
    if root not in path.parents:
        raise ValueError(f"recording path {rel!r} leaves the storage root")
    return path


#: MixMonitor's per-party files next to the mix (``r()`` = what the caller said, ``t()`` = what the
#: caller heard: the agent).
LEGS = ("caller", "agent")


def _relative(call: Call, leg: str = "") -> str:
    day = call.started_at
    safe = "".join(c if c.isalnum() or c in "-._" else "_" for c in call.uniqueid)
    return f"{day:%Y/%m/%d}/{safe}{'-' + leg if leg else ''}.wav"


def _leg_source(src: Path, leg: str) -> Path:
    return src.with_name(f"{src.stem}-{leg}{src.suffix}")


def _move(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(src, dest)
    except OSError:
        tmp = dest.with_suffix(".part")
        with open(src, "rb") as fin, open(tmp, "wb") as fout:
            shutil.copyfileobj(fin, fout, 1 << 20)
            fout.flush()
            os.fsync(fout.fileno())
        os.replace(tmp, dest)
        src.unlink()


def _measure(path: Path) -> tuple[int, float, str, dict[str, int]]:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    duration, info = 0.0, {}
    with contextlib.suppress(wave.Error, EOFError, OSError), wave.open(str(path)) as w:
        rate = w.getframerate()
        duration = w.getnframes() / rate if rate else 0.0
        info = {"rate": rate, "channels": w.getnchannels()}
    return path.stat().st_size, duration, h.hexdigest(), info


def case_of(session: Session, call: Call) -> int | None:
    if call.case_id:
        return call.case_id
    return session.scalar(select(Case.id).where(Case.call_id == call.id).order_by(Case.id).limit(1))


def collect(
    session: Session, settings: Settings, now: datetime | None = None, limit: int = 200
) -> SweepResult:
    """Move the files of ended calls into the storage root and add their rows (commits per call)."""
    now = now or utcnow()
    out = SweepResult()
    recorded = select(Recording.call_id)
    calls = session.scalars(
        select(Call)
        .where(Call.recording.is_not(None), Call.ended_at.is_not(None), Call.id.not_in(recorded))
        .order_by(Call.id)
        .limit(limit)
    ).all()
    for call in calls:
        assert call.recording is not None and call.ended_at is not None
        rel = _relative(call)
        dest = storage_path(settings, rel)
        src = spool_path(settings, call.recording)
        if not dest.is_file():
            if not src.is_file():
                if now - call.ended_at > GIVE_UP_AFTER:
                    log.info("recordings: call %s has no recording file (not bridged)", call.uniqueid)
                    call.recording = None  # nothing was recorded; stop looking
                    session.commit()
                out.missing += 1
                continue
            if (now - call.ended_at).total_seconds() < SETTLE_S:
                continue
            _move(src, dest)
        legs: dict[str, str] = {}
        for leg in LEGS:
            leg_rel = _relative(call, leg)
            leg_dest, leg_src = storage_path(settings, leg_rel), _leg_source(src, leg)
            if leg_src.is_file() and not leg_dest.is_file():
                _move(leg_src, leg_dest)
            if leg_dest.is_file():
                legs[leg] = leg_rel
        size, duration, digest, info = _measure(dest)
        session.add(
            Recording(
                call_id=call.id,
                uniqueid=call.uniqueid,
                case_id=case_of(session, call),
                path=rel,
                size_bytes=size,
                duration_s=round(duration, 2),
                sha256=digest,
                created_at=now,
                expires_at=now + timedelta(days=settings.recordings.retention_days),
                data={**info, "source": call.recording, "agent": call.agent, "legs": legs},
            )
        )
        session.commit()
        out.collected += 1
    # a case created after the recording was collected: link it now
    for rec in session.scalars(
        select(Recording).where(Recording.case_id.is_(None), Recording.deleted_at.is_(None)).limit(limit)
    ).all():
        linked = session.get(Call, rec.call_id)
        if linked is not None:
            case_id = case_of(session, linked)
            if case_id:
                rec.case_id = case_id
    session.commit()
    return out


def apply_retention(session: Session, settings: Settings, now: datetime | None = None) -> int:
    """Delete the files of recordings past ``expires_at``; the rows stay with ``deleted_at``."""
    now = now or utcnow()
    n = 0
    for rec in session.scalars(
        select(Recording).where(Recording.expires_at <= now, Recording.deleted_at.is_(None)).limit(500)
    ).all():
        for rel in (rec.path, *dict(rec.data.get("legs") or {}).values()):
            with contextlib.suppress(FileNotFoundError, ValueError):
                storage_path(settings, str(rel)).unlink()
        rec.deleted_at = now
        rec.data = {**rec.data, "deleted_reason": "retention"}
        n += 1
    session.commit()
    return n


def sweep(session: Session, settings: Settings, now: datetime | None = None) -> SweepResult:
    res = collect(session, settings, now)
    res.expired = apply_retention(session, settings, now)
    return res
