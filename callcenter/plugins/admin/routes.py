"""``/api/admin/...`` (admin role only) and the admin page (``/admin/``).

Every write goes through :mod:`callcenter.services.admin` (the checks the CLI applies too, and one
audit row per change in the same transaction). A refused edit is HTTP 422 whose ``detail`` is the
Chinese message and whose ``X-Error-Field`` header names the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, Response, status
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from callcenter.api.deps import SessionDep, client_address, require_roles
from callcenter.db.models import (
    AuditEntry,
    Matter,
    MatterCategory,
    ResponsibilityRule,
    TimeLimitPolicy,
    Unit,
    User,
)
from callcenter.services import admin as svc

from .schemas import MatterIn, PolicyIn, RuleIn, TimeLimitsIn, UnitIn, UserIn

STATIC_DIR = Path(__file__).resolve().parent / "static"

AdminUser = Annotated[User, Depends(require_roles("admin"))]
router = APIRouter(prefix="/api/admin", tags=["admin"])


def mount(app: FastAPI) -> None:
    """The admin page at ``/admin/`` (it loads the console's common.js, desk.js, CSS and texts)."""
    app.mount("/admin", StaticFiles(directory=STATIC_DIR, html=True), name="admin")

    @app.get("/admin", include_in_schema=False)
    def admin_root() -> RedirectResponse:
        return RedirectResponse("/admin/")


def _who(request: Request, user: User) -> svc.Who:
    return svc.Who(user, client_address(request))


def _refused(exc: svc.AdminError) -> HTTPException:
    return HTTPException(422, exc.message, headers={"X-Error-Field": exc.field or ""})


def _commit(session: Session, fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        out = fn(session, *args, **kwargs)
    except svc.AdminError as exc:
        session.rollback()
        raise _refused(exc) from exc
    session.commit()
    return out


# --------------------------------------------------------------------------- meta


@router.get("/meta")
def meta(_: AdminUser, session: SessionDep) -> dict[str, Any]:
    """Choices of the forms (roles, unit kinds, rule kinds, owner rules, priorities, categories) and
    the fields of the time-limit editor (one list: a new field — e.g. the unit of the handling limit —
    is one more entry here and in :func:`callcenter.services.admin.limits_values`)."""
    return {
        "roles": list(svc.ROLES),
        "unit_kinds": list(svc.UNIT_KINDS),
        "rule_kinds": list(svc.RULE_KINDS),
        "owner_rules": ["industry", "locality"],
        "priorities": list(svc.PRIORITIES),
        "categories": [
            {"code": c.code, "name": c.name}
            for c in session.scalars(select(MatterCategory).order_by(MatterCategory.code))
        ],
        "time_limit_fields": [
            {"name": "accept_hours", "type": "number", "step": 0.5, "min": 0.5, "max": svc.MAX_ACCEPT_HOURS},
            {"name": "handle_days", "type": "number", "step": 0.5, "min": 0.5, "max": svc.MAX_HANDLE_DAYS},
        ],
    }


# --------------------------------------------------------------------------- users


def _user_out(u: User) -> dict[str, Any]:
    return {
        "username": u.username,
        "display_name": u.display_name,
        "role": u.role,
        "unit_code": u.unit_code,
        "extension": u.extension,
        "node": u.node,
        "active": u.active,
    }


@router.get("/users")
def users(_: AdminUser, session: SessionDep) -> list[dict[str, Any]]:
    return [_user_out(u) for u in session.scalars(select(User).order_by(User.username))]


@router.post("/users", status_code=status.HTTP_201_CREATED)
def create_user(body: UserIn, request: Request, user: AdminUser, session: SessionDep) -> dict[str, Any]:
    u = _commit(session, svc.save_user, _who(request, user), body.username, create=True, **body.fields())
    return _user_out(u)


@router.put("/users/{username}")
def update_user(
    username: str, body: UserIn, request: Request, user: AdminUser, session: SessionDep
) -> dict[str, Any]:
    if body.username != username:
        raise HTTPException(422, "用户名不能修改")
    return _user_out(_commit(session, svc.save_user, _who(request, user), username, **body.fields()))


# --------------------------------------------------------------------------- units


def _unit_out(u: Unit) -> dict[str, Any]:
    return {
        "code": u.code,
        "name": u.name,
        "kind": u.kind,
        "parent_code": u.parent_code,
        "area_code": u.area_code,
        "industry": u.industry,
        "phone": u.phone,
        "active": u.active,
    }


@router.get("/units")
def units(
    _: AdminUser, session: SessionDep, q: Annotated[str | None, Query(max_length=50)] = None
) -> list[dict[str, Any]]:
    stmt = select(Unit).order_by(Unit.code).limit(500)
    if q:
        stmt = stmt.where(or_(Unit.code.like(f"%{q}%"), Unit.name.like(f"%{q}%")))
    return [_unit_out(u) for u in session.scalars(stmt)]


@router.post("/units", status_code=status.HTTP_201_CREATED)
def create_unit(body: UnitIn, request: Request, user: AdminUser, session: SessionDep) -> dict[str, Any]:
    data = body.model_dump(exclude={"code"})
    return _unit_out(_commit(session, svc.save_unit, _who(request, user), body.code, create=True, **data))


@router.put("/units/{code}")
def update_unit(
    code: str, body: UnitIn, request: Request, user: AdminUser, session: SessionDep
) -> dict[str, Any]:
    if body.code != code:
        raise HTTPException(422, "单位编码不能修改")
    data = body.model_dump(exclude={"code"})
    return _unit_out(_commit(session, svc.save_unit, _who(request, user), code, **data))


# --------------------------------------------------------------------------- matters and time limits


def _matter_out(m: Matter) -> dict[str, Any]:
    return {
        "code": m.code,
        "name": m.name,
        "category_code": m.category_code,
        "description": m.description,
        "keywords": list(m.keywords or []),
        "owner_rule": m.owner_rule,
        "industry": m.industry,
        "accept_hours": m.accept_hours,
        "handle_days": m.handle_days,
        "active": m.active,
    }


@router.get("/matters")
def matters(
    _: AdminUser,
    session: SessionDep,
    q: Annotated[str | None, Query(max_length=50)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    stmt = select(Matter).order_by(Matter.code)
    if q:
        stmt = stmt.where(or_(Matter.code.like(f"{q}%"), Matter.name.like(f"%{q}%")))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    return {"total": int(total), "items": [_matter_out(m) for m in session.scalars(stmt.limit(limit))]}


@router.post("/matters", status_code=status.HTTP_201_CREATED)
def create_matter(body: MatterIn, request: Request, user: AdminUser, session: SessionDep) -> dict[str, Any]:
    data = body.model_dump(exclude={"code"})
    return _matter_out(_commit(session, svc.save_matter, _who(request, user), body.code, create=True, **data))


@router.put("/matters/{code}")
def update_matter(
    code: str, body: MatterIn, request: Request, user: AdminUser, session: SessionDep
) -> dict[str, Any]:
    if body.code != code:
        raise HTTPException(422, "事项编码不能修改")
    data = body.model_dump(exclude={"code"})
    return _matter_out(_commit(session, svc.save_matter, _who(request, user), code, **data))


@router.put("/matters/{code}/time-limits")
def update_time_limits(
    code: str, body: TimeLimitsIn, request: Request, user: AdminUser, session: SessionDep
) -> dict[str, Any]:
    """时限: only the matter's time limits (fields: ``GET /api/admin/meta`` ``time_limit_fields``)."""
    m = _commit(session, svc.save_time_limits, _who(request, user), code, **body.model_dump())
    return _matter_out(m)


@router.get("/policies")
def policies(_: AdminUser, session: SessionDep) -> list[dict[str, Any]]:
    rows = {p.priority: p for p in session.scalars(select(TimeLimitPolicy))}
    return [
        {
            "priority": pr,
            "accept_hours": rows[pr].accept_hours if pr in rows else None,
            "handle_factor": rows[pr].handle_factor if pr in rows else 1.0,
            "max_handle_hours": rows[pr].max_handle_hours if pr in rows else None,
        }
        for pr in svc.PRIORITIES
    ]


@router.put("/policies/{priority}")
def update_policy(
    priority: str, body: PolicyIn, request: Request, user: AdminUser, session: SessionDep
) -> dict[str, Any]:
    p = _commit(session, svc.save_policy, _who(request, user), priority, **body.model_dump())
    return {
        "priority": p.priority,
        "accept_hours": p.accept_hours,
        "handle_factor": p.handle_factor,
        "max_handle_hours": p.max_handle_hours,
    }


# --------------------------------------------------------------------------- responsibility rules


def _rule_out(r: ResponsibilityRule) -> dict[str, Any]:
    return {
        "id": r.id,
        "matter_code": r.matter_code,
        "area_code": r.area_code,
        "unit_code": r.unit_code,
        "rule_kind": r.rule_kind,
        "note": r.note,
        "source": r.source,  # catalogue (from callcenter seed) | admin (edited here; the seed keeps it)
    }


@router.get("/rules")
def rules(
    _: AdminUser,
    session: SessionDep,
    matter: Annotated[str | None, Query(max_length=16)] = None,
    area: Annotated[str | None, Query(max_length=12)] = None,
    unit: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    stmt = (
        select(ResponsibilityRule)
        .where(ResponsibilityRule.active.is_(True))  # a deleted rule is kept inactive for the seed
        .order_by(ResponsibilityRule.matter_code, ResponsibilityRule.area_code)
    )
    if matter:
        stmt = stmt.where(ResponsibilityRule.matter_code == matter)
    if area:
        stmt = stmt.where(ResponsibilityRule.area_code == area)
    if unit:
        stmt = stmt.where(ResponsibilityRule.unit_code == unit)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    return {"total": int(total), "items": [_rule_out(r) for r in session.scalars(stmt.limit(limit))]}


@router.post("/rules", status_code=status.HTTP_201_CREATED)
def create_rule(body: RuleIn, request: Request, user: AdminUser, session: SessionDep) -> dict[str, Any]:
    return _rule_out(_commit(session, svc.save_rule, _who(request, user), **body.model_dump()))


@router.put("/rules/{rule_id}")
def update_rule(
    rule_id: int, body: RuleIn, request: Request, user: AdminUser, session: SessionDep
) -> dict[str, Any]:
    return _rule_out(
        _commit(session, svc.save_rule, _who(request, user), rule_id=rule_id, **body.model_dump())
    )


@router.delete("/rules/{rule_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_rule(rule_id: int, request: Request, user: AdminUser, session: SessionDep) -> Response:
    _commit(session, svc.delete_rule, _who(request, user), rule_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --------------------------------------------------------------------------- audit trail


@router.get("/audit")
def audit_trail(
    _: AdminUser,
    session: SessionDep,
    target: Annotated[str | None, Query(max_length=256)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """The admin edits (``admin.*`` rows of the audit log), newest first."""
    stmt = (
        select(AuditEntry)
        .where(AuditEntry.action.like("admin.%"))
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(limit)
    )
    if target:
        stmt = stmt.where(AuditEntry.target == target)
    return [
        {
            "at": e.at.isoformat(),
            "actor": e.actor_name,
            "action": e.action,
            "target": e.target,
            "client_addr": e.client_addr,
            "detail": e.detail,
        }
        for e in session.scalars(stmt)
    ]
