"""The agent console and supervisor wallboard (坐席工作台 / 班长监控), mounted on the core FastAPI app.

* Pages and static files under ``/console/`` (plain HTML/CSS/JS, Chinese text in
  ``static/i18n/zh-CN.json``; the chart library is vendored by ``scripts/build_console_assets.sh``).
* Live updates: ``GET /api/console/events`` (Server-Sent Events, one Redis reader per process, see
  :mod:`callcenter.plugins.console.hub`) and ``GET /api/console/calls/{uniqueid}/live`` (one call's
  transcript).
* Console JSON endpoints under ``/api/console/...``: screen-pop, wallboard, KPIs, overdue list, and
  the agent's commands to Asterisk (queue join/leave, pause with a reason, hang up, transfer, ChanSpy)
  which go through the AMI bridge (``callcenter.plugins.telephony.commands``). The console never guesses queue
  member state: it shows what Asterisk reports back as events.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.responses import JSONResponse, RedirectResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from callcenter.api.deps import CurrentUser, SessionDep, require_roles
from callcenter.api.schemas import CaseOut
from callcenter.config import Settings
from callcenter.db.models import Call, Case, Suggestion, TranscriptUtterance, Unit, User
from callcenter.domain import kpi as kpi_domain
from callcenter.domain.callers import REPEAT_CALL_WINDOW, is_repeat_caller
from callcenter.domain.privacy import phone_for_role
from callcenter.domain.workflow import OPEN_STATUSES
from callcenter.services import kpi as kpi_svc
from callcenter.services.callbacks import list_callbacks as callback_rows
from callcenter.services.callbacks import schedule
from callcenter.services.cases import to_state

from .hub import CursorError, Hub, sse

STATIC_DIR = Path(__file__).resolve().parent / "static"
CHART_ASSET = STATIC_DIR / "vendor" / "echarts.min.js"

#: Pause reasons (暂停原因) sent to Asterisk as QueuePause ``Reason``; labels in zh-CN.json.
PAUSE_REASONS = ("break", "training", "acw", "meeting")
COMMAND_TIMEOUT_S = 10.0

CenterUser = Annotated[User, Depends(require_roles("agent", "supervisor"))]
SupervisorUser = Annotated[User, Depends(require_roles("supervisor"))]

router = APIRouter(prefix="/api/console", tags=["console"])


# --------------------------------------------------------------------------- helpers


def agent_interface(user: User) -> str | None:
    """The queue member interface of a user: ``PJSIP/<extension>``, or the extension as given when it
    already names a channel technology (e.g. ``Local/sim-1-20@sim-agents/n``)."""
    ext = (user.extension or "").strip()
    if not ext:
        return None
    return ext if "/" in ext else f"PJSIP/{ext}"


def spy_target(interface: str) -> str:
    """ChanSpy channel prefix of a queue member interface (``Local/x@ctx/n`` → ``Local/x@ctx``)."""
    if interface.startswith("Local/") and interface.count("/") >= 2:
        return interface.rsplit("/", 1)[0]
    return interface


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def make_hub(settings: Settings) -> Hub:
    """The process's hub for ``settings`` (service level ``console.sla_seconds``, after-call work
    ``telephony.wrapup_time_s`` as rendered into the queue)."""
    return Hub(
        settings.redis_url,
        tz=settings.timezone,
        sla_seconds=settings.console.sla_seconds,
        wrapup_seconds=float(settings.telephony.wrapup_time_s),
    )


def hub_of(request: Request) -> Hub:
    hub: Hub | None = getattr(request.app.state, "console_hub", None)
    if hub is None:  # an app that was not set up by mount()
        hub = make_hub(_settings(request))
        request.app.state.console_hub = hub
    return hub


def _user_node(request: Request, user: User) -> str:
    """The Asterisk node of a user's softphone (users.node, else this API's configured node)."""
    return user.node or _settings(request).asterisk.node


async def run_command(request: Request, type_: str, node: str | None = None, **args: Any) -> dict[str, Any]:
    """Send one command to Asterisk through the AMI bridge of ``node`` and wait for its result."""
    import redis

    from callcenter.commands import CommandError, send_command, wait_result
    from callcenter.events import redis_client

    timeout = float(getattr(request.app.state, "console_command_timeout_s", COMMAND_TIMEOUT_S))
    client = redis_client(_settings(request).redis_url)
    try:
        try:
            action_id = await asyncio.to_thread(send_command, client, type_, node, **args)
        except CommandError as exc:
            raise HTTPException(422, str(exc)) from exc
        except redis.RedisError as exc:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE, f"Redis unavailable, command not sent: {exc}"
            ) from exc
        try:
            result = await asyncio.to_thread(wait_result, client, action_id, timeout)
        except TimeoutError as exc:
            raise HTTPException(
                status.HTTP_504_GATEWAY_TIMEOUT,
                f"the AMI bridge did not answer command {action_id} in {timeout:.0f} s "
                "(is `callcenter ami-bridge` running?)",
            ) from exc
    finally:
        client.close()
    if not result.get("ok"):
        raise HTTPException(
            status.HTTP_502_BAD_GATEWAY,
            f"Asterisk refused {type_}: {result.get('message') or result.get('error') or 'failed'}",
        )
    return {"action_id": action_id, "result": result}


def _call_or_404(session: SessionDep, uniqueid: str) -> Call:
    call = session.scalar(select(Call).where(Call.uniqueid == uniqueid))
    if call is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no call with uniqueid {uniqueid!r}")
    return call


# --------------------------------------------------------------------------- config and live events


@router.get("/config")
def console_config(request: Request, user: CurrentUser) -> dict[str, Any]:
    s = _settings(request)
    hub = hub_of(request)
    return {
        "user": {
            "username": user.username,
            "display_name": user.display_name,
            "role": user.role,
            "unit_code": user.unit_code,
            "extension": user.extension,
            "interface": agent_interface(user),
        },
        "queue": s.asterisk.queue,
        "hotline_numbers": s.asterisk.hotline_numbers,
        "sla_seconds": hub.wallboard.sla_seconds,
        "wrapup_seconds": hub.wallboard.wrapup_seconds,
        "pause_reasons": list(PAUSE_REASONS),
        "charts": CHART_ASSET.is_file(),
        "timezone": s.timezone,
    }


@router.get("/events")
async def events(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    wallboard: bool = False,
    last_event_id: Annotated[str | None, Query(alias="last_event_id", max_length=1000)] = None,
) -> StreamingResponse:
    """Server-Sent Events: every domain event the user may see; ``wallboard=1`` adds board snapshots.

    Resume with the ``Last-Event-ID`` header (sent by EventSource) or ``?last_event_id=``.
    """
    if wallboard and user.role not in ("supervisor", "admin", "agent"):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the wallboard is for the center's staff")
    session.close()  # never hold a database transaction (SQLite: the write lock) for a stream's life
    hub = hub_of(request)
    cursor = request.headers.get("last-event-id") or last_event_id
    try:
        await hub.start()
    except TimeoutError as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, f"live events unavailable (Redis: {hub.last_error})"
        ) from exc
    gen = hub.stream(
        role=user.role,
        unit_code=user.unit_code,
        wallboard=wallboard,
        last_event_id=cursor,
        is_disconnected=request.is_disconnected,
    )
    try:
        first = await gen.__anext__()
    except CursorError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"bad Last-Event-ID: {exc}") from exc

    async def body() -> AsyncIterator[str]:
        yield first
        async for chunk in gen:
            yield chunk

    return StreamingResponse(
        body(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "X-Served-By": str(os.getpid())},
    )


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
    redis_url = _settings(request).redis_url

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


@router.get("/wallboard")
async def wallboard(request: Request, user: CenterUser, session: SessionDep) -> dict[str, Any]:
    session.close()
    hub = hub_of(request)
    try:
        await hub.start()
    except TimeoutError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"Redis: {hub.last_error}") from exc
    return hub.wallboard.snapshot()


# --------------------------------------------------------------------------- agent: screen-pop


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


# --------------------------------------------------------------------------- agent: commands


class QueueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    join: bool


class PauseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    paused: bool
    reason: Literal["break", "training", "acw", "meeting"] | None = None


class TransferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    exten: str = Field(pattern=r"^[0-9A-Za-z*#+_-]{1,32}$")
    context: str = Field(default="agents", pattern=r"^[A-Za-z0-9_-]{1,64}$")


class SpyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agent: str = Field(min_length=1, max_length=128, description="the agent's queue member interface")
    mode: Literal["listen", "whisper", "barge"] = "listen"


class CallbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    phone: str = Field(pattern=r"^[0-9+\-]{3,32}$")
    at: datetime | None = None
    uniqueid: str | None = Field(default=None, max_length=64)
    case_number: str | None = Field(default=None, max_length=20)
    note: str = Field(default="", max_length=500)


def _my_interface(user: User) -> str:
    iface = agent_interface(user)
    if iface is None:
        raise HTTPException(status.HTTP_409_CONFLICT, "your user has no extension: ask an admin to set one")
    return iface


@router.post("/agent/queue")
async def agent_queue(
    body: QueueIn, request: Request, user: CenterUser, session: SessionDep
) -> dict[str, Any]:
    """签入 / 签出: join or leave the hotline queue (QueueAdd / QueueRemove)."""
    session.close()  # no transaction held while waiting for Asterisk
    iface = _my_interface(user)
    queue = _settings(request).asterisk.queue
    if body.join:
        return await run_command(
            request,
            "queue_add",
            node=_user_node(request, user),
            interface=iface,
            queue=queue,
            member_name=user.username,
            state_interface=iface,
        )
    return await run_command(
        request, "queue_remove", node=_user_node(request, user), interface=iface, queue=queue
    )


@router.post("/agent/pause")
async def agent_pause(
    body: PauseIn, request: Request, user: CenterUser, session: SessionDep
) -> dict[str, Any]:
    """示忙 (with a reason: break / training / after-call work / meeting) and 示闲 (QueuePause)."""
    session.close()
    iface = _my_interface(user)
    if body.paused and body.reason is None:
        raise HTTPException(422, "a pause needs a reason")
    args: dict[str, Any] = {"interface": iface, "paused": body.paused}
    if body.paused:
        args["reason"] = body.reason
    return await run_command(request, "queue_pause", node=_user_node(request, user), **args)


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


@router.post("/spy")
async def spy(body: SpyIn, request: Request, user: SupervisorUser, session: SessionDep) -> dict[str, Any]:
    """监听 / 耳语 / 强插: ring the supervisor's phone into ChanSpy on the agent's channel."""
    session.close()
    me = _my_interface(user)
    return await run_command(
        request,
        "spy",
        node=_user_node(request, user),  # ChanSpy is local: the agent must be on the same node
        supervisor=me,
        target=spy_target(body.agent),
        mode=body.mode,
        caller_id=f"spy <{body.mode}>",
    )


@router.post("/callbacks", status_code=status.HTTP_201_CREATED)
def schedule_callback(
    body: CallbackIn, request: Request, session: SessionDep, user: CenterUser
) -> dict[str, Any]:
    """预约回拨: schedule an outbound call to the citizen (run by the worker's callback dialler)."""
    now = datetime.now(UTC)
    at = body.at or now
    if at.tzinfo is None:
        raise HTTPException(422, "at must include a time zone")
    if at < now - timedelta(minutes=5) or at > now + timedelta(days=30):
        raise HTTPException(422, "at must be between now and 30 days ahead")
    call_id = case_id = None
    if body.uniqueid:
        call_id = _call_or_404(session, body.uniqueid).id
    if body.case_number:
        case_id = session.scalar(select(Case.id).where(Case.number == body.case_number))
        if case_id is None:
            raise HTTPException(422, f"no case numbered {body.case_number!r}")
    key = f"console:{body.uniqueid or body.case_number or '-'}:{body.phone}:{at.astimezone(UTC):%Y%m%d%H%M}"
    outcome = {"requested_by": user.username, **({"note": body.note} if body.note else {})}
    try:
        existing, _created = schedule(
            session,
            kind="queue_callback",
            key=key,
            phone=body.phone,
            at=at,
            requested_at=now,
            max_attempts=_settings(request).callbacks.max_attempts,
            case_id=case_id,
            call_id=call_id,
            outcome=outcome,
        )
    except ValueError as exc:  # a phone number that cannot be dialled
        raise HTTPException(422, str(exc)) from exc
    session.commit()
    return {
        "id": existing.id,
        "phone": phone_for_role(existing.phone, user.role),
        "next_attempt_at": existing.next_attempt_at.isoformat(),
        "status": existing.status,
    }


@router.get("/callbacks")
def list_callbacks(
    session: SessionDep,
    user: CenterUser,
    status_: Annotated[
        Literal["scheduled", "in_progress", "done", "failed", "cancelled"] | None, Query(alias="status")
    ] = None,
    kind: Literal["queue_callback", "return_visit"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    """回拨 / 回访: scheduled, in-progress and finished callbacks with attempts and outcome (survey)."""
    rows = callback_rows(session, status=status_, kind=kind, limit=limit)
    for row in rows:
        row["phone"] = phone_for_role(row["phone"], user.role)
    return rows


# --------------------------------------------------------------------------- supervisor: KPIs


@router.get("/kpi")
def kpi_report(
    request: Request,
    session: SessionDep,
    user: SupervisorUser,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
    by: Literal["unit", "street"] = "unit",
    period: Literal["day", "month"] = "day",
    basic_weight: Annotated[float, Query(ge=0, le=1)] = 1.0,
    top: Annotated[int, Query(ge=1, le=50)] = 10,
) -> dict[str, Any]:
    """三率两度 by unit or street with daily / monthly rankings, high-frequency matters and places."""
    now = datetime.now(UTC)
    window = kpi_svc.Window.last_days(days, now, _settings(request).timezone)
    weights = kpi_domain.Weights(basic_weight=basic_weight)
    return kpi_svc.report(session, window, by=by, period=period, now=now, weights=weights, top=top)


@router.get("/overdue")
def overdue_list(
    session: SessionDep, user: SupervisorUser, limit: Annotated[int, Query(ge=1, le=1000)] = 200
) -> list[dict[str, Any]]:
    """督办清单: cases past their accept or handling deadline."""
    return kpi_svc.overdue(session, datetime.now(UTC), limit)


@router.get("/cases/{number}/actions")
def case_actions(number: str, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    """The actions the user may take on a case now, with their Chinese labels."""
    from callcenter.api.deps import actor_of
    from callcenter.domain.workflow import ACTION_LABELS, allowed_actions

    case = session.scalar(select(Case).where(Case.number == number))
    if case is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no case numbered {number!r}")
    actions = allowed_actions(to_state(case), actor_of(user))
    return {"number": number, "actions": [{"action": a, "label": ACTION_LABELS.get(a, a)} for a in actions]}


@router.get("/labels")
def labels(_: CurrentUser) -> dict[str, Any]:
    """Workflow labels (status and action names) from the core, for the console's tables."""
    from callcenter.domain.workflow import ACTION_LABELS, SATISFACTION_LABELS, STATUS_LABELS

    return {
        "status": dict(STATUS_LABELS),
        "action": dict(ACTION_LABELS),
        "satisfaction": SATISFACTION_LABELS,
    }


# --------------------------------------------------------------------------- mounting


def mount(app: FastAPI) -> None:
    """Add the console's routes, pages and the live-event hub to the core app."""
    app.include_router(router)
    app.state.console_hub = make_hub(app.state.settings)
    app.mount("/console", StaticFiles(directory=STATIC_DIR, html=True), name="console")

    if not any(getattr(r, "path", None) == "/" for r in app.router.routes):

        @app.get("/", include_in_schema=False)
        def root() -> RedirectResponse:
            return RedirectResponse("/console/")

    @app.exception_handler(CursorError)
    async def on_cursor(_: Request, exc: CursorError) -> JSONResponse:
        return JSONResponse({"detail": f"bad Last-Event-ID: {exc}"}, status_code=400)

    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[Any]:
        async with inner(a) as state:
            try:
                yield state
            finally:
                hub: Hub | None = getattr(a.state, "console_hub", None)
                if hub is not None:
                    await hub.stop()

    app.router.lifespan_context = lifespan
