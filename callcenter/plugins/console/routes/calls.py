"""One call in the agent's console: the screen-pop (弹屏), the call's live transcript
(``GET /api/console/calls/{uniqueid}/live``, Server-Sent Events) and the agent's commands on it (hang
up, transfer) which go through the AMI bridge."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import StreamingResponse
from sqlalchemy import func, select

from callcenter.api.deps import SessionDep
from callcenter.api.schemas import CaseOut
from callcenter.db.models import Call, Case, Suggestion, TranscriptUtterance, Unit
from callcenter.domain.callers import REPEAT_CALL_WINDOW, is_repeat_caller
from callcenter.domain.privacy import phone_for_role
from callcenter.domain.workflow import OPEN_STATUSES

from ..asterisk import run_command
from ..deps import CenterUser, settings_of
from ..hub import sse
from ..schemas import TransferIn

router = APIRouter(prefix="/api/console", tags=["console"])


def _call_or_404(session: SessionDep, uniqueid: str) -> Call:
    call = session.scalar(select(Call).where(Call.uniqueid == uniqueid))
    if call is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no call with uniqueid {uniqueid!r}")
    return call


@router.get("/calls/{uniqueid}/live")
async def call_live(
    uniqueid: str, request: Request, user: CenterUser, session: SessionDep
) -> StreamingResponse:
    """One call's transcript as SSE: partials and finals from ``cc:transcripts:{uniqueid}``.

    Replays the stream from the start (or after ``Last-Event-ID``), then follows it.
    """
    import redis.asyncio as aredis

    from callcenter.events import decode, transcript_stream

    _call_or_404(session, uniqueid)
    session.close()
    start = request.headers.get("last-event-id") or "0-0"
    ms, _, seq = start.partition("-")
    if not (ms.isdigit() and seq.isdigit()):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "bad Last-Event-ID")
    key = transcript_stream(uniqueid)
    redis_url = settings_of(request).redis_url

    async def body() -> AsyncIterator[str]:
        client: Any = aredis.Redis.from_url(redis_url, socket_connect_timeout=2.0)
        pos = start
        try:
            yield "retry: 1000\n\n"
            while True:
                if await request.is_disconnected():
                    return
                resp = await client.xread({key: pos}, count=200, block=5000)
                if not resp:
                    yield ": keep-alive\n\n"
                    continue
                for _stream, entries in resp:
                    for entry_id, fields in entries:
                        pos = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
                        d = decode(fields)
                        msg = {"id": pos, "type": d["type"], "data": d["data"], "ts": d["ts"]}
                        yield sse(json.dumps(msg, ensure_ascii=False), id_=pos)
        finally:
            await client.aclose()

    return StreamingResponse(
        body(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _suggestion_out(session: SessionDep, s: Suggestion) -> dict[str, Any]:
    unit_name = session.scalar(select(Unit.name).where(Unit.code == s.unit_code)) if s.unit_code else None
    return {
        "id": s.id,
        "text": s.text,
        "matters": s.matters[:3],
        "unit": {"code": s.unit_code, "name": unit_name} if s.unit_code else None,
        "area": s.area,
        "evidence": s.evidence,
        "confidence": s.confidence,
        "auto_dispatch": s.auto_dispatch,
        "model_version": s.model_version,
    }


@router.get("/screen-pop/{uniqueid}")
def screen_pop(uniqueid: str, session: SessionDep, user: CenterUser) -> dict[str, Any]:
    """弹屏: the caller (number masked per role), open and past cases, repeat-caller flag, the
    transcript so far and the latest suggestion of the call."""
    call = _call_or_404(session, uniqueid)
    phone = call.caller_number
    open_cases: list[Case] = []
    past_cases: list[Case] = []
    prior_calls = 0
    if phone:
        rows = session.scalars(
            select(Case)
            .where(Case.caller_phone == phone)
            .order_by(Case.created_at.desc(), Case.id.desc())
            .limit(30)
        )
        for c in rows:
            (open_cases if c.status in OPEN_STATUSES else past_cases).append(c)
        since = (call.started_at or datetime.now(UTC)) - REPEAT_CALL_WINDOW
        prior_calls = int(
            session.scalar(
                select(func.count())
                .select_from(Call)
                .where(Call.caller_number == phone, Call.id != call.id, Call.started_at >= since)
            )
            or 0
        )
    utterances = session.scalars(
        select(TranscriptUtterance)
        .where(TranscriptUtterance.call_id == call.id)
        .order_by(TranscriptUtterance.seq)
    )
    suggestion = session.scalar(
        select(Suggestion).where(Suggestion.call_id == call.id).order_by(Suggestion.id.desc()).limit(1)
    )
    name = call.caller_name or next((c.caller_name for c in open_cases + past_cases if c.caller_name), None)

    def case_row(c: Case) -> dict[str, Any]:
        return CaseOut.build(c, user.role).model_dump(
            mode="json",
            include={
                "number",
                "status",
                "status_label",
                "matter_code",
                "description",
                "created_at",
                "unit_code",
                "due_at",
            },
        )

    return {
        "call": {
            "uniqueid": call.uniqueid,
            "caller_number": phone_for_role(phone, user.role),
            "caller_name": name,
            "dialled_number": call.dialled_number,
            "queue": call.queue,
            "agent": call.agent,
            "channel": call.channel,
            "started_at": call.started_at.isoformat() if call.started_at else None,
            "answered_at": call.answered_at.isoformat() if call.answered_at else None,
            "ended_at": call.ended_at.isoformat() if call.ended_at else None,
            "ivr_choice": call.ivr_choice,
            "case_id": call.case_id,
        },
        "repeat_caller": is_repeat_caller(prior_calls, len(open_cases)),
        "prior_calls": prior_calls,
        "open_cases": [case_row(c) for c in open_cases],
        "past_cases": [case_row(c) for c in past_cases[:10]],
        "transcript": [{"seq": u.seq, "text": u.text, "final": True} for u in utterances],
        "suggestion": _suggestion_out(session, suggestion) if suggestion else None,
    }


def _caller_channel(session: SessionDep, uniqueid: str) -> tuple[str, str | None]:
    """The live channel of a call and the node that carries it."""
    from callcenter.domain.nodes import node_of_uniqueid

    call = _call_or_404(session, uniqueid)
    if call.ended_at is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, "the call has already ended")
    if not call.channel:
        raise HTTPException(status.HTTP_409_CONFLICT, "the call's channel is unknown")
    return call.channel, call.node or node_of_uniqueid(call.uniqueid)


@router.post("/calls/{uniqueid}/hangup")
async def hangup(uniqueid: str, request: Request, session: SessionDep, user: CenterUser) -> dict[str, Any]:
    channel, node = _caller_channel(session, uniqueid)
    session.close()
    return await run_command(request, "hangup", node=node, channel=channel)


@router.post("/calls/{uniqueid}/transfer")
async def transfer(
    uniqueid: str, body: TransferIn, request: Request, session: SessionDep, user: CenterUser
) -> dict[str, Any]:
    """转接: redirect the caller's channel to another extension (blind transfer)."""
    channel, node = _caller_channel(session, uniqueid)
    session.close()
    return await run_command(
        request, "redirect", node=node, channel=channel, context=body.context, exten=body.exten
    )
