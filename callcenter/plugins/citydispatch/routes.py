"""Routes: ``POST /api/city/orders`` (signed, no login: the partner's key is the credential) and the
supervisors' view of push-backs (``GET /api/city/pushes?status=dead``, ``POST …/{id}/retry``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from callcenter.api.deps import SessionDep, require_roles
from callcenter.db.models import User
from callcenter.db.session import get_sessionmaker
from callcenter.plugins.citydispatch import services as svc
from callcenter.plugins.citydispatch.schemas import OrderOut, PushOut
from callcenter.services.intake import suggester_for

router = APIRouter(prefix="/api/city", tags=["city platform orders"])
supervisor_router = APIRouter(prefix="/api/city", tags=["city platform orders"])
Supervisor = Annotated[User, Depends(require_roles("supervisor"))]


@router.post("/orders", response_model=OrderOut, status_code=201)
async def push_order(request: Request) -> JSONResponse:
    """An order pushed down by the city platform (市级派单), signed with the partner's key."""
    body = await request.body()
    headers = {k.lower(): v for k, v in request.headers.items()}
    settings = request.app.state.settings

    def work() -> JSONResponse:
        session = get_sessionmaker(settings.database_url)()
        try:
            r = svc.accept_order(
                session, settings, headers, "POST", request.url.path, body, suggester_for(settings)
            )
            out = OrderOut(
                order_id=r.order.upstream_id,
                case_number=r.case.number,
                status=r.case.status,
                replayed=r.replayed,
                due_at=r.case.external_due_at.isoformat() if r.case.external_due_at else None,
            )
            return JSONResponse(out.model_dump(), status_code=200 if r.replayed else 201)
        finally:
            session.close()

    result = await run_in_threadpool(work)
    relay = getattr(request.app.state, "relay", None)
    if relay is not None:
        relay.notify()
    return result


@supervisor_router.get("/pushes", response_model=list[PushOut])
def pushes(
    session: SessionDep,
    _: Supervisor,
    status: Annotated[str | None, Query(pattern="^(pending|delivered|dead)$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[PushOut]:
    """Push-backs to partners; ``status=dead`` is the dead-letter list (死信)."""
    return [
        PushOut(
            id=p.id,
            partner=o.partner,
            order_id=o.upstream_id,
            case_number=number,
            case_seq=p.case_seq,
            kind=p.kind,
            status=p.status,
            attempts=p.attempts,
            next_attempt_at=p.next_attempt_at.isoformat(),
            last_error=p.last_error,
            created_at=p.created_at.isoformat(),
            delivered_at=p.delivered_at.isoformat() if p.delivered_at else None,
        )
        for p, o, number in svc.list_pushes(session, status, limit)
    ]


@supervisor_router.post("/pushes/{push_id}/retry")
def retry_push(push_id: int, session: SessionDep, _: Supervisor) -> dict[str, object]:
    push = svc.retry(session, push_id)
    return {"id": push.id, "status": push.status}
