"""Grids (网格) and grid workers (网格员 / 网格长): CSV import and place → grid resolution.

The chain is 区 (district) — 街道 (street) — 社区 (community) — 网格 (grid) — 网格员. Grids come from
a CSV (``code,name,community_code,keywords``; keywords separated by ``|``: roads, compounds and
landmarks in the grid) and their people from another (``username,display_name,grid_code,duty``; duty
``worker`` or ``leader``). A case's place resolves to a grid when its community has exactly one grid,
or when the address names one of a grid's keywords (the longest match wins).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy import case as sa_case
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callcenter.config import Settings
from callcenter.db.base import utcnow
from callcenter.db.models import (
    Area,
    Case,
    CaseEvent,
    Grid,
    GridMember,
    GridPhoto,
    GridReport,
    GridTask,
    User,
)
from callcenter.domain.sources import Source
from callcenter.domain.workflow import OPEN_STATUSES, Actor, Command, Role
from callcenter.exceptions import Conflict, NotFound, Unprocessable
from callcenter.plugins.grid import photos as photos_mod
from callcenter.plugins.grid.exceptions import BadGridFile
from callcenter.ports import SuggestFn
from callcenter.security import hash_password
from callcenter.services import cases as case_svc
from callcenter.services.intake import create_from_source

GRID_FIELDS = ("code", "name", "community_code", "keywords")
MEMBER_FIELDS = ("username", "display_name", "grid_code", "duty")
DUTIES = ("worker", "leader")


def _rows(text: str, fields: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    missing = [f for f in fields[:3] if f not in (reader.fieldnames or [])]
    if missing:
        raise BadGridFile(f"line 1: missing columns {', '.join(missing)} (expected {','.join(fields)})")
    return [(i, {k: (v or "").strip() for k, v in row.items() if k}) for i, row in enumerate(reader, start=2)]


def import_grids(session: Session, text: str) -> int:
    """Insert or update grids from CSV text; every line is checked before anything is written."""
    grids: list[Grid] = []
    seen: set[str] = set()
    for line, row in _rows(text, GRID_FIELDS):
        code, name, community = row.get("code", ""), row.get("name", ""), row.get("community_code", "")
        if not code or not name or not community:
            raise BadGridFile(f"line {line}: code, name and community_code are required")
        if len(code) > 32 or len(name) > 128:
            raise BadGridFile(f"line {line}: code (32) or name (128) too long")
        if code in seen:
            raise BadGridFile(f"line {line}: grid {code} appears twice")
        seen.add(code)
        area = session.get(Area, community)
        if area is None or area.level != "community":
            raise BadGridFile(f"line {line}: {community!r} is not a community code of the gazetteer")
        street = session.get(Area, area.parent_code) if area.parent_code else None
        keywords = [k.strip() for k in row.get("keywords", "").split("|") if k.strip()]
        grids.append(
            Grid(
                code=code,
                name=name,
                community_code=community,
                street_code=street.code if street else None,
                district_code=street.parent_code if street else None,
                keywords=keywords,
                active=True,
            )
        )
    for g in grids:
        session.merge(g)
    session.flush()
    return len(grids)


def import_members(session: Session, text: str, initial_password: str) -> int:
    """Create grid workers (role ``grid_worker``) and put them on their grids; existing users keep
    their password. Checked whole before anything is written."""
    planned: list[tuple[str, str, str, str]] = []
    for line, row in _rows(text, MEMBER_FIELDS):
        username, grid_code = row.get("username", ""), row.get("grid_code", "")
        duty = row.get("duty", "") or "worker"
        if not username or not grid_code:
            raise BadGridFile(f"line {line}: username and grid_code are required")
        if duty not in DUTIES:
            raise BadGridFile(f"line {line}: duty must be worker or leader, not {duty!r}")
        if session.get(Grid, grid_code) is None:
            raise BadGridFile(f"line {line}: unknown grid {grid_code!r}")
        existing = session.scalar(select(User).where(User.username == username))
        if existing is not None and existing.role != Role.GRID_WORKER:
            raise BadGridFile(f"line {line}: user {username} exists with role {existing.role}")
        planned.append((username, row.get("display_name", "") or username, grid_code, duty))
    hashed = hash_password(initial_password) if planned else ""
    for username, display, grid_code, duty in planned:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            user = User(username=username, display_name=display, password_hash=hashed, role=Role.GRID_WORKER)
            session.add(user)
            session.flush()
        member = session.scalar(
            select(GridMember).where(GridMember.grid_code == grid_code, GridMember.user_id == user.id)
        )
        if member is None:
            session.add(GridMember(grid_code=grid_code, user_id=user.id, duty=duty))
        else:
            member.duty = duty
    session.flush()
    return len(planned)


@dataclass(frozen=True)
class GridPlace:
    grid_code: str
    community_code: str
    street_code: str | None
    district_code: str | None
    how: str  # only_grid | keyword


def resolve_grid(
    session: Session, *, community_code: str | None, street_code: str | None = None, address: str = ""
) -> GridPlace | None:
    """The grid of a place: the only grid of its community, else the grid whose keyword the address
    names (longest keyword first); None when the place does not say."""
    q = select(Grid).where(Grid.active.is_(True))
    if community_code:
        q = q.where(Grid.community_code == community_code)
    elif street_code:
        q = q.where(Grid.street_code == street_code)
    else:
        return None
    grids = list(session.scalars(q))
    if community_code and len(grids) == 1:
        g = grids[0]
        return GridPlace(g.code, g.community_code, g.street_code, g.district_code, "only_grid")
    best: tuple[int, Grid] | None = None
    for g in grids:
        for kw in g.keywords or []:
            if kw and kw in address and (best is None or len(kw) > best[0]):
                best = (len(kw), g)
    if best is None:
        return None
    g = best[1]
    return GridPlace(g.code, g.community_code, g.street_code, g.district_code, "keyword")


def grids_of(session: Session, user_id: int) -> list[Grid]:
    return list(
        session.scalars(
            select(Grid)
            .join(GridMember, GridMember.grid_code == Grid.code)
            .where(GridMember.user_id == user_id)
        )
    )


# --- reports, on-the-spot closures, check tasks -------------------------------------------------


@dataclass
class ReportIn:
    client_uuid: str
    description: str
    address: str = ""
    grid_code: str | None = None
    community_code: str | None = None
    lat: float | None = None
    lon: float | None = None
    location_source: str | None = None  # browser | picked
    keep_gps: bool = False
    self_handled: bool = False
    handled_text: str = ""


@dataclass
class ReportResult:
    report: GridReport
    case: Case
    replayed: bool
    photos: list[GridPhoto]


def _place(session: Session, worker: User, r: ReportIn) -> tuple[GridPlace | None, str | None]:
    """The grid and community of a report: the picked grid (one of the worker's), else the picked
    community's grid, else the worker's only grid."""
    mine = {g.code: g for g in grids_of(session, worker.id)}
    if r.grid_code:
        g = mine.get(r.grid_code)
        if g is None:
            raise Unprocessable(f"grid {r.grid_code!r} is not one of yours")
        return GridPlace(g.code, g.community_code, g.street_code, g.district_code, "picked"), g.community_code
    if r.community_code:
        if session.get(Area, r.community_code) is None:
            raise Unprocessable(f"unknown community {r.community_code!r}")
        return resolve_grid(session, community_code=r.community_code, address=r.address), r.community_code
    if len(mine) == 1:
        g = next(iter(mine.values()))
        return GridPlace(g.code, g.community_code, g.street_code, g.district_code, "worker"), g.community_code
    return None, None


def create_report(
    session: Session,
    settings: Settings,
    worker: User,
    r: ReportIn,
    photos: list[bytes],
    after: list[bytes],
    suggest_fn: SuggestFn | None,
) -> ReportResult:
    """A grid worker's report as a case (channel ``grid``), committed; the same ``client_uuid`` again
    (an offline report sent twice) returns the first one."""
    earlier = session.scalar(select(GridReport).where(GridReport.client_uuid == r.client_uuid))
    if earlier is not None:
        if earlier.reporter_id != worker.id:
            raise Conflict("this report id belongs to another worker's report")
        case = session.get(Case, earlier.case_id)
        assert case is not None
        return ReportResult(earlier, case, True, [])
    policy = settings.intake
    if not r.description.strip():
        raise Unprocessable("description is required / 请描述发现的问题")
    if len(photos) + len(after) > policy.photo_max_count:
        raise Unprocessable(f"at most {policy.photo_max_count} photos per report")
    if not photos:
        raise Unprocessable("at least one photo of what was found is required")
    if r.self_handled and (not after or not r.handled_text.strip()):
        raise Unprocessable("an on-the-spot closure (自处置) needs an 'after' photo and what was done")
    place, community = _place(session, worker, r)
    now = utcnow()
    stored = [photos_mod.store(p, policy, now, keep_gps=r.keep_gps) for p in photos]
    stored_after = [photos_mod.store(p, policy, now, keep_gps=False) for p in after]
    lat, lon, source = r.lat, r.lon, r.location_source
    if lat is None or lon is None:
        gps = next(((p.lat, p.lon) for p in stored if p.lat is not None), None)
        if gps is not None:
            lat, lon, source = gps[0], gps[1], "exif"
        else:
            lat = lon = None
            source = "picked" if place else None
    area = session.get(Area, community) if community else None
    street = session.get(Area, area.parent_code) if area and area.parent_code else None
    new = case_svc.NewCase(
        description=r.description.strip(),
        community_code=community,
        street_code=street.code if street else None,
        district_code=street.parent_code if street else None,
        address=r.address,
        kind="report",
        channel=Source.GRID,
    )
    case, _ = create_from_source(
        session,
        new,
        Actor(Role.SYSTEM, user_id=worker.id),
        suggest_fn=suggest_fn,
        auto_dispatch=policy.auto_dispatch and not r.self_handled,
        hint={"community": community} if community else None,
    )
    if r.self_handled:
        case_svc.apply_checked(
            session,
            case,
            Command("resolve_on_spot", text=r.handled_text.strip()),
            Actor(Role.GRID_WORKER, user_id=worker.id),
        )
    report = GridReport(
        case_id=case.id,
        grid_code=place.grid_code if place else None,
        street_code=case.street_code,
        reporter_id=worker.id,
        client_uuid=r.client_uuid,
        self_handled=r.self_handled,
        lat=lat,
        lon=lon,
        location_source=source,
        created_at=now,
    )
    session.add(report)
    rows = [_photo_row(case, p, "report", worker.id, now) for p in stored]
    rows += [_photo_row(case, p, "after", worker.id, now) for p in stored_after]
    session.add_all(rows)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        earlier = session.scalar(select(GridReport).where(GridReport.client_uuid == r.client_uuid))
        if earlier is None:
            raise
        case2 = session.get(Case, earlier.case_id)
        assert case2 is not None
        return ReportResult(earlier, case2, True, [])
    return ReportResult(report, case, False, rows)


def _photo_row(case: Case, p: photos_mod.StoredPhoto, stage: str, user_id: int, now: datetime) -> GridPhoto:
    return GridPhoto(
        case_id=case.id,
        stage=stage,
        path=p.path,
        thumb_path=p.thumb_path,
        content_type=p.content_type,
        size_bytes=p.size_bytes,
        sha256=p.sha256,
        width=p.width,
        height=p.height,
        lat=p.lat,
        lon=p.lon,
        uploaded_by=user_id,
        created_at=now,
    )


def create_task(
    session: Session,
    case_number: str,
    creator: User,
    *,
    worker_username: str | None = None,
    note: str | None = None,
    due_hours: float = 24.0,
) -> GridTask:
    """任务核查: send an open case to a grid worker to check on site (the case's grid's worker when
    none is named)."""
    case = case_svc.get_case(session, case_number)
    if case.status not in {str(s) for s in OPEN_STATUSES}:
        raise Conflict(f"case {case_number} is {case.status}: only open cases are checked on site")
    place = resolve_grid(
        session, community_code=case.community_code, street_code=case.street_code, address=case.address
    )
    if worker_username:
        worker = session.scalar(select(User).where(User.username == worker_username))
        if worker is None or worker.role != Role.GRID_WORKER or not worker.active:
            raise Unprocessable(f"{worker_username!r} is not an active grid worker")
    else:
        if place is None:
            raise Unprocessable("the case's place resolves to no grid: name the grid worker")
        worker = session.scalar(
            select(User)
            .join(GridMember, GridMember.user_id == User.id)
            .where(GridMember.grid_code == place.grid_code, User.active.is_(True))
            .order_by(GridMember.duty.desc(), User.id)  # worker before leader
        )
        if worker is None:
            raise Unprocessable(f"grid {place.grid_code} has no active grid worker")
    now = utcnow()
    task = GridTask(
        case_id=case.id,
        worker_id=worker.id,
        grid_code=place.grid_code if place else None,
        street_code=case.street_code,
        kind="check",
        status="open",
        note=note,
        due_at=now + timedelta(hours=due_hours),
        created_by=creator.id,
        created_at=now,
    )
    session.add(task)
    session.commit()
    return task


def worker_tasks(session: Session, worker: User, status: str = "open") -> list[tuple[GridTask, Case]]:
    q = (
        select(GridTask, Case)
        .join(Case, Case.id == GridTask.case_id)
        .where(GridTask.worker_id == worker.id, GridTask.status == status)
        .order_by(GridTask.due_at, GridTask.id)
    )
    return [(t, c) for t, c in session.execute(q).all()]


def complete_task(
    session: Session,
    settings: Settings,
    worker: User,
    task_id: int,
    *,
    result: str,
    confirmed: bool,
    before: list[bytes],
    after: list[bytes],
) -> GridTask:
    """The worker's finding on site (with before / after photos), noted on the case's timeline; the
    center then verifies (核实) or sends the case back as usual."""
    task = session.get(GridTask, task_id)
    if task is None or task.worker_id != worker.id:
        raise NotFound(f"no check task {task_id} of yours")
    if task.status != "open":
        raise Conflict(f"check task {task_id} is already done")
    if not result.strip():
        raise Unprocessable("result is required / 请填写核查情况")
    if len(before) + len(after) > settings.intake.photo_max_count:
        raise Unprocessable(f"at most {settings.intake.photo_max_count} photos")
    case = session.get(Case, task.case_id)
    assert case is not None
    now = utcnow()
    rows = [
        _photo_row(
            case, photos_mod.store(p, settings.intake, now, keep_gps=False), "check_before", worker.id, now
        )
        for p in before
    ]
    rows += [
        _photo_row(
            case, photos_mod.store(p, settings.intake, now, keep_gps=False), "check_after", worker.id, now
        )
        for p in after
    ]
    session.add_all(rows)
    verdict = "属实/已解决" if confirmed else "不属实/未解决"
    case_svc.apply_checked(
        session,
        case,
        Command("note", text=f"网格员现场核查（{verdict}）：{result.strip()}", data={"grid_task": task.id}),
        Actor(Role.GRID_WORKER, user_id=worker.id),
    )
    task.status, task.result, task.confirmed, task.done_at = "done", result.strip(), confirmed, now
    session.commit()
    return task


def figures(session: Session, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Grid-worker figures per street (网格员考核): reports, valid reports (registered by the center or
    closed on the spot) and their rate, on-the-spot closures (自处置), check tasks and the share done
    in time."""
    registered = select(CaseEvent.case_id).where(CaseEvent.action == "register").distinct().subquery()
    rows = session.execute(
        select(
            GridReport.street_code,
            func.count(GridReport.id),
            func.sum(sa_case((GridReport.self_handled.is_(True), 1), else_=0)),
            func.sum(
                sa_case(
                    (or_(GridReport.self_handled.is_(True), registered.c.case_id.is_not(None)), 1), else_=0
                )
            ),
        )
        .outerjoin(registered, registered.c.case_id == GridReport.case_id)
        .where(GridReport.created_at >= start, GridReport.created_at < end)
        .group_by(GridReport.street_code)
    ).all()
    out: dict[str | None, dict[str, Any]] = {}
    for street, n, self_handled, valid in rows:
        out[street] = {
            "street_code": street,
            "reports": int(n),
            "self_handled": int(self_handled or 0),
            "valid_reports": int(valid or 0),
            "tasks": 0,
            "tasks_done": 0,
            "tasks_on_time": 0,
        }
    tasks = session.execute(
        select(
            GridTask.street_code,
            func.count(GridTask.id),
            func.sum(sa_case((GridTask.status == "done", 1), else_=0)),
            func.sum(
                sa_case((and_(GridTask.status == "done", GridTask.done_at <= GridTask.due_at), 1), else_=0)
            ),
        )
        .where(GridTask.created_at >= start, GridTask.created_at < end)
        .group_by(GridTask.street_code)
    ).all()
    for street, n, done, on_time in tasks:
        row = out.setdefault(
            street,
            {
                "street_code": street,
                "reports": 0,
                "self_handled": 0,
                "valid_reports": 0,
            },
        )
        row.update(tasks=int(n), tasks_done=int(done or 0), tasks_on_time=int(on_time or 0))
    names = {
        a.code: a.name for a in session.scalars(select(Area).where(Area.code.in_([k for k in out if k])))
    }
    result = []
    for street, row in sorted(out.items(), key=lambda kv: kv[0] or ""):
        row["street_name"] = names.get(street or "", "（未定位）")
        row["valid_rate"] = round(row["valid_reports"] / row["reports"], 4) if row["reports"] else None
        row["on_time_rate"] = round(row["tasks_on_time"] / row["tasks"], 4) if row.get("tasks") else None
        result.append(row)
    return result
