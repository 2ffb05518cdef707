"""Seeding (初始化数据): areas, units, matter catalogue, responsibility list, time-limit policies.

Everything comes from versioned data files in the repository: the catalogue (``callcenter/data/
catalogue``, read and checked by :func:`callcenter.catalogue.read_catalogue`, the same parser the
classifier uses) and the time-limit policies (``callcenter/data``). Seeding is idempotent (upsert by
code), so it also applies catalogue updates.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from callcenter.catalogue import DEFAULT_DATA_DIR, RULES_FILE, CatalogueError, read_catalogue
from callcenter.config import PROJECT_ROOT
from callcenter.db.models import (
    Area,
    Matter,
    MatterCategory,
    ResponsibilityRule,
    TimeLimitPolicy,
    Unit,
    User,
)
from callcenter.security import hash_password

CATALOGUE_DIR = DEFAULT_DATA_DIR
CORE_DATA_DIR = PROJECT_ROOT / "callcenter" / "data"


class SeedError(Exception):
    """A data file is missing or malformed; the message names the file and line."""


def _rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    if not path.exists():
        raise SeedError(f"missing data file {path}")
    with path.open(encoding="utf-8", newline="") as fh:
        for lineno, row in enumerate(csv.DictReader(fh), start=2):
            yield lineno, {k: (v or "").strip() for k, v in row.items() if k is not None}


def _float(cell: str, default: float | None) -> float | None:
    return float(cell) if cell else default


def _require(row: dict[str, str], path: Path, lineno: int, *cols: str) -> None:
    for col in cols:
        if not row.get(col):
            raise SeedError(f"{path.name}:{lineno}: column {col!r} is empty")


def _upsert(
    session: Session, model: type[Any], key: str, values: dict[str, Any], existing: dict[str, Any]
) -> None:
    obj = existing.get(values[key])
    if obj is None:
        session.add(model(**values))
    else:
        for k, v in values.items():
            if getattr(obj, k) != v:
                setattr(obj, k, v)


@dataclass
class SeedReport:
    areas: int = 0
    units: int = 0
    categories: int = 0
    matters: int = 0
    rules: int = 0
    policies: int = 0


def seed_all(session: Session, data_dir: Path | None = None, core_dir: Path | None = None) -> SeedReport:
    """Load every data file into the database (idempotent).

    The responsibility list is replaced as a whole (when the catalogue folder has one); areas, units,
    categories and matters are upserted by code and never deleted (cases reference them).
    """
    data_dir = data_dir or CATALOGUE_DIR
    core_dir = core_dir or CORE_DATA_DIR
    try:
        catalogue = read_catalogue(data_dir)
    except CatalogueError as exc:
        raise SeedError(str(exc)) from exc
    report = SeedReport()

    existing_areas = {a.code: a for a in session.scalars(select(Area))}
    for area in catalogue.areas.values():
        values: dict[str, Any] = {
            "code": area.code,
            "name": area.name,
            "level": area.level,
            "parent_code": area.parent_code or None,
            "handled_by": area.handled_by or None,
        }
        _upsert(session, Area, "code", values, existing_areas)
    report.areas = len(catalogue.areas)
    session.flush()

    existing_units = {u.code: u for u in session.scalars(select(Unit))}
    for unit in catalogue.units.values():
        values = {
            "code": unit.code,
            "name": unit.name,
            "kind": unit.kind,
            "parent_code": unit.parent_code or None,
            "area_code": unit.area_code or None,
            "industry": unit.industry or None,
            "phone": unit.phone or None,
        }
        _upsert(session, Unit, "code", values, existing_units)
    report.units = len(catalogue.units)
    session.flush()

    existing_cats = {c.code: c for c in session.scalars(select(MatterCategory))}
    for cat in catalogue.categories.values():
        _upsert(session, MatterCategory, "code", {"code": cat.code, "name": cat.name}, existing_cats)
    report.categories = len(catalogue.categories)
    session.flush()

    existing_matters = {m.code: m for m in session.scalars(select(Matter))}
    for matter in catalogue.matters.values():
        values = {
            "code": matter.code,
            "category_code": matter.category_code,
            "name": matter.name,
            "description": matter.description,
            "keywords": list(matter.keywords),
            "owner_rule": matter.owner_rule,
            "industry": matter.industry or None,
            "accept_hours": matter.accept_hours,
            "handle_days": matter.handle_days,
            "limit_unit": matter.limit_unit or None,
            "source": matter.source[:64],
        }
        _upsert(session, Matter, "code", values, existing_matters)
    report.matters = len(catalogue.matters)
    session.flush()

    if (Path(data_dir) / RULES_FILE).exists():
        session.execute(delete(ResponsibilityRule))
        batch = [
            {
                "matter_code": rule.matter_code,
                "area_code": rule.area_code,
                "unit_code": rule.unit_code,
                "rule_kind": rule.rule_kind,
                "note": rule.note[:256],
            }
            for by_kind in catalogue.rules.values()
            for rule in by_kind.values()
        ]
        if batch:
            session.execute(insert(ResponsibilityRule), batch)
        report.rules = len(batch)

    path = core_dir / "time_limit_policies.csv"
    existing_pol = {p.priority: p for p in session.scalars(select(TimeLimitPolicy))}
    for lineno, row in _rows(path):
        _require(row, path, lineno, "priority")
        values = {
            "priority": row["priority"],
            "accept_hours": _float(row.get("accept_hours", ""), None),
            "handle_factor": _float(row.get("handle_factor", ""), 1.0),
            "max_handle_hours": _float(row.get("max_handle_hours", ""), None),
        }
        _upsert(session, TimeLimitPolicy, "priority", values, existing_pol)
        report.policies += 1
    session.flush()
    return report


ROLES = ("agent", "supervisor", "unit_handler", "admin", "grid_worker")


def add_user(
    session: Session,
    username: str,
    password: str,
    role: str,
    *,
    display_name: str = "",
    unit_code: str | None = None,
    extension: str | None = None,
    node: str | None = None,
    update: bool = False,
) -> User:
    """Create (or with ``update`` reset) a user; unit handlers must belong to a unit.

    ``node``: the Asterisk node the user's softphone registers on (multi-node centers).
    """
    from callcenter.services.admin import AdminError, check_user

    try:  # the admin screen applies the same checks (callcenter.services.admin)
        check_user(session, role=role, unit_code=unit_code, password=password, node=node)
    except AdminError as exc:
        option = {"unit_code": "unit"}.get(exc.field or "", exc.field)
        raise SeedError(f"{exc.message} (--{option})") from exc
    user = session.scalar(select(User).where(User.username == username))
    if user is not None and not update:
        raise SeedError(f"user {username!r} exists (use --update to reset) / 用户已存在")
    if user is None:
        user = User(username=username, password_hash="")
        session.add(user)
    user.password_hash = hash_password(password)
    user.role = role
    user.display_name = display_name or username
    user.unit_code = unit_code
    user.extension = extension
    user.node = node
    session.flush()
    return user


#: Demo logins printed by the demo (only created in demo/test mode).
DEMO_USERS = (
    ("agent1", "agent1-demo", "agent", "话务员一号", None, "8001"),
    ("agent2", "agent2-demo", "agent", "话务员二号", None, "8002"),
    ("supervisor1", "supervisor1-demo", "supervisor", "值班长", None, None),
    ("admin", "admin-demo-pass", "admin", "管理员", None, None),
)


def seed_demo_users(session: Session) -> list[tuple[str, str, str]]:
    """Demo logins, plus one handler for the first street office found (unit handler demo)."""
    created = []
    for username, password, role, name, unit_code, ext in DEMO_USERS:
        add_user(
            session,
            username,
            password,
            role,
            display_name=name,
            unit_code=unit_code,
            extension=ext,
            update=True,
        )
        created.append((username, password, role))
    street = session.scalar(select(Unit).where(Unit.kind == "street_office").order_by(Unit.code))
    bureau = session.scalar(select(Unit).where(Unit.kind == "district_bureau").order_by(Unit.code))
    pairs: tuple[tuple[str, Unit | None], ...] = (("street1", street), ("bureau1", bureau))
    for username, unit in pairs:
        if unit is not None:
            add_user(
                session,
                username,
                f"{username}-demo",
                "unit_handler",
                display_name=unit.name,
                unit_code=unit.code,
                update=True,
            )
            created.append((username, f"{username}-demo", f"unit_handler ({unit.name})"))
    return created
