"""Cases (工单): create, search, read, transitions, timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callcenter.api.deps import CurrentUser, SessionDep, actor_of, require_roles
from callcenter.api.schemas import MAX_OFFSET, CaseCreate, CaseEventOut, CaseOut, CasePage, TransitionIn
from callcenter.db.models import Suggestion, SuggestionFeedback, User
from callcenter.domain import workflow
from callcenter.domain.workflow import Command
from callcenter.exceptions import Unprocessable
from callcenter.services import cases as svc

router = APIRouter(prefix="/api/cases", tags=["cases"])

CenterUser = Annotated[User, Depends(require_roles("agent", "supervisor"))]


def _after_commit(request: Request) -> None:
    relay = getattr(request.app.state, "relay", None)
    if relay is not None:
        relay.notify()


def _out(case: object, user: User, *, with_events: list[object] | None = None) -> CaseOut:
    state = svc.to_state(case)  # type: ignore[arg-type]
    allowed = workflow.allowed_actions(state, actor_of(user))
    return CaseOut.build(case, user.role, events=with_events, allowed_actions=allowed)


@router.post("", response_model=CaseOut, status_code=status.HTTP_201_CREATED)
def create_case(
    body: CaseCreate,
    session: SessionDep,
    user: CenterUser,
    request: Request,
    response: Response,
    idempotency_key: Annotated[
        str | None,
        Header(
            max_length=128,
            description=(
                "A key the client chooses for this case (e.g. a UUID): retrying the POST with the same "
                "key returns the case the first request created instead of a second one (per user)."
            ),
        ),
    ] = None,
) -> CaseOut:
    key = fingerprint = None
    if idempotency_key is not None:
        key = svc.check_idempotency_key(idempotency_key)
        fingerprint = svc.request_fingerprint(body.model_dump(mode="json"))
        earlier = svc.case_for_key(session, user.id, key, fingerprint)
        if earlier is not None:
            response.headers["Idempotent-Replayed"] = "true"
            return _out(earlier, user)
    try:
        return _create(body, session, user, request, key, fingerprint)
    except IntegrityError:
        # the same key committed by a concurrent request just now: answer with its case
        session.rollback()
        if key is None or fingerprint is None:
            raise
        earlier = svc.case_for_key(session, user.id, key, fingerprint)
        if earlier is None:
            raise
        response.headers["Idempotent-Replayed"] = "true"
        return _out(earlier, user)


def _create(
    body: CaseCreate, session: Session, user: User, request: Request, key: str | None, fingerprint: str | None
) -> CaseOut:
    fields = body.model_dump(exclude={"suggestion_id", "co_unit_codes", "register_now"})
    new = svc.NewCase(**fields, register=body.register_now, co_unit_codes=tuple(body.co_unit_codes))
    case = svc.create_case(session, new, actor_of(user))
    if body.suggestion_id is not None:
        suggestion = session.get(Suggestion, body.suggestion_id)
        if suggestion is None:
            raise Unprocessable(f"unknown suggestion {body.suggestion_id}")
        top = suggestion.matters[0]["code"] if suggestion.matters else None
        suggestion.case_id = case.id
        session.add(
            SuggestionFeedback(
                suggestion_id=suggestion.id,
                case_id=case.id,
                text=suggestion.text,
                matter_code=case.matter_code or "",
                unit_code=body.dispatch_unit_code,
                area_code=case.community_code or case.street_code or case.district_code,
                accepted=top is not None and top == case.matter_code,
                user_id=user.id,
            )
        )
    if key is not None and fingerprint is not None:
        svc.remember_key(session, user.id, key, fingerprint, case)
    session.commit()
    _after_commit(request)
    return _out(case, user)


@router.get("", response_model=CasePage)
def search(
    session: SessionDep,
    user: CurrentUser,
    phone: str | None = None,
    status_: Annotated[list[str] | None, Query(alias="status")] = None,
    unit: str | None = None,
    matter: str | None = None,
    area: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    overdue: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> CasePage:
    if user.role == "unit_handler":
        unit = user.unit_code  # a unit sees only its own cases
        phone = None
    query = svc.CaseQuery(
        phone=phone,
        status=status_,
        unit_code=unit,
        matter_code=matter,
        area_code=area,
        created_from=created_from,
        created_to=created_to,
        text=q,
        overdue_at=datetime.now().astimezone() if overdue else None,
        limit=limit,
        offset=offset,
    )
    total, rows = svc.search_cases(session, query)
    return CasePage(total=total, items=[_out(c, user) for c in rows])


@router.get("/{number}", response_model=CaseOut)
def get_case(number: str, session: SessionDep, user: CurrentUser) -> CaseOut:
    case = svc.get_visible_case(session, number, actor_of(user))
    return _out(case, user, with_events=list(svc.case_events(session, case)))


@router.get("/{number}/events", response_model=list[CaseEventOut])
def get_events(number: str, session: SessionDep, user: CurrentUser) -> list[CaseEventOut]:
    case = svc.get_visible_case(session, number, actor_of(user))
    return [CaseEventOut.build(e, user.role) for e in svc.case_events(session, case)]


@router.post("/{number}/transitions", response_model=CaseOut)
def transition(
    number: str, body: TransitionIn, session: SessionDep, user: CurrentUser, request: Request
) -> CaseOut:
    cmd = Command(
        action=body.action,
        reason=body.reason,
        text=body.text,
        unit_code=body.unit_code,
        co_unit_codes=tuple(body.co_unit_codes),
        hours=body.hours,
        into=body.into,
        satisfaction=body.satisfaction,
        resolved=body.resolved,
        matter_code=body.matter_code,
    )
    case = svc.transition(session, number, cmd, actor_of(user), expected_version=body.expected_version)
    session.commit()
    _after_commit(request)
    return _out(case, user)


@router.get("/by-phone/{phone}/open", response_model=list[CaseOut])
def open_for_phone(phone: str, session: SessionDep, user: CenterUser) -> list[CaseOut]:
    return [_out(c, user) for c in svc.open_cases_for_phone(session, phone)]
