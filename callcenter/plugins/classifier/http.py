"""HTTP adapter: ``POST /api/suggest`` (FastAPI ``APIRouter``, for any logged-in user).

Body ``{"text": str, "caller_phone": str | null, "subject": str | null}`` (``subject``: the subject line
of a written message). 200 with the suggestion dict; 422 with
``{"detail": {"reason", "message"}}`` for unusable text (empty, only punctuation, no Chinese, too long);
400/422 for bodies that are not valid UTF-8 JSON; 503 when no model has been trained yet. Never 500 for input.
The owning unit comes from the database's responsibility list (:mod:`callcenter.plugins.classifier.dbrules`).
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import BaseModel, Field

from callcenter.api.deps import get_current_user
from callcenter.plugins.classifier.dbrules import for_database
from callcenter.plugins.classifier.suggester import ModelNotFound, SuggesterHolder
from callcenter.plugins.classifier.text import NoSuggestion, check_text

log = logging.getLogger(__name__)
router = APIRouter(tags=["suggester"], dependencies=[Depends(get_current_user)])

_holder: SuggesterHolder | None = None


class SuggestRequest(BaseModel):
    text: Any = Field(description="What the caller said (转写文本 or the agent's notes)")
    caller_phone: str | None = Field(default=None, max_length=32)
    subject: str | None = Field(
        default=None, max_length=200, description="Subject line of a written message (留言主题); counts more"
    )


def get_holder() -> SuggesterHolder:
    """The process-wide model holder (override in the app with ``dependency_overrides`` if needed)."""
    global _holder
    if _holder is None:
        _holder = SuggesterHolder()
    return _holder


def caller_hint(phone: str | None, database_url: str | None = None) -> dict[str, Any] | None:
    """Place of the caller's most recent case (来电历史), via the pipeline's lookup; None on any failure."""
    if not phone:
        return None
    try:
        from callcenter.db.session import session_scope
        from callcenter.pipeline import caller_hint as history_hint

        with session_scope(database_url) as session:
            return history_hint(session, phone)
    except Exception:  # the hint is optional: never fail a suggestion because of it
        log.warning("caller history lookup failed", exc_info=True)
        return None


@router.post("/api/suggest")
def suggest(
    body: SuggestRequest, request: Request, holder: Annotated[SuggesterHolder, Depends(get_holder)]
) -> dict[str, Any]:
    try:
        text = check_text(body.text)
    except NoSuggestion as exc:
        raise HTTPException(422, {"reason": exc.reason, "message": exc.message}) from exc
    try:
        suggester = holder.get()
    except ModelNotFound as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, {"reason": "model_unavailable", "message": str(exc)}
        ) from exc
    settings = getattr(request.app.state, "settings", None)
    database_url = getattr(settings, "database_url", None)
    hint = caller_hint(body.caller_phone, database_url)
    # the owning unit follows the database's responsibility list (edited in the admin screen)
    routing = for_database(database_url).routing(suggester.catalogue) if database_url else None
    return suggester.suggest(text, caller_hint=hint, subject=body.subject, routing=routing).to_dict()
