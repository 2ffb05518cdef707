"""The supervisor's tools (班长监控): ChanSpy (监听 / 耳语 / 强插), the wallboard snapshot, KPIs
(三率两度) and the overdue list (督办清单)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, status

from callcenter.api.deps import SessionDep
from callcenter.domain import kpi as kpi_domain
from callcenter.services import kpi as kpi_svc

from ..asterisk import my_interface, run_command, spy_target, user_node
from ..deps import CenterUser, SupervisorUser, hub_of, settings_of
from ..schemas import CommandResult, OverdueRow, SpyIn

router = APIRouter(prefix="/api/console", tags=["console"])


@router.post("/spy")
async def spy(body: SpyIn, request: Request, user: SupervisorUser, session: SessionDep) -> CommandResult:
    """监听 / 耳语 / 强插: ring the supervisor's phone into ChanSpy on the agent's channel."""
    session.close()
    me = my_interface(user)
    return await run_command(
        request,
        "spy",
        node=user_node(request, user),  # ChanSpy is local: the agent must be on the same node
        supervisor=me,
        target=spy_target(body.agent),
        mode=body.mode,
        caller_id=f"spy <{body.mode}>",
    )


@router.get("/wallboard")
async def wallboard(request: Request, user: CenterUser, session: SessionDep) -> dict[str, Any]:
    """The wallboard snapshot (shape: :meth:`callcenter.plugins.console.wallboard.Wallboard.snapshot`)."""
    session.close()
    hub = hub_of(request)
    try:
        await hub.start()
    except TimeoutError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"Redis: {hub.last_error}") from exc
    return hub.wallboard.snapshot()


@router.get("/kpi")
def kpi_report(
    request: Request,
    session: SessionDep,
    user: SupervisorUser,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
    by: Literal["unit", "street"] = "unit",
    period: Literal["day", "month"] = "day",
    basic_weight: Annotated[float, Query(ge=0, le=1)] = 1.0,
    top: Annotated[int, Query(ge=1, le=50)] = 10,
) -> dict[str, Any]:
    """三率两度 by unit or street with daily / monthly rankings, high-frequency matters and places
    (shape: :func:`callcenter.services.kpi.report`)."""
    now = datetime.now(UTC)
    window = kpi_svc.Window.last_days(days, now, settings_of(request).timezone)
    weights = kpi_domain.Weights(basic_weight=basic_weight)
    return kpi_svc.report(session, window, by=by, period=period, now=now, weights=weights, top=top)


@router.get("/overdue")
def overdue_list(
    session: SessionDep, user: SupervisorUser, limit: Annotated[int, Query(ge=1, le=1000)] = 200
) -> list[OverdueRow]:
    """督办清单: cases past their accept or handling deadline."""
    return [OverdueRow.model_validate(row) for row in kpi_svc.overdue(session, datetime.now(UTC), limit)]
