"""Seeding (初始化数据): areas, units, matter catalogue, responsibility list, time-limit policies.

Everything comes from versioned data files in the repository: the catalogue (``callcenter/data/
catalogue``, read and checked by :func:`callcenter.catalogue.read_catalogue`, the same parser the
classifier uses) and the time-limit policies (``callcenter/data``). Seeding is idempotent (upsert by
code), so it also applies catalogue updates; responsibility rules edited in the admin screen survive it.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from callcenter import audit
from callcenter.catalogue import DEFAULT_DATA_DIR, RULES_FILE, Catalogue, CatalogueError, read_catalogue
from callcenter.config import PROJECT_ROOT
from callcenter.db.base import utcnow
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

    The catalogue's responsibility rules follow the folder's list (when it has one), rules edited in the
    admin screen are kept (:func:`_seed_rules`); areas, units, categories and matters are upserted by
    code and never deleted (cases reference them).
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
        report.rules = _seed_rules(session, catalogue)

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


def _seed_rules(session: Session, catalogue: Catalogue) -> int:
    """Bring the catalogue's rules (``source`` ``catalogue``) in line with the CSV file: new rules are
    inserted, changed ones updated, rules no longer in the file deleted. A rule the admin screen
    created, edited or deleted (``source`` ``admin``, a deleted one kept inactive) is left as it is, also
    when the file has a rule for the same matter, area and kind. Returns the number of catalogue rules."""
    existing = {
        (r.matter_code, r.area_code, r.rule_kind): r for r in session.scalars(select(ResponsibilityRule))
    }
    wanted = {
        (rule.matter_code, rule.area_code, rule.rule_kind): rule
        for by_kind in catalogue.rules.values()
        for rule in by_kind.values()
    }
    stale = [r.id for key, r in existing.items() if r.source == "catalogue" and key not in wanted]
    updated = 0
    for start in range(0, len(stale), 500):
        session.execute(
            delete(ResponsibilityRule).where(ResponsibilityRule.id.in_(stale[start : start + 500]))
        )
    batch: list[dict[str, Any]] = []
    now = utcnow()
    for key, rule in wanted.items():
        note = rule.note[:256]
        row = existing.get(key)
        if row is None:
            batch.append(
                {
                    "matter_code": rule.matter_code,
                    "area_code": rule.area_code,
                    "rule_kind": rule.rule_kind,
                    "source": "catalogue",
                    "active": True,
                    "updated_at": now,
                    "unit_code": rule.unit_code,
                    "note": note,
                }
            )
        elif row.source == "catalogue" and (row.unit_code, row.note, row.active) != (
            rule.unit_code,
            note,
            True,
        ):
            row.unit_code, row.note, row.active = rule.unit_code, note, True
            updated += 1
    if batch:
        session.execute(insert(ResponsibilityRule), batch)
    if batch or updated or stale:  # routing's cache of the rules sees the change by this row
        detail = {"added": len(batch), "updated": updated, "deleted": len(stale)}
        audit.record(session, audit.SEED_RULES, actor_name="callcenter seed", target="rules", detail=detail)
    session.flush()
    return len(wanted)


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
