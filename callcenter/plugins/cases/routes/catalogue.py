"""Read-only catalogue: matter categories and matters (事项目录), units (承办单位), areas (区划)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from callcenter.api.deps import CurrentUser, SessionDep
from callcenter.api.schemas import AreaOut, CategoryOut, MatterOut, UnitOut
from callcenter.db.models import Area, Matter, MatterCategory, Unit

router = APIRouter(prefix="/api", tags=["catalogue"])


@router.get("/catalogue/categories", response_model=list[CategoryOut])
def categories(session: SessionDep, _: CurrentUser) -> list[MatterCategory]:
    return list(session.scalars(select(MatterCategory).order_by(MatterCategory.code)))


@router.get("/catalogue/matters", response_model=list[MatterOut])
def matters(
    session: SessionDep,
    _: CurrentUser,
    category: str | None = None,
    q: Annotated[str | None, Query(max_length=50)] = None,
) -> list[Matter]:
    stmt = select(Matter).where(Matter.active.is_(True)).order_by(Matter.code)
    if category:
        stmt = stmt.where(Matter.category_code == category)
    if q:
        stmt = stmt.where(Matter.name.like(f"%{q}%"))
    return list(session.scalars(stmt))


@router.get("/units", response_model=list[UnitOut])
def units(
    session: SessionDep,
    _: CurrentUser,
    kind: str | None = None,
    parent: str | None = None,
    area: str | None = None,
) -> list[Unit]:
    stmt = select(Unit).where(Unit.active.is_(True)).order_by(Unit.code)
    if kind:
        stmt = stmt.where(Unit.kind == kind)
    if parent:
        stmt = stmt.where(Unit.parent_code == parent)
    if area:
        stmt = stmt.where(Unit.area_code == area)
    return list(session.scalars(stmt))


@router.get("/areas", response_model=list[AreaOut])
def areas(
    session: SessionDep, _: CurrentUser, parent: str | None = None, level: str | None = None
) -> list[Area]:
    stmt = select(Area).order_by(Area.code)
    if parent:
        stmt = stmt.where(Area.parent_code == parent)
    if level:
        stmt = stmt.where(Area.level == level)
    return list(session.scalars(stmt.limit(5000)))
