"""Calls (通话记录): list and detail with the transcript."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select

from callcenter.api.deps import SessionDep, require_roles
from callcenter.api.schemas import CallDetail, CallOut, UtteranceOut
from callcenter.db.models import Call, User
from callcenter.domain.privacy import phone_for_role
from callcenter.services import calls as svc

router = APIRouter(prefix="/api/calls", tags=["calls"])

CenterUser = Annotated[User, Depends(require_roles("agent", "supervisor"))]


def _mask(out: CallOut, user: User) -> CallOut:
    out.caller_number = phone_for_role(out.caller_number, user.role)
    return out


@router.get("", response_model=list[CallOut])
def list_calls(
    session: SessionDep,
    user: CenterUser,
    caller: str | None = None,
    queue: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[CallOut]:
    stmt = select(Call).order_by(Call.started_at.desc(), Call.id.desc()).limit(limit)
    if caller:
        stmt = stmt.where(Call.caller_number == caller)
    if queue:
        stmt = stmt.where(Call.queue == queue)
    return [_mask(CallOut.model_validate(c), user) for c in session.scalars(stmt)]


@router.get("/{uniqueid}", response_model=CallDetail)
def get_call(uniqueid: str, session: SessionDep, user: CenterUser) -> CallDetail:
    call = svc.get_call(session, uniqueid)
    detail = CallDetail.model_validate(call)
    detail.transcript = [UtteranceOut.model_validate(u) for u in svc.transcript(session, call)]
    _mask(detail, user)
    return detail
