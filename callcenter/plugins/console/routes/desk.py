"""What the console's desk needs to show names instead of codes (名称而非编码), who did each step of a case,
and the searchable matter picker's index:

* ``GET /api/console/names`` — matter, category, unit and area (district, street) names by code, for
  tables of cases (one request per page load, cached by the browser for the session);
* ``GET /api/console/matters/index`` — every active matter with its category, keywords and the pinyin
  of its name (full and initials, e.g. 油烟污染 → ``yyWR``/``yywr``), computed once per process and
  catalogue change, never per keystroke; the browser filters it locally;
* ``GET /api/console/cases/{number}/detail`` — the names of the case's matter, units and places, and
  its timeline with the actor of each step (name, role, unit), for any user who may see the case (the
  kernel's visibility rule; free text masked per role as in ``GET /api/cases/{number}``).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from fastapi import APIRouter
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callcenter.api.deps import CurrentUser, SessionDep, actor_of
from callcenter.api.schemas import CaseEventOut
from callcenter.db.models import Area, AuditEntry, Matter, MatterCategory, Unit, User
from callcenter.domain.workflow import STATUS_LABELS
from callcenter.services.cases import case_events, get_visible_case

router = APIRouter(prefix="/api/console", tags=["console"])

#: Seconds a process keeps its matter index before re-checking the catalogue's fingerprint.
INDEX_TTL_S = 10.0

_lock = threading.Lock()
_index: dict[str, Any] = {}


def invalidate() -> None:
    """Forget the cached matter index and names (after an admin edit of the catalogue)."""
    with _lock:
        _index.clear()


def pinyin_of(text: str) -> tuple[str, str]:
    """Full pinyin (no tones, no spaces) and initials of ``text``, both lower case (非汉字 kept)."""
    from pypinyin import Style, lazy_pinyin

    full = "".join(lazy_pinyin(text, errors="default")).lower()
    initials = "".join(lazy_pinyin(text, style=Style.FIRST_LETTER, errors="default")).lower()
    return full, initials


def _stamp(session: Session) -> tuple[int, str, int]:
    """A cheap fingerprint of the catalogue: matter count, the largest code and the last admin edit of a
    matter (the audit log's ``admin.matter.*`` rows: an edit in another process shows here)."""
    row = session.execute(select(func.count(), func.max(Matter.code)).where(Matter.active.is_(True))).one()
    edit = session.scalar(select(func.max(AuditEntry.id)).where(AuditEntry.action.like("admin.matter.%")))
    return int(row[0] or 0), str(row[1] or ""), int(edit or 0)


def matter_index(session: Session) -> list[dict[str, Any]]:
    """Every active matter for the picker, with pinyin (cached; see :data:`INDEX_TTL_S`)."""
    now = time.monotonic()
    with _lock:
        cached = _index.get("matters")
        if cached is not None and now - cached[0] < INDEX_TTL_S:
            return list(cached[2])
    stamp = _stamp(session)
    if cached is not None and cached[1] == stamp:
        with _lock:
            _index["matters"] = (now, stamp, cached[2])
        return list(cached[2])
    categories = _pairs(session, select(MatterCategory.code, MatterCategory.name))
    rows: list[dict[str, Any]] = []
    for m in session.scalars(select(Matter).where(Matter.active.is_(True)).order_by(Matter.code)):
        full, initials = pinyin_of(m.name)
        rows.append(
            {
                "code": m.code,
                "name": m.name,
                "category_code": m.category_code,
                "category": categories.get(m.category_code, ""),
                "keywords": list(m.keywords or []),
                "pinyin": full,
                "initials": initials,
            }
        )
    with _lock:
        _index["matters"] = (now, stamp, rows)
    return list(rows)


@router.get("/names")
def names(session: SessionDep, _: CurrentUser) -> dict[str, dict[str, str]]:
    """Names by code: ``matters``, ``categories``, ``units`` (also inactive ones: old cases keep their
    unit) and ``areas`` (districts and streets; communities come with a case's detail)."""
    return {
        "matters": _pairs(session, select(Matter.code, Matter.name)),
        "categories": _pairs(session, select(MatterCategory.code, MatterCategory.name)),
        "units": _pairs(session, select(Unit.code, Unit.name)),
        "areas": _pairs(
            session, select(Area.code, Area.name).where(Area.level.in_(("city", "district", "street")))
        ),
    }


@router.get("/matters/index")
def matters_index(session: SessionDep, _: CurrentUser) -> list[dict[str, Any]]:
    """The matter picker's index (name, category, keywords, pinyin and initials of the name)."""
    return matter_index(session)


def _pairs(session: Session, stmt: Any) -> dict[str, str]:
    """``{code: name}`` of a two-column select."""
    return {str(code): str(name) for code, name in session.execute(stmt)}


def _name(session: Session, model: Any, code: str | None) -> str | None:
    if not code:
        return None
    return session.scalar(select(model.name).where(model.code == code))


@router.get("/cases/{number}/detail")
def case_detail(number: str, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    """Names of the case's codes and the timeline with who did each step (操作人)."""
    case = get_visible_case(session, number, actor_of(user))
    events = case_events(session, case)
    actor_ids = {e.actor_id for e in events if e.actor_id is not None}
    users = (
        {u.id: u for u in session.scalars(select(User).where(User.id.in_(actor_ids)))} if actor_ids else {}
    )
    unit_codes = {c for c in [case.unit_code, *(case.co_unit_codes or [])] if c}
    unit_codes |= {e.unit_code for e in events if e.unit_code}
    unit_codes |= {u.unit_code for u in users.values() if u.unit_code}
    unit_names = (
        _pairs(session, select(Unit.code, Unit.name).where(Unit.code.in_(unit_codes))) if unit_codes else {}
    )
    timeline = []
    for e in events:
        row = CaseEventOut.build(e, user.role).model_dump(mode="json")
        actor = users.get(e.actor_id) if e.actor_id is not None else None
        row["from_status_label"] = STATUS_LABELS.get(e.from_status, e.from_status) if e.from_status else None
        row["to_status_label"] = STATUS_LABELS.get(e.to_status, e.to_status)
        row["unit_name"] = unit_names.get(e.unit_code or "")
        row["actor"] = (
            {
                "username": actor.username,
                "display_name": actor.display_name or actor.username,
                "role": actor.role,
                "unit_code": actor.unit_code,
                "unit_name": unit_names.get(actor.unit_code or ""),
            }
            if actor is not None
            else {
                "username": None,
                "display_name": None,
                "role": e.actor_role,
                "unit_code": None,
                "unit_name": None,
            }
        )
        timeline.append(row)
    return {
        "number": case.number,
        "names": {
            "matter": _name(session, Matter, case.matter_code),
            "unit": unit_names.get(case.unit_code or ""),
            "co_units": {c: unit_names.get(c) for c in case.co_unit_codes or []},
            "district": _name(session, Area, case.district_code),
            "street": _name(session, Area, case.street_code),
            "community": _name(session, Area, case.community_code),
        },
        "timeline": timeline,
    }
