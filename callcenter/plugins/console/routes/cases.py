"""The actions a user may take on a case now, with their Chinese labels (for the case dialog)."""

from __future__ import annotations

from fastapi import APIRouter

from callcenter.api.deps import CurrentUser, SessionDep, actor_of
from callcenter.domain.workflow import ACTION_LABELS, allowed_actions
from callcenter.services.cases import get_visible_case, to_state

from ..schemas import ActionOut, CaseActions

router = APIRouter(prefix="/api/console", tags=["console"])


@router.get("/cases/{number}/actions")
def case_actions(number: str, session: SessionDep, user: CurrentUser) -> CaseActions:
    """The actions the user may take on a case now, with their Chinese labels (only on a case the user
    may see: :func:`callcenter.domain.access.may_see_case`)."""
    case = get_visible_case(session, number, actor_of(user))
    actions = allowed_actions(to_state(case), actor_of(user))
    return CaseActions(
        number=number, actions=[ActionOut(action=a, label=ACTION_LABELS.get(a, a)) for a in actions]
    )
