"""Callbacks from the console (预约回拨), and the list of callbacks and return visits (回拨 / 回访)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request, status

from callcenter.api.deps import SessionDep
from callcenter.domain.privacy import phone_for_role
from callcenter.exceptions import NotFound
from callcenter.services.callbacks import list_callbacks as callback_rows
from callcenter.services.callbacks import schedule
from callcenter.services.calls import get_call
from callcenter.services.cases import get_case

from ..deps import CenterUser, settings_of
from ..schemas import CallbackIn, CallbackRow, CallbackScheduled

router = APIRouter(prefix="/api/console", tags=["console"])


@router.post("/callbacks", status_code=status.HTTP_201_CREATED)
def schedule_callback(
    body: CallbackIn, request: Request, session: SessionDep, user: CenterUser
) -> CallbackScheduled:
    """预约回拨: schedule an outbound call to the citizen (run by the worker's callback dialler)."""
    now = datetime.now(UTC)
    at = body.at or now
    if at.tzinfo is None:
        raise HTTPException(422, "at must include a time zone")
    if at < now - timedelta(minutes=5) or at > now + timedelta(days=30):
        raise HTTPException(422, "at must be between now and 30 days ahead")
    call_id = case_id = None
    if body.uniqueid:
        call_id = get_call(session, body.uniqueid).id
    if body.case_number:
        try:
            case_id = get_case(session, body.case_number).id
        except NotFound as exc:  # a reference in the body, not the resource of the URL
            raise HTTPException(422, f"no case numbered {body.case_number!r}") from exc
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
            max_attempts=settings_of(request).callbacks.max_attempts,
            case_id=case_id,
            call_id=call_id,
            outcome=outcome,
        )
    except ValueError as exc:  # a phone number that cannot be dialled
        raise HTTPException(422, str(exc)) from exc
    session.commit()
    return CallbackScheduled(
        id=existing.id,
        phone=phone_for_role(existing.phone, user.role),
        next_attempt_at=existing.next_attempt_at,
        status=existing.status,
    )


@router.get("/callbacks")
def list_callbacks(
    session: SessionDep,
    user: CenterUser,
    status_: Annotated[
        Literal["scheduled", "in_progress", "done", "failed", "cancelled"] | None, Query(alias="status")
    ] = None,
    kind: Literal["queue_callback", "return_visit"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[CallbackRow]:
    """回拨 / 回访: scheduled, in-progress and finished callbacks with attempts and outcome (survey)."""
    rows = callback_rows(session, status=status_, kind=kind, limit=limit)
    return [
        CallbackRow.model_validate({**row, "phone": phone_for_role(row["phone"], user.role)}) for row in rows
    ]
