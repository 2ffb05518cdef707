"""Routes of the grid plugin: the grid worker app (``/grid``), reports with photos, check tasks, photos,
place → grid resolution and the grid-worker figures per street."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.api.deps import CurrentUser, SessionDep, require_roles
from callcenter.config import Settings
from callcenter.db.base import utcnow
from callcenter.db.models import Area, Case, GridPhoto, GridReport, GridTask, Suggestion, User
from callcenter.domain import access, workflow
from callcenter.exceptions import Forbidden, NotFound, PayloadTooLarge, Unprocessable
from callcenter.plugins.grid import photos as photos_mod
from callcenter.plugins.grid import services as svc
from callcenter.plugins.grid.schemas import PhotoOut, ReportOut, TaskIn, TaskOut
from callcenter.services.intake import suggester_for

STATIC = Path(__file__).parent / "static"
router = APIRouter(tags=["grid"])
Worker = Annotated[User, Depends(require_roles("grid_worker"))]
Center = Annotated[User, Depends(require_roles("agent", "supervisor"))]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _read(files: list[UploadFile], settings: Settings) -> list[bytes]:
    out = []
    for f in files:
        if not f.filename and not f.size:
            continue  # an empty file input
        data = f.file.read(settings.intake.photo_max_bytes + 1)
        if len(data) > settings.intake.photo_max_bytes:
            raise PayloadTooLarge(
                f"photo {f.filename!r} is over {settings.intake.photo_max_bytes} bytes / 照片过大"
            )
        out.append(data)
    return out


def _photo_out(p: GridPhoto) -> PhotoOut:
    return PhotoOut(
        id=p.id,
        stage=p.stage,
        width=p.width,
        height=p.height,
        size_bytes=p.size_bytes,
        lat=p.lat,
        lon=p.lon,
        url=f"/api/grid/photos/{p.id}",
        thumb_url=f"/api/grid/photos/{p.id}?thumb=true",
    )


def _photos(session: Session, case_id: int) -> list[PhotoOut]:
    rows = session.scalars(select(GridPhoto).where(GridPhoto.case_id == case_id).order_by(GridPhoto.id))
    return [_photo_out(p) for p in rows]


def _report_out(session: Session, r: GridReport, case: Case, replayed: bool) -> ReportOut:
    s = session.scalar(select(Suggestion).where(Suggestion.case_id == case.id).order_by(Suggestion.id.desc()))
    return ReportOut(
        client_uuid=r.client_uuid,
        case_number=case.number,
        status=case.status,
        status_label=workflow.STATUS_LABELS.get(case.status, case.status),
        grid_code=r.grid_code,
        self_handled=r.self_handled,
        lat=r.lat,
        lon=r.lon,
        location_source=r.location_source,
        replayed=replayed,
        photos=_photos(session, case.id),
        suggested_matter=(s.matters[0]["name"] if s and s.matters else None),
        suggested_unit=s.unit_code if s else None,
    )


@router.get("/grid", response_class=HTMLResponse, include_in_schema=False)
def app_page() -> HTMLResponse:
    """网格员 app (phone-first)."""
    return HTMLResponse((STATIC / "grid.html").read_text(encoding="utf-8"))


@router.get("/grid/app.js", include_in_schema=False)
def app_script() -> FileResponse:
    return FileResponse(STATIC / "app.js", media_type="text/javascript")


@router.get("/api/grid/me")
def me(session: SessionDep, user: Worker) -> dict[str, object]:
    grids = svc.grids_of(session, user.id)
    streets = {g.street_code for g in grids if g.street_code}
    communities = (
        list(session.scalars(select(Area).where(Area.parent_code.in_(streets), Area.level == "community")))
        if streets
        else []
    )
    return {
        "username": user.username,
        "display_name": user.display_name,
        "grids": [{"code": g.code, "name": g.name, "community_code": g.community_code} for g in grids],
        "communities": [{"code": a.code, "name": a.name} for a in communities],
    }


@router.post("/api/grid/reports", response_model=ReportOut, status_code=201)
def report(
    request: Request,
    session: SessionDep,
    user: Worker,
    client_uuid: Annotated[str, Form(pattern=r"^[A-Za-z0-9\-]{8,64}$")],
    description: Annotated[str, Form(max_length=5000)],
    address: Annotated[str, Form(max_length=256)] = "",
    grid_code: Annotated[str | None, Form(max_length=32)] = None,
    community_code: Annotated[str | None, Form(max_length=12)] = None,
    lat: Annotated[float | None, Form(ge=-90, le=90)] = None,
    lon: Annotated[float | None, Form(ge=-180, le=180)] = None,
    location_source: Annotated[str | None, Form(pattern="^(browser|picked)$")] = None,
    keep_gps: Annotated[bool, Form()] = False,
    self_handled: Annotated[bool, Form()] = False,
    handled_text: Annotated[str, Form(max_length=2000)] = "",
    photos: Annotated[list[UploadFile] | None, File()] = None,
    after: Annotated[list[UploadFile] | None, File()] = None,
) -> object:
    """网格员上报: an event found on patrol with one to several photos (自处置 with an "after" photo)."""
    from fastapi.responses import JSONResponse

    settings = _settings(request)
    r = svc.ReportIn(
        client_uuid=client_uuid,
        description=description,
        address=address,
        grid_code=grid_code or None,
        community_code=community_code or None,
        lat=lat,
        lon=lon,
        location_source=location_source,
        keep_gps=keep_gps,
        self_handled=self_handled,
        handled_text=handled_text,
    )
    result = svc.create_report(
        session,
        settings,
        user,
        r,
        _read(photos or [], settings),
        _read(after or [], settings),
        suggester_for(settings),
    )
    relay = getattr(request.app.state, "relay", None)
    if relay is not None:
        relay.notify()
    out = _report_out(session, result.report, result.case, result.replayed)
    return JSONResponse(out.model_dump(), status_code=200 if result.replayed else 201)


@router.get("/api/grid/reports", response_model=list[ReportOut])
def my_reports(
    session: SessionDep, user: Worker, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> list[ReportOut]:
    rows = session.execute(
        select(GridReport, Case)
        .join(Case, Case.id == GridReport.case_id)
        .where(GridReport.reporter_id == user.id)
        .order_by(GridReport.id.desc())
        .limit(limit)
    ).all()
    return [_report_out(session, r, c, False) for r, c in rows]


def _task_out(session: Session, t: GridTask, c: Case) -> TaskOut:
    return TaskOut(
        id=t.id,
        case_number=c.number,
        description=c.description,
        address=c.address,
        status=t.status,
        note=t.note,
        due_at=t.due_at.isoformat() if t.due_at else None,
        result=t.result,
        confirmed=t.confirmed,
        photos=_photos(session, c.id),
    )


@router.post("/api/grid/tasks", response_model=TaskOut, status_code=201)
def send_task(body: TaskIn, session: SessionDep, user: Center) -> TaskOut:
    """任务核查: send a case to a grid worker to check on site before closure."""
    t = svc.create_task(
        session, body.case_number, user, worker_username=body.worker, note=body.note, due_hours=body.due_hours
    )
    c = session.get(Case, t.case_id)
    assert c is not None
    return _task_out(session, t, c)


@router.get("/api/grid/tasks", response_model=list[TaskOut])
def my_tasks(
    session: SessionDep, user: Worker, status: Annotated[str, Query(pattern="^(open|done)$")] = "open"
) -> list[TaskOut]:
    return [_task_out(session, t, c) for t, c in svc.worker_tasks(session, user, status)]


@router.post("/api/grid/tasks/{task_id}/done", response_model=TaskOut)
def task_done(
    task_id: int,
    request: Request,
    session: SessionDep,
    user: Worker,
    result: Annotated[str, Form(max_length=2000)],
    confirmed: Annotated[bool, Form()],
    before: Annotated[list[UploadFile] | None, File()] = None,
    after: Annotated[list[UploadFile] | None, File()] = None,
) -> TaskOut:
    settings = _settings(request)
    t = svc.complete_task(
        session,
        settings,
        user,
        task_id,
        result=result,
        confirmed=confirmed,
        before=_read(before or [], settings),
        after=_read(after or [], settings),
    )
    c = session.get(Case, t.case_id)
    assert c is not None
    return _task_out(session, t, c)


def _may_see_photo(session: Session, user: User, p: GridPhoto) -> bool:
    if user.role in access.CENTER_ROLES or p.uploaded_by == user.id:
        return True
    if user.role == workflow.Role.GRID_WORKER:
        task = session.scalar(
            select(GridTask.id).where(GridTask.case_id == p.case_id, GridTask.worker_id == user.id)
        )
        return task is not None
    c = session.get(Case, p.case_id)
    return c is not None and access.may_see_case(user.role, user.unit_code, c.unit_code, c.co_unit_codes)


@router.get("/api/grid/cases/{number}/photos", response_model=list[PhotoOut])
def case_photos(number: str, session: SessionDep, user: CurrentUser) -> list[PhotoOut]:
    c = session.scalar(select(Case).where(Case.number == number[:20]))
    if c is None:
        raise NotFound(f"no case numbered {number[:20]!r}")
    rows = list(session.scalars(select(GridPhoto).where(GridPhoto.case_id == c.id).order_by(GridPhoto.id)))
    return [_photo_out(p) for p in rows if _may_see_photo(session, user, p)]


@router.get("/api/grid/photos/{photo_id}", include_in_schema=False)
def photo(
    photo_id: int, request: Request, session: SessionDep, user: CurrentUser, thumb: bool = False
) -> FileResponse:
    p = session.get(GridPhoto, photo_id)
    if p is None:
        raise NotFound(f"no photo {photo_id}")
    if not _may_see_photo(session, user, p):
        raise Forbidden("not your case's photo")
    path = photos_mod.resolve(_settings(request).intake, p.thumb_path if thumb else p.path)
    if not path.exists():
        raise NotFound("the photo file is missing from the uploads folder (restore it from the backup)")
    return FileResponse(path, media_type=p.content_type, headers={"Cache-Control": "private, max-age=3600"})


@router.get("/api/grid/resolve")
def resolve(
    session: SessionDep,
    _: Center,
    community_code: Annotated[str | None, Query(max_length=12)] = None,
    street_code: Annotated[str | None, Query(max_length=12)] = None,
    address: Annotated[str, Query(max_length=256)] = "",
) -> dict[str, object]:
    """Which grid a place falls in (None when the address does not say)."""
    place = svc.resolve_grid(session, community_code=community_code, street_code=street_code, address=address)
    return {"grid": None if place is None else place.__dict__}


@router.get("/api/grid/figures")
def grid_figures(
    session: SessionDep,
    _: Center,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[dict[str, object]]:
    """网格员考核 per street: reports, valid-report rate, on-the-spot closures, check-task timeliness."""
    if (start is not None and start.tzinfo is None) or (end is not None and end.tzinfo is None):
        raise Unprocessable("start and end need a time zone (e.g. 2026-12-01T00:00:00+08:00)")
    end = end or utcnow() + timedelta(seconds=1)
    start = start or end - timedelta(days=30)
    return svc.figures(session, start, end)
