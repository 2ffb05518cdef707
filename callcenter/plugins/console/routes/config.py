"""The console's configuration for the logged-in user, and the workflow's labels."""

from __future__ import annotations

from fastapi import APIRouter, Request

from callcenter.api.deps import CurrentUser

from ..asterisk import PAUSE_REASONS, agent_interface
from ..deps import hub_of, settings_of
from ..schemas import ConsoleConfig, ConsoleUser, Labels
from .pages import CHART_ASSET

router = APIRouter(prefix="/api/console", tags=["console"])


@router.get("/config")
def console_config(request: Request, user: CurrentUser) -> ConsoleConfig:
    s = settings_of(request)
    hub = hub_of(request)
    return ConsoleConfig(
        user=ConsoleUser(
            username=user.username,
            display_name=user.display_name,
            role=user.role,
            unit_code=user.unit_code,
            extension=user.extension,
            interface=agent_interface(user),
        ),
        queue=s.asterisk.queue,
        hotline_numbers=list(s.asterisk.hotline_numbers),
        sla_seconds=hub.wallboard.sla_seconds,
        wrapup_seconds=hub.wallboard.wrapup_seconds,
        pause_reasons=list(PAUSE_REASONS),
        charts=CHART_ASSET.is_file(),
        timezone=s.timezone,
    )


@router.get("/labels")
def labels(_: CurrentUser) -> Labels:
    """Workflow labels (status and action names) from the core, for the console's tables."""
    from callcenter.domain.workflow import ACTION_LABELS, SATISFACTION_LABELS, STATUS_LABELS

    return Labels(
        status={str(k): v for k, v in STATUS_LABELS.items()},
        action=dict(ACTION_LABELS),
        satisfaction=dict(SATISFACTION_LABELS),
    )
