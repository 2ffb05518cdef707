"""Live domain events for the consoles: ``GET /api/console/events`` (Server-Sent Events, one Redis
reader per process, see :mod:`callcenter.plugins.console.hub`)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import StreamingResponse

from callcenter.api.deps import CurrentUser, SessionDep

from ..deps import hub_of, stream_guard
from ..hub import CursorError

router = APIRouter(prefix="/api/console", tags=["console"])


@router.get("/events")
async def events(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    wallboard: bool = False,
    last_event_id: Annotated[str | None, Query(alias="last_event_id", max_length=1000)] = None,
) -> StreamingResponse:
    """Server-Sent Events: every domain event the user may see; ``wallboard=1`` adds board snapshots.

    Resume with the ``Last-Event-ID`` header (sent by EventSource) or ``?last_event_id=``. The stream
    ends with ``event: end`` when the user is deactivated or changed, or the token expires.
    """
    if wallboard and user.role not in ("supervisor", "admin", "agent"):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the wallboard is for the center's staff")
    guard = stream_guard(request, user)
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
        guard=guard,
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
