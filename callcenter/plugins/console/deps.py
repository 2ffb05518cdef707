"""Dependencies of the console's routes: who may call them, the settings, the process's event hub."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from callcenter.api.deps import require_roles
from callcenter.config import Settings
from callcenter.db.models import User

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
    )


def hub_of(request: Request) -> Hub:
    hub: Hub | None = getattr(request.app.state, "console_hub", None)
    if hub is None:  # an app that was not set up by mount()
        hub = make_hub(settings_of(request))
        request.app.state.console_hub = hub
    return hub
