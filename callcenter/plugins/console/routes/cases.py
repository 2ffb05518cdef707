"""The actions a user may take on a case now, with their Chinese labels (for the case dialog)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, status
from sqlalchemy import select

from callcenter.api.deps import CurrentUser, SessionDep
from callcenter.db.models import Case
from callcenter.services.cases import to_state

router = APIRouter(prefix="/api/console", tags=["console"])


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
