"""Dependencies of the console's routes: who may call them, the settings, the process's event hub."""

from __future__ import annotations

from typing import Annotated

import jwt
from fastapi import Depends, Request

from callcenter.api.deps import request_token, require_roles
from callcenter.config import Settings
from callcenter.db.models import User
from callcenter.security import decode_token

from .guard import StreamGuard
from .hub import Hub

CenterUser = Annotated[User, Depends(require_roles("agent", "supervisor"))]
SupervisorUser = Annotated[User, Depends(require_roles("supervisor"))]


def settings_of(request: Request) -> Settings:
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
        nodes=(settings.asterisk.node,),
    )


def hub_of(request: Request) -> Hub:
    hub: Hub | None = getattr(request.app.state, "console_hub", None)
    if hub is None:  # an app that was not set up by mount()
        hub = make_hub(settings_of(request))
        request.app.state.console_hub = hub
    return hub


def stream_guard(request: Request, user: User) -> StreamGuard:
    """The guard of a live stream opened by ``user`` with this request's token (see :mod:`.guard`)."""
    settings = settings_of(request)
    expires_at: float | None = None
    token = request_token(request)
    if token:
        try:
            exp = decode_token(token).get("exp")
        except jwt.PyJWTError:  # already accepted by get_current_user; cannot normally happen
            exp = 0
        expires_at = float(exp) if exp is not None else None
    return StreamGuard(
        database_url=settings.database_url,
        user_id=user.id,
        role=user.role,
        unit_code=user.unit_code,
        expires_at=expires_at,
        every_s=settings.console.stream_recheck_s,
    )
