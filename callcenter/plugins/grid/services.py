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

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.db.models import Area, Grid, GridMember, User
from callcenter.domain.workflow import Role
from callcenter.plugins.grid.exceptions import BadGridFile
from callcenter.security import hash_password

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
