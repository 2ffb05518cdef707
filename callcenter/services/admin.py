"""Administration of the reference data (系统管理): users, units (承办单位), matters (事项), the
responsibility list (权责清单) and time limits (时限) — validation, saving and the audit trail.

One set of checks for every way in: the admin screen's API (the ``admin`` plugin) calls these
functions, and the CLI's ``callcenter user add`` goes through :func:`callcenter.seed.add_user`, which
applies the same :func:`check_user` (role, unit of a unit handler, password length, node name). Units,
matters and rules obey the rules :func:`callcenter.catalogue.read_catalogue` applies to the CSV files
``callcenter seed`` loads (required columns, known category / unit, owner rule ``industry`` or
``locality``, numbers that are numbers), plus what a live database needs (no unit may be its own
parent, positive time limits, a rule's matter and area must exist).

Every change is one :func:`callcenter.audit.record` row (``admin.<kind>.<created|updated|deleted>``)
in the same transaction, with the changed fields as ``[old, new]`` (a password only as ``changed``).
Rows are never deleted: users, units and matters are deactivated, because cases and events reference
them; a deleted responsibility rule is kept inactive (a tombstone) and every rule the screen touches is
marked ``admin``, so ``callcenter seed`` leaves it as the admin left it.

Errors are :class:`AdminError` with a message in Chinese (shown as is by the admin screen) and the
field it concerns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter import audit
from callcenter.catalogue import OWNER_RULES
from callcenter.db.models import Area, Matter, MatterCategory, ResponsibilityRule, TimeLimitPolicy, Unit, User

ROLES = ("agent", "supervisor", "unit_handler", "admin")
UNIT_KINDS = ("center", "district_bureau", "street_office", "community", "utility")
RULE_KINDS = ("industry", "locality", "override")
PRIORITIES = ("normal", "urgent", "emergency")
MIN_PASSWORD = 8
#: Upper bounds of time limits (a typo such as 7000 days is refused, not stored).
MAX_ACCEPT_HOURS = 24 * 30
MAX_HANDLE_DAYS = 365


class AdminError(ValueError):
    """A refused edit: ``message`` (Chinese, for the screen) and the ``field`` it concerns."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Who:
    """Who makes the change and from where (for the audit trail)."""

    user: User | None
    client_addr: str | None = None


# --------------------------------------------------------------------------- checks


def _exists(session: Session, model: Any, code: str | None) -> bool:
    return bool(code) and session.scalar(select(model.code).where(model.code == code)) is not None


def check_user(
    session: Session,
    *,
    role: str,
    unit_code: str | None,
    password: str | None,
    node: str | None = None,
) -> None:
    """The checks of a user, for the CLI and the admin screen alike (``password`` None: unchanged)."""
    if role not in ROLES:
        raise AdminError(f"角色必须是 {'、'.join(ROLES)} 之一", "role")
    if role == "unit_handler" and not unit_code:
        raise AdminError("承办人必须属于一个承办单位", "unit_code")
    if unit_code and not _exists(session, Unit, unit_code):
        raise AdminError(f"没有编码为 {unit_code} 的承办单位", "unit_code")
    if password is not None and len(password) < MIN_PASSWORD:
        raise AdminError(f"密码至少 {MIN_PASSWORD} 个字符", "password")
    if node is not None:
        from callcenter.domain.nodes import validate_node

        try:
            validate_node(node)
        except ValueError as exc:
            raise AdminError(f"节点名称无效：{exc}", "node") from exc


def _text(value: str | None, field: str, label: str, max_len: int, *, required: bool = True) -> str:
    v = (value or "").strip()
    if required and not v:
        raise AdminError(f"{label}不能为空", field)
    if len(v) > max_len:
        raise AdminError(f"{label}不能超过 {max_len} 个字符", field)
    if any(c in v for c in "\r\n\t"):
        raise AdminError(f"{label}不能包含换行或制表符", field)
    return v


def _number(
    value: float | None, field: str, label: str, high: float, *, allow_none: bool = False
) -> float | None:
    if value is None:
        if allow_none:
            return None
        raise AdminError(f"{label}不能为空", field)
    if not value > 0:
        raise AdminError(f"{label}必须大于 0", field)
    if value > high:
        raise AdminError(f"{label}不能超过 {high:g}", field)
    return float(value)


def _changes(obj: Any, values: dict[str, Any]) -> dict[str, list[Any]]:
    """Apply ``values`` to ``obj``; the changed fields as ``{field: [old, new]}``."""
    changed: dict[str, list[Any]] = {}
    for key, new in values.items():
        old = getattr(obj, key)
        if old != new:
            changed[key] = [old, new]
            setattr(obj, key, new)
    return changed


def _audit(session: Session, who: Who, action: str, target: str, detail: dict[str, Any]) -> None:
    audit.record(session, action, actor=who.user, target=target, client_addr=who.client_addr, detail=detail)


# --------------------------------------------------------------------------- users


def save_user(
    session: Session,
    who: Who,
    username: str,
    *,
    role: str,
    display_name: str = "",
    unit_code: str | None = None,
    extension: str | None = None,
    node: str | None = None,
    password: str | None = None,
    active: bool = True,
    create: bool = False,
) -> User:
    """Create (``create``: a password is required) or update a user."""
    from callcenter.security import hash_password

    username = _text(username, "username", "用户名", 64)
    unit_code = (unit_code or "").strip() or None
    extension = _text(extension, "extension", "分机", 16, required=False) or None
    node = (node or "").strip() or None
    check_user(session, role=role, unit_code=unit_code, password=password, node=node)
    user = session.scalar(select(User).where(User.username == username))
    if create:
        if user is not None:
            raise AdminError(f"用户 {username} 已存在", "username")
        if password is None:
            raise AdminError("新用户需要设置密码", "password")
        user = User(username=username, password_hash=hash_password(password), role=role)
        session.add(user)
    elif user is None:
        raise AdminError(f"没有用户 {username}", "username")
    if who.user is not None and who.user.username == username and (not active or role != "admin"):
        raise AdminError("不能停用自己或取消自己的管理员角色", "active")
    values = {
        "role": role,
        "display_name": _text(display_name, "display_name", "姓名", 64, required=False) or username,
        "unit_code": unit_code,
        "extension": extension,
        "node": node,
        "active": bool(active),
    }
    changed = _changes(user, values)
    if password is not None and not create:
        user.password_hash = hash_password(password)
        changed["password"] = ["", "changed"]
    session.flush()
    if create:
        _audit(session, who, "admin.user.created", f"user:{username}", {"values": _plain(values)})
    elif changed:
        _audit(session, who, "admin.user.updated", f"user:{username}", {"changes": _plain(changed)})
    return user


# --------------------------------------------------------------------------- units


def save_unit(
    session: Session,
    who: Who,
    code: str,
    *,
    name: str,
    kind: str,
    parent_code: str | None = None,
    area_code: str | None = None,
    industry: str | None = None,
    phone: str | None = None,
    active: bool = True,
    create: bool = False,
) -> Unit:
    """Create or update a unit (承办单位)."""
    code = _text(code, "code", "单位编码", 32)
    values: dict[str, Any] = {
        "name": _text(name, "name", "单位名称", 128),
        "kind": kind,
        "parent_code": (parent_code or "").strip() or None,
        "area_code": (area_code or "").strip() or None,
        "industry": _text(industry, "industry", "行业", 32, required=False) or None,
        "phone": _text(phone, "phone", "电话", 32, required=False) or None,
        "active": bool(active),
    }
    if kind not in UNIT_KINDS:
        raise AdminError(f"单位类型必须是 {'、'.join(UNIT_KINDS)} 之一", "kind")
    if values["parent_code"] == code:
        raise AdminError("上级单位不能是本单位", "parent_code")
    if values["parent_code"] and not _exists(session, Unit, values["parent_code"]):
        raise AdminError(f"没有编码为 {values['parent_code']} 的上级单位", "parent_code")
    if values["area_code"] and not _exists(session, Area, values["area_code"]):
        raise AdminError(f"没有编码为 {values['area_code']} 的行政区划", "area_code")
    unit = session.scalar(select(Unit).where(Unit.code == code))
    if create:
        if unit is not None:
            raise AdminError(f"单位编码 {code} 已存在", "code")
        unit = Unit(code=code, **values)
        session.add(unit)
        session.flush()
        _audit(session, who, "admin.unit.created", f"unit:{code}", {"values": _plain(values)})
        return unit
    if unit is None:
        raise AdminError(f"没有编码为 {code} 的承办单位", "code")
    changed = _changes(unit, values)
    session.flush()
    if changed:
        _audit(session, who, "admin.unit.updated", f"unit:{code}", {"changes": _plain(changed)})
    return unit


# --------------------------------------------------------------------------- matters and time limits


def save_matter(
    session: Session,
    who: Who,
    code: str,
    *,
    name: str,
    category_code: str,
    description: str = "",
    keywords: list[str] | None = None,
    owner_rule: str = "locality",
    industry: str | None = None,
    accept_hours: float = 2.0,
    handle_days: float = 7.0,
    active: bool = True,
    create: bool = False,
) -> Matter:
    """Create or update a matter (事项), its keywords and its time limits."""
    code = _text(code, "code", "事项编码", 16)
    if not _exists(session, MatterCategory, category_code):
        raise AdminError(f"没有编码为 {category_code} 的事项大类", "category_code")
    if owner_rule not in OWNER_RULES:
        raise AdminError("派单规则必须是 industry（行业）或 locality（属地）", "owner_rule")
    words = [w.strip() for w in keywords or [] if w.strip()]
    if any("|" in w or len(w) > 32 for w in words):
        raise AdminError("关键词不能包含“|”，且每个不超过 32 个字符", "keywords")
    values: dict[str, Any] = {
        "name": _text(name, "name", "事项名称", 128),
        "category_code": category_code,
        "description": (description or "").strip()[:2000],
        "keywords": list(dict.fromkeys(words)),
        "owner_rule": owner_rule,
        "industry": _text(industry, "industry", "行业", 32, required=False) or None,
        **limits_values(accept_hours=accept_hours, handle_days=handle_days),
        "active": bool(active),
    }
    matter = session.get(Matter, code)
    if create:
        if matter is not None:
            raise AdminError(f"事项编码 {code} 已存在", "code")
        matter = Matter(code=code, source="admin", **values)
        session.add(matter)
        session.flush()
        _audit(session, who, "admin.matter.created", f"matter:{code}", {"values": _plain(values)})
        return matter
    if matter is None:
        raise AdminError(f"没有编码为 {code} 的事项", "code")
    changed = _changes(matter, values)
    session.flush()
    if changed:
        _audit(session, who, "admin.matter.updated", f"matter:{code}", {"changes": _plain(changed)})
    return matter


def limits_values(*, accept_hours: float | None, handle_days: float | None) -> dict[str, Any]:
    """The checked time-limit fields of a matter (签收时限 in hours, 办理时限 in days).

    One place for the fields, so that a unit of the handling limit (hours / calendar days / working
    days) is one more key here and one more entry in the admin screen's field list.
    """
    return {
        "accept_hours": _number(accept_hours, "accept_hours", "签收时限（小时）", MAX_ACCEPT_HOURS),
        "handle_days": _number(handle_days, "handle_days", "办理时限（天）", MAX_HANDLE_DAYS),
    }


def save_time_limits(
    session: Session, who: Who, code: str, *, accept_hours: float | None, handle_days: float | None
) -> Matter:
    """Change only a matter's time limits (the 时限 editor)."""
    matter = session.get(Matter, code)
    if matter is None:
        raise AdminError(f"没有编码为 {code} 的事项", "code")
    changed = _changes(matter, limits_values(accept_hours=accept_hours, handle_days=handle_days))
    session.flush()
    if changed:
        _audit(session, who, "admin.time_limit.updated", f"matter:{code}", {"changes": _plain(changed)})
    return matter


def save_policy(
    session: Session,
    who: Who,
    priority: str,
    *,
    accept_hours: float | None,
    handle_factor: float,
    max_handle_hours: float | None,
) -> TimeLimitPolicy:
    """Change the time-limit policy of a priority (紧急程度: normal / urgent / emergency)."""
    if priority not in PRIORITIES:
        raise AdminError(f"紧急程度必须是 {'、'.join(PRIORITIES)} 之一", "priority")
    values = {
        "accept_hours": _number(
            accept_hours, "accept_hours", "签收时限（小时）", MAX_ACCEPT_HOURS, allow_none=True
        ),
        "handle_factor": _number(handle_factor, "handle_factor", "办理时限系数", 10),
        "max_handle_hours": _number(
            max_handle_hours,
            "max_handle_hours",
            "办理时限上限（小时）",
            24 * MAX_HANDLE_DAYS,
            allow_none=True,
        ),
    }
    policy = session.get(TimeLimitPolicy, priority)
    if policy is None:
        policy = TimeLimitPolicy(priority=priority, **values)
        session.add(policy)
        changed = {k: [None, v] for k, v in values.items()}
    else:
        changed = _changes(policy, values)
    session.flush()
    if changed:
        _audit(session, who, "admin.time_limit.updated", f"priority:{priority}", {"changes": _plain(changed)})
    return policy


# --------------------------------------------------------------------------- responsibility rules


def save_rule(
    session: Session,
    who: Who,
    *,
    matter_code: str,
    area_code: str,
    unit_code: str,
    rule_kind: str,
    note: str = "",
    rule_id: int | None = None,
) -> ResponsibilityRule:
    """Create (``rule_id`` None) or update an entry of the responsibility list (权责清单).

    The rule becomes an ``admin`` rule, which ``callcenter seed`` leaves alone. Creating a rule where a
    deleted one is kept (a tombstone) revives that row; moving a rule to another matter, area or kind
    leaves a tombstone at the old place, so the seed does not bring the catalogue's rule back there.
    """
    if not _exists(session, Matter, matter_code):
        raise AdminError(f"没有编码为 {matter_code} 的事项", "matter_code")
    if not _exists(session, Area, area_code):
        raise AdminError(f"没有编码为 {area_code} 的行政区划", "area_code")
    if not _exists(session, Unit, unit_code):
        raise AdminError(f"没有编码为 {unit_code} 的承办单位", "unit_code")
    if rule_kind not in RULE_KINDS:
        raise AdminError(f"规则类型必须是 {'、'.join(RULE_KINDS)} 之一", "rule_kind")
    values = {
        "matter_code": matter_code,
        "area_code": area_code,
        "unit_code": unit_code,
        "rule_kind": rule_kind,
        "note": _text(note, "note", "备注", 256, required=False),
    }
    clash = session.scalar(
        select(ResponsibilityRule).where(
            ResponsibilityRule.matter_code == matter_code,
            ResponsibilityRule.area_code == area_code,
            ResponsibilityRule.rule_kind == rule_kind,
        )
    )
    if clash is not None and clash.active and clash.id != rule_id:
        raise AdminError("该事项在该区划已有同类规则（每个事项、区划、规则类型只能有一条）", "rule_kind")
    if rule_id is None:
        if clash is not None:  # a deleted rule of this matter, area and kind: revive its row
            clash.active = True
            clash.source = "admin"
            for k, v in values.items():
                setattr(clash, k, v)
            rule = clash
        else:
            rule = ResponsibilityRule(**values, source="admin", active=True)
            session.add(rule)
        session.flush()
        _audit(session, who, "admin.rule.created", f"rule:{rule.id}", {"values": values})
        return rule
    existing = session.get(ResponsibilityRule, rule_id)
    if existing is None or not existing.active:
        raise AdminError(f"没有编号为 {rule_id} 的规则", "id")
    old = _rule_values(existing)
    moved = _key(old) != _key(values)
    if moved and clash is not None:  # the tombstone at the new place gives way
        session.delete(clash)
        session.flush()
    changed = _changes(existing, values)
    if changed:
        existing.source = "admin"
    session.flush()
    if moved:
        session.add(ResponsibilityRule(**old, source="admin", active=False))
        session.flush()
    if changed:
        _audit(session, who, "admin.rule.updated", f"rule:{rule_id}", {"changes": _plain(changed)})
    return existing


def delete_rule(session: Session, who: Who, rule_id: int) -> None:
    """Delete a rule: the row is kept inactive (a tombstone), so ``callcenter seed`` does not bring the
    catalogue's rule back; routing and the admin screen see active rules only."""
    rule = session.get(ResponsibilityRule, rule_id)
    if rule is None or not rule.active:
        raise AdminError(f"没有编号为 {rule_id} 的规则", "id")
    values = _rule_values(rule)
    rule.active = False
    rule.source = "admin"
    session.flush()
    _audit(session, who, "admin.rule.deleted", f"rule:{rule_id}", {"values": values})


def _rule_values(rule: ResponsibilityRule) -> dict[str, Any]:
    return {
        "matter_code": rule.matter_code,
        "area_code": rule.area_code,
        "unit_code": rule.unit_code,
        "rule_kind": rule.rule_kind,
        "note": rule.note,
    }


def _key(values: dict[str, Any]) -> tuple[str, str, str]:
    return values["matter_code"], values["area_code"], values["rule_kind"]


def _plain(d: dict[str, Any]) -> dict[str, Any]:
    """JSON-safe copy (lists stay lists, everything else as is or as text)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, list):
            out[k] = [x if isinstance(x, str | int | float | bool | list | type(None)) else str(x) for x in v]
        else:
            out[k] = v if isinstance(v, str | int | float | bool | type(None)) else str(v)
    return out
