"""One call in the agent's console: the screen-pop (弹屏), the call's live transcript
(``GET /api/console/calls/{uniqueid}/live``, Server-Sent Events) and the agent's commands on it (hang
up, transfer) which go through the AMI bridge."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import StreamingResponse

from callcenter.api.deps import SessionDep
from callcenter.api.schemas import CaseOut
from callcenter.db.models import Case, Suggestion
from callcenter.domain.privacy import phone_for_role
from callcenter.services.calls import get_call

from .. import services
from ..asterisk import run_command
from ..deps import CenterUser, settings_of, stream_guard
from ..hub import sse
from ..schemas import (
    CallInfo,
    CaseRow,
    CommandResult,
    ScreenPop,
    SuggestionOut,
    TranscriptLine,
    TransferIn,
    UnitRef,
)

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/console", tags=["console"])


@router.get("/calls/{uniqueid}/live")
async def call_live(
    uniqueid: str, request: Request, user: CenterUser, session: SessionDep
) -> StreamingResponse:
    """One call's transcript as SSE: partials and finals from ``cc:transcripts:{uniqueid}``.

    Replays the stream from the start (or after ``Last-Event-ID``), then follows it; ends with
    ``event: end`` when the user is deactivated or changed, or the token expires.
    """
    import redis.asyncio as aredis
    import redis.exceptions as redis_errors

    from callcenter.events import as_text, decode, transcript_stream

    get_call(session, uniqueid)
    guard = stream_guard(request, user)
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
                reason = await guard.end_reason()
                if reason is not None:
                    yield sse(json.dumps({"reason": reason}), event="end")
                    return
                block_ms = max(1, min(5000, int(guard.seconds_to_next_check() * 1000)))
                try:
                    resp = await client.xread({key: pos}, count=200, block=block_ms)
                except (redis_errors.TimeoutError, redis_errors.ConnectionError) as exc:
                    # Redis gone or the server shutting down (uvicorn cancels the read, redis-py
                    # turns that into a TimeoutError): end this stream; the browser reconnects
                    # after ``retry`` with Last-Event-ID and loses nothing
                    log.info("transcript stream %s ended: %s", uniqueid, exc)
                    return
                if not resp:
                    yield ": keep-alive\n\n"
                    continue
                for _stream, entries in resp:
                    for entry_id, fields in entries:
                        pos = as_text(entry_id)
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


def _case_row(case: Case, role: str) -> CaseRow:
    return CaseRow.model_validate(CaseOut.build(case, role).model_dump(include=set(CaseRow.model_fields)))


def _suggestion_out(s: Suggestion, unit_name: str | None) -> SuggestionOut:
    return SuggestionOut(
        id=s.id,
        text=s.text,
        matters=s.matters[:3],
        unit=UnitRef(code=s.unit_code, name=unit_name) if s.unit_code else None,
        area=s.area,
        evidence=s.evidence,
        confidence=s.confidence,
        auto_dispatch=s.auto_dispatch,
        model_version=s.model_version,
    )


@router.get("/screen-pop/{uniqueid}")
def screen_pop(uniqueid: str, session: SessionDep, user: CenterUser) -> ScreenPop:
    """弹屏: the caller (number masked per role), open and past cases, repeat-caller flag, the
    transcript so far and the latest suggestion of the call."""
    rows = services.screen_pop(session, uniqueid)
    call = rows.call
    return ScreenPop(
        call=CallInfo(
            uniqueid=call.uniqueid,
            caller_number=phone_for_role(call.caller_number, user.role),
            caller_name=rows.caller_name,
            dialled_number=call.dialled_number,
            queue=call.queue,
            agent=call.agent,
            channel=call.channel,
            started_at=call.started_at,
            answered_at=call.answered_at,
            ended_at=call.ended_at,
            ivr_choice=call.ivr_choice,
            case_id=call.case_id,
        ),
        repeat_caller=rows.repeat_caller,
        prior_calls=rows.prior_calls,
        open_cases=[_case_row(c, user.role) for c in rows.open_cases],
        past_cases=[_case_row(c, user.role) for c in rows.past_cases],
        transcript=[TranscriptLine(seq=u.seq, text=u.text) for u in rows.utterances],
        suggestion=_suggestion_out(rows.suggestion, rows.suggestion_unit_name) if rows.suggestion else None,
    )


@router.post("/calls/{uniqueid}/hangup")
async def hangup(uniqueid: str, request: Request, session: SessionDep, user: CenterUser) -> CommandResult:
    channel, node = services.caller_channel(session, uniqueid)
    session.close()
    return await run_command(request, "hangup", node=node, channel=channel)


@router.post("/calls/{uniqueid}/transfer")
async def transfer(
    uniqueid: str, body: TransferIn, request: Request, session: SessionDep, user: CenterUser
) -> CommandResult:
    """转接: redirect the caller's channel to another extension (blind transfer)."""
    channel, node = services.caller_channel(session, uniqueid)
    session.close()
    return await run_command(
        request, "redirect", node=node, channel=channel, context=body.context, exten=body.exten
    )
