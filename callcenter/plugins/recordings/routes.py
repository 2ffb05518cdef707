"""HTTP routes of call recordings, under ``/api/recordings``.

* ``GET /api/recordings/case/{number}`` — the recordings of a case's calls (the case must be visible to
  the user and the role in ``recordings.listen_roles``);
* ``GET /api/recordings/{id}/audio`` — the WAV file (``<audio>`` in the case detail; the login token
  may come from the ``cc_token`` cookie, as ``<audio>`` sends no header). Each playback, and each
  refused attempt, is written to the audit log (``recording.played`` / ``recording.refused``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request, status
from fastapi.responses import FileResponse
from pydantic import BaseModel
from sqlalchemy import or_, select

from callcenter import audit
from callcenter.api.deps import CurrentUser, SessionDep, actor_of, client_address
from callcenter.config import Settings
from callcenter.db.models import Call, Case, Recording
from callcenter.services.cases import get_visible_case

from .store import storage_path

router = APIRouter(prefix="/api/recordings", tags=["recordings"])

PLAYED = "recording.played"
REFUSED = "recording.refused"


class RecordingOut(BaseModel):
    id: int
    call_id: int
    uniqueid: str
    case_number: str | None
    caller_number: str | None
    agent: str | None
    started_at: datetime | None
    duration_s: float
    size_bytes: int
    expires_at: datetime
    deleted: bool
    url: str | None


class CaseRecordings(BaseModel):
    case_number: str
    recordings: list[RecordingOut]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _may_listen(settings: Settings, user: Any) -> bool:
    return user.role in settings.recordings.listen_roles


def _refuse(session: Any, request: Request, user: Any, target: str, reason: str) -> HTTPException:
    audit.record(
        session,
        REFUSED,
        actor=user,
        target=target,
        client_addr=client_address(request),
        detail={"reason": reason},
    )
    session.commit()
    return HTTPException(status.HTTP_403_FORBIDDEN, f"role {user.role} may not listen to recordings")


def _out(rec: Recording, call: Call | None, number: str | None) -> RecordingOut:
    deleted = rec.deleted_at is not None
    return RecordingOut(
        id=rec.id,
        call_id=rec.call_id,
        uniqueid=rec.uniqueid,
        case_number=number,
        caller_number=call.caller_number if call else None,
        agent=call.agent if call else None,
        started_at=(call.answered_at or call.started_at) if call else None,
        duration_s=rec.duration_s,
        size_bytes=rec.size_bytes,
        expires_at=rec.expires_at,
        deleted=deleted,
        url=None if deleted else f"/api/recordings/{rec.id}/audio",
    )


@router.get("/case/{number}", response_model=CaseRecordings)
def case_recordings(number: str, request: Request, user: CurrentUser, session: SessionDep) -> Any:
    """The recordings of the calls of case ``number`` (newest first)."""
    case = get_visible_case(session, number, actor_of(user))
    if not _may_listen(_settings(request), user):
        raise _refuse(session, request, user, f"case:{number}", "role")
    recs = session.scalars(
        select(Recording)
        .where(or_(Recording.case_id == case.id, Recording.call_id == case.call_id))
        .order_by(Recording.id.desc())
    ).all()
    return CaseRecordings(
        case_number=case.number, recordings=[_out(r, session.get(Call, r.call_id), case.number) for r in recs]
    )


@router.get("/{recording_id}/audio", response_class=FileResponse)
def play(
    recording_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    request: Request,
    user: CurrentUser,
    session: SessionDep,
) -> Any:
    """The recording's WAV (8 kHz mono, both parties mixed). Audited."""
    rec = session.get(Recording, recording_id)
    if rec is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such recording")
    settings = _settings(request)
    if not _may_listen(settings, user):
        raise _refuse(session, request, user, f"recording:{rec.id}", "role")
    case_number = None
    if rec.case_id:
        case = session.get(Case, rec.case_id)
        if case is not None:
            case_number = case.number
            get_visible_case(session, case.number, actor_of(user))  # a unit user: only its cases
    if rec.deleted_at is not None:
        raise HTTPException(
            status.HTTP_410_GONE, f"recording deleted on {rec.deleted_at:%Y-%m-%d} (retention)"
        )
    try:
        path = storage_path(settings, rec.path)
    except ValueError as exc:
        raise HTTPException(status.HTTP_500_INTERNAL_SERVER_ERROR, str(exc)) from exc
    if not path.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, "the recording file is missing from the storage root")
    audit.record(
        session,
        PLAYED,
        actor=user,
        target=f"recording:{rec.id}",
        client_addr=client_address(request),
        detail={"uniqueid": rec.uniqueid, "case": case_number, "range": request.headers.get("range")},
    )
    session.commit()
    return FileResponse(
        path,
        media_type="audio/wav",
        filename=f"{rec.uniqueid}.wav",
        headers={"Cache-Control": "private, no-store"},
    )
