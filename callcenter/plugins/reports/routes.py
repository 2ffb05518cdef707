"""Reports API for the supervisor console: list, generate on demand, download PDF / XLSX."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi import Path as FPath
from fastapi.responses import FileResponse

from callcenter.api.deps import SessionDep, require_roles
from callcenter.config import Settings
from callcenter.db.models import Report, User
from callcenter.plugins.reports import services
from callcenter.plugins.reports.schemas import GenerateIn, ReportOut

router = APIRouter(prefix="/api/reports", tags=["reports"])
Leader = Annotated[User, Depends(require_roles("supervisor"))]
CenterUser = Annotated[User, Depends(require_roles("agent", "supervisor"))]
MEDIA = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _out(row: Report) -> ReportOut:
    return ReportOut(
        id=row.id,
        kind=row.kind,
        period_start=row.period_start,
        period_end=row.period_end,
        status=row.status,
        summary=row.summary,
        params=row.params,
        requested_by=row.requested_by,
        created_at=row.created_at,
        finished_at=row.finished_at,
        error=row.error,
        pdf_url=f"/api/reports/{row.id}/pdf" if row.pdf_path else None,
        xlsx_url=f"/api/reports/{row.id}/xlsx" if row.xlsx_path else None,
    )


@router.get("")
def list_reports(
    session: SessionDep, user: Leader, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[ReportOut]:
    """Reports generated so far (newest first), on a schedule or on demand."""
    return [_out(r) for r in services.list_reports(session, limit)]


MAX_PENDING = 5


def _builder(request: Request) -> ThreadPoolExecutor:
    """One builder thread per API process: reports are built one after the other, off the request."""
    state = request.app.state
    if getattr(state, "report_builder", None) is None:
        state.report_builder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="report-builder")
    pool: ThreadPoolExecutor = state.report_builder
    return pool


@router.post("", status_code=status.HTTP_202_ACCEPTED)
def generate(body: GenerateIn, request: Request, session: SessionDep, user: Leader) -> ReportOut:
    """Ask for a report (日报 / 周报 / 月报 / any range): recorded at once as ``pending`` and built by
    the API's builder thread (poll ``GET /api/reports/{id}``; a restart leaves it to the worker)."""
    settings = _settings(request)
    today = datetime.now(UTC).astimezone(ZoneInfo(settings.timezone)).date()
    try:
        period = services.resolve_period(body.kind, today, body.start, body.end)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    if period.start > today:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "the period has not started yet")
    if len(services.pending_ids(session)) >= MAX_PENDING:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS, "too many reports are being built; retry later"
        )
    row = services.record_pending(session, settings, period, requested_by=user.username)
    session.commit()
    _builder(request).submit(services.build_pending, settings, row.id)
    return _out(row)


@router.get("/repeats")
def repeat_list(
    request: Request, session: SessionDep, user: Leader, days: Annotated[int, Query(ge=1, le=366)] = 30
) -> list[dict[str, Any]]:
    """重复诉求: 屡诉 (same caller and matter), 屡治屡返 (same place after closure), 多人反映 (near-duplicate
    texts across callers) whose latest case is within the last ``days`` days."""
    return services.repeat_list(session, _settings(request), days)


@router.get("/repeats/call/{uniqueid}")
def call_repeats(uniqueid: str, request: Request, session: SessionDep, user: CenterUser) -> dict[str, Any]:
    """Screen-pop hint: the matters this caller reported again (屡诉) and whether they came back after
    a closure at the same place (屡治屡返)."""
    return services.call_repeats(session, _settings(request), uniqueid)


ReportId = Annotated[int, FPath(ge=1, le=2**31 - 1)]


@router.get("/{report_id}")
def get_report(report_id: ReportId, session: SessionDep, user: Leader) -> ReportOut:
    return _out(services.get_report(session, report_id))


@router.get("/{report_id}/{fmt}")
def download(report_id: ReportId, fmt: str, session: SessionDep, user: Leader) -> FileResponse:
    """The report's PDF or XLSX file."""
    if fmt not in MEDIA:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "format must be pdf or xlsx")
    row = services.get_report(session, report_id)
    path = row.pdf_path if fmt == "pdf" else row.xlsx_path
    if not path or not Path(path).is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"report {report_id} has no {fmt} file")
    name = f"report-{row.kind}-{row.period_start:%Y%m%d}-{row.period_end:%Y%m%d}.{fmt}"
    return FileResponse(path, media_type=MEDIA[fmt], filename=name)
