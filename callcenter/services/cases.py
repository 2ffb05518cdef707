"""Case service (工单服务): the database side of the pure workflow in ``callcenter.domain.workflow``.

Every committed change writes the case row, exactly one ``case_events`` row and one outbox event in
the same transaction. Concurrency: the row is locked (PostgreSQL ``FOR UPDATE``) and carries a
version counter, so of two agents acting on the same case at once one wins and the other gets a
:class:`~callcenter.exceptions.Conflict` — never a lost update.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, String, cast, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from callcenter import events
from callcenter.config import get_settings
from callcenter.db.base import utcnow
from callcenter.db.models import (
    Area,
    Call,
    Case,
    CaseEvent,
    CaseNumberCounter,
    IdempotencyKey,
    Matter,
    TimeLimitPolicy,
    Unit,
)
from callcenter.domain import access, numbering, workflow
from callcenter.domain.workflow import Actor, CaseState, Command, EventRecord, TimeLimits
from callcenter.exceptions import Conflict, Forbidden, NotFound, PayloadTooLarge, Unprocessable
from callcenter.observability import CASE_TRANSITIONS, count_on_commit

#: Fields a client may set when creating a case.
MAX_ADDRESS = 256


@dataclass
class NewCase:
    """What an agent enters to create a case (受理)."""

    description: str
    caller_phone: str | None = None
    caller_name: str | None = None
    matter_code: str | None = None
    district_code: str | None = None
    street_code: str | None = None
    community_code: str | None = None
    address: str = ""
    priority: str = "normal"
    kind: str = "request"
    channel: str = "phone"
    hotline: str | None = None
    call_uniqueid: str | None = None
    register: bool = False  # 立案 at once (needs a matter)
    dispatch_unit_code: str | None = None  # and dispatch at once
    co_unit_codes: tuple[str, ...] = ()
    answer: str | None = None  # 直接办结: the answer given on the call closes the case at once
    #: A deadline set outside the center (市级派单: the city platform's 办理时限): a dispatch never
    #: gives the unit longer than this (``cases.external_due_at``).
    external_due_at: datetime | None = None


def next_case_number(session: Session, now: datetime) -> str:
    """Allocate the next number of the day; atomic on PostgreSQL and SQLite (upsert … RETURNING)."""
    day = numbering.day_key(now, get_settings().timezone)
    dialect = session.get_bind().dialect.name
    ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(CaseNumberCounter)
    stmt = (
        ins.values(day=day, last=1)
        .on_conflict_do_update(index_elements=["day"], set_={"last": CaseNumberCounter.last + 1})
        .returning(CaseNumberCounter.last)
    )
    seq = session.execute(stmt).scalar_one()
    return numbering.format_number(day, int(seq))


def to_state(case: Case) -> CaseState:
    values = {name: getattr(case, name) for name in CaseState.field_names()}
    values["co_unit_codes"] = tuple(values["co_unit_codes"] or ())
    return CaseState(**values)


def _write_state(case: Case, state: CaseState) -> None:
    for name in CaseState.field_names():
        value = getattr(state, name)
        if name == "co_unit_codes":
            value = list(value)
        if getattr(case, name) != value:
            setattr(case, name, value)


def _add_event(session: Session, case: Case, rec: EventRecord, seq: int) -> CaseEvent:
    ev = CaseEvent(
        case_id=case.id,
        seq=seq,
        action=rec.action,
        from_status=rec.from_status,
        to_status=rec.to_status,
        actor_id=rec.actor_id,
        actor_role=str(rec.actor_role),
        unit_code=rec.unit_code,
        reason=rec.reason,
        data=rec.data,
        created_at=rec.at,
    )
    session.add(ev)
    count_on_commit(
        session, CASE_TRANSITIONS.labels(rec.action, str(rec.from_status or "none"), str(rec.to_status))
    )
    events.enqueue(
        session,
        events.STREAM_CASES,
        f"case.{rec.action}",
        {
            "number": case.number,
            "case_id": case.id,
            "action": rec.action,
            "from_status": rec.from_status,
            "status": rec.to_status,
            "unit_code": case.unit_code,
            "co_unit_codes": list(case.co_unit_codes or []),
            "matter_code": case.matter_code,
            "channel": case.channel,
            "actor_role": str(rec.actor_role),
            "actor_id": rec.actor_id,
            "reason": rec.reason,
            "seq": seq,
        },
    )
    return ev


def _next_seq(session: Session, case_id: int) -> int:
    last = session.scalar(select(func.max(CaseEvent.seq)).where(CaseEvent.case_id == case_id))
    return int(last or 0) + 1


def time_limits(session: Session, matter_code: str | None, priority: str) -> TimeLimits:
    """Time limits from the matter and the priority policy (configuration data in the database).

    A matter counts its limit in hours, calendar days or working days (``matters.limit_unit``, else
    ``deadlines.default_unit``); working days use the center's calendar (:mod:`.calendar`).
    """
    from zoneinfo import ZoneInfo

    from callcenter.services.calendar import work_calendar

    settings = get_settings()
    matter = session.get(Matter, matter_code) if matter_code else None
    policy = session.get(TimeLimitPolicy, priority)
    unit = (matter.limit_unit if matter else None) or settings.deadlines.default_unit
    return workflow.resolve_time_limits(
        matter.accept_hours if matter else 2.0,
        matter.handle_days if matter else 7.0,
        policy_accept_hours=policy.accept_hours if policy else None,
        handle_factor=policy.handle_factor if policy else 1.0,
        max_handle_hours=policy.max_handle_hours if policy else None,
        unit=unit,
        calendar=work_calendar(session) if unit == "working_days" else None,
        tz=ZoneInfo(settings.timezone),
    )


class _KnownCodes:
    """Codes already seen to exist, per database (catalogue rows are never deleted, only deactivated).

    A hit costs no query; a miss asks the database once, so a newly seeded code is found at once.
    """

    def __init__(self) -> None:
        self._known: dict[tuple[str, str], set[str]] = {}

    def exists(self, session: Session, kind: str, code: str) -> bool:
        key = (str(session.get_bind().engine.url), kind)
        known = self._known.setdefault(key, set())
        if code in known:
            return True
        if kind == "matter":
            found = session.scalar(select(Matter.code).where(Matter.code == code)) is not None
        elif kind == "unit":
            found = session.scalar(select(Unit.id).where(Unit.code == code)) is not None
        else:
            found = session.scalar(select(Area.code).where(Area.code == code)) is not None
        if found:
            known.add(code)
        return found


_known = _KnownCodes()


def _check_refs(
    session: Session,
    *,
    matter_code: str | None = None,
    unit_codes: tuple[str | None, ...] = (),
    area_codes: tuple[str | None, ...] = (),
) -> None:
    if matter_code is not None and not _known.exists(session, "matter", matter_code):
        raise Unprocessable(f"unknown matter {matter_code!r}")
    for code in unit_codes:
        if code is not None and not _known.exists(session, "unit", code):
            raise Unprocessable(f"unknown unit {code!r}")
    for code in area_codes:
        if code is not None and not _known.exists(session, "area", code):
            raise Unprocessable(f"unknown area {code!r}")


def _validate_text(description: str) -> str:
    text = description.strip()
    if not text:
        raise Unprocessable("description is empty")
    limit = get_settings().max_description_chars
    if len(text) > limit:
        raise PayloadTooLarge(f"description is {len(text)} characters; the limit is {limit}")
    return text


def create_case(session: Session, new: NewCase, actor: Actor, now: datetime | None = None) -> Case:
    """受理: create a case (and optionally 立案 and 派遣 in the same transaction)."""
    now = now or utcnow()
    description = _validate_text(new.description)
    if new.answer is not None and (new.register or new.dispatch_unit_code):
        raise Unprocessable("a case closed on the call (answer) cannot also be registered or dispatched")
    if len(new.address) > MAX_ADDRESS:
        raise Unprocessable(f"address longer than {MAX_ADDRESS} characters")
    _check_refs(
        session,
        matter_code=new.matter_code,
        unit_codes=(new.dispatch_unit_code, *new.co_unit_codes),
        area_codes=(new.district_code, new.street_code, new.community_code),
    )
    try:
        state, rec = workflow.create(actor, now, "", new.priority)
    except workflow.TransitionError as exc:
        raise Forbidden(str(exc)) from exc
    except workflow.CommandError as exc:
        raise Unprocessable(str(exc)) from exc
    number = next_case_number(session, now)
    state = replace(state, number=number, matter_code=new.matter_code)
    call_id = None
    if new.call_uniqueid:
        call_id = session.scalar(select(Call.id).where(Call.uniqueid == new.call_uniqueid))
        if call_id is None:
            raise Unprocessable(f"unknown call {new.call_uniqueid!r}")
    case = Case(
        number=number,
        status=state.status,
        channel=new.channel,
        hotline=new.hotline,
        call_id=call_id,
        caller_phone=new.caller_phone,
        caller_name=new.caller_name,
        kind=new.kind,
        matter_code=new.matter_code,
        district_code=new.district_code,
        street_code=new.street_code,
        community_code=new.community_code,
        address=new.address,
        description=description,
        priority=state.priority,
        created_by=actor.user_id,
        created_at=now,
        updated_at=now,
        co_unit_codes=[],
        external_due_at=new.external_due_at,
    )
    session.add(case)
    session.flush()
    if call_id is not None:
        call = session.get(Call, call_id)
        if call is not None and call.case_id is None:
            call.case_id = case.id
    _add_event(session, case, rec, 1)
    seq = 1
    if new.answer is not None:
        seq += 1
        _apply(session, case, Command("resolve_on_call", text=new.answer), actor, now, seq)
    if new.register or new.dispatch_unit_code:
        seq += 1
        _apply(session, case, Command("register", matter_code=new.matter_code), actor, now, seq)
    if new.dispatch_unit_code:
        seq += 1
        unit = session.scalar(select(Unit).where(Unit.code == new.dispatch_unit_code))
        cmd = Command(
            "dispatch",
            unit_code=new.dispatch_unit_code,
            co_unit_codes=tuple(new.co_unit_codes),
            unit_kind=unit.kind if unit else None,
            limits=time_limits(session, case.matter_code, case.priority),
        )
        _apply(session, case, cmd, actor, now, seq)
    session.flush()
    return case


def _cap_due(case: Case) -> None:
    """Keep an external deadline (上级时限): the handling deadline of a dispatch is never later."""
    cap = case.external_due_at
    if cap is not None and case.due_at is not None and case.due_at > cap:
        case.due_at = cap
        if case.accept_due_at is not None and case.accept_due_at > cap:
            case.accept_due_at = cap


#: What an ``Idempotency-Key`` may be: 1–128 visible ASCII characters (a UUID is the usual choice).
IDEMPOTENCY_KEY_RE = re.compile(r"^[\x21-\x7e]{1,128}$")


def check_idempotency_key(key: str) -> str:
    if not IDEMPOTENCY_KEY_RE.match(key):
        raise Unprocessable("Idempotency-Key must be 1 to 128 visible ASCII characters (e.g. a UUID)")
    return key


def request_fingerprint(body: dict[str, Any]) -> str:
    """A hash of a request body (canonical JSON), to tell a retry from a different request."""
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def case_for_key(session: Session, user_id: int, key: str, fingerprint: str) -> Case | None:
    """The case created earlier by ``user_id`` with ``key``, or None. A key used before for a
    different request body is refused (422): the client reused a key it must not reuse."""
    row = session.scalar(
        select(IdempotencyKey).where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
    )
    if row is None:
        return None
    if row.fingerprint != fingerprint:
        raise Unprocessable("this Idempotency-Key was already used for a different request")
    return session.get(Case, row.case_id)


def remember_key(session: Session, user_id: int, key: str, fingerprint: str, case: Case) -> None:
    """Store ``key`` for ``case`` in the caller's transaction (unique per user: of two concurrent
    requests with one key, the second commit fails and the caller returns the first one's case)."""
    session.add(IdempotencyKey(user_id=user_id, key=key, fingerprint=fingerprint, case_id=case.id))


def _apply(session: Session, case: Case, cmd: Command, actor: Actor, now: datetime, seq: int) -> None:
    try:
        new_state, rec = workflow.apply(to_state(case), cmd, actor, now)
    except workflow.TransitionError as exc:
        raise (Forbidden if exc.forbidden else Conflict)(str(exc)) from exc
    except workflow.CommandError as exc:
        raise Unprocessable(str(exc)) from exc
    _write_state(case, new_state)
    if cmd.action in ("dispatch", "redispatch", "decide_arbitration", "approve_extension"):
        _cap_due(case)
    case.updated_at = now
    _add_event(session, case, rec, seq)


def apply_checked(
    session: Session, case: Case, cmd: Command, actor: Actor, now: datetime | None = None
) -> Case:
    """Apply ``cmd`` to a case the caller has loaded and whose access it has checked itself.

    For capabilities whose users the unit visibility rule (:mod:`callcenter.domain.access`) does not
    cover — a grid worker closing their own report on the spot (自处置), noting a check task's result.
    The workflow's role and status checks apply as always."""
    now = now or utcnow()
    _apply(session, case, cmd, actor, now, _next_seq(session, case.id))
    try:
        session.flush()
    except StaleDataError as exc:
        raise Conflict(f"case {case.number} was changed by someone else; reload and retry") from exc
    return case


def get_case(session: Session, number: str, *, for_update: bool = False) -> Case:
    q = select(Case).where(Case.number == number)
    if for_update and session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update()
    case = session.scalar(q)
    if case is None:
        raise NotFound(f"no case numbered {number!r}")
    return case


def ensure_visible(case: Case, actor: Actor) -> Case:
    """:class:`~callcenter.exceptions.Forbidden` (403) unless ``actor`` may see ``case``
    (:func:`callcenter.domain.access.may_see_case`)."""
    if not access.may_see_case(str(actor.role), actor.unit_code, case.unit_code, case.co_unit_codes):
        raise Forbidden(access.NOT_YOUR_UNIT)
    return case


def get_visible_case(session: Session, number: str, actor: Actor, *, for_update: bool = False) -> Case:
    """Case ``number`` if ``actor`` may see it: 404 when there is no such case, 403 when it is another
    unit's. Every route that takes a case number reads the case through this."""
    return ensure_visible(get_case(session, number, for_update=for_update), actor)


def transition(
    session: Session,
    number: str,
    cmd: Command,
    actor: Actor,
    *,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Case:
    """Apply one workflow action to case ``number`` (row-locked; optimistic version check).

    The actor must be allowed to see the case (checked first: a refused action reveals nothing of it).
    """
    now = now or utcnow()
    case = get_visible_case(session, number, actor, for_update=True)
    if expected_version is not None and case.version != expected_version:
        raise Conflict(
            f"case {number} was changed by someone else (version {case.version}, expected {expected_version})"
        )
    if cmd.action in ("dispatch", "redispatch", "decide_arbitration"):
        _check_refs(session, unit_codes=(cmd.unit_code, *cmd.co_unit_codes))
        unit = session.scalar(select(Unit).where(Unit.code == cmd.unit_code)) if cmd.unit_code else None
        cmd = replace(
            cmd,
            unit_kind=unit.kind if unit else None,
            limits=time_limits(session, cmd.matter_code or case.matter_code, case.priority),
        )
    if cmd.matter_code:
        _check_refs(session, matter_code=cmd.matter_code)
    if cmd.action == "merge" and cmd.into:
        target = session.scalar(select(Case.status).where(Case.number == cmd.into))
        if target is None:
            raise Unprocessable(f"no case numbered {cmd.into!r} to merge into")
        if target == workflow.Status.MERGED:
            raise Conflict(f"case {cmd.into} is itself merged")
    _apply(session, case, cmd, actor, now, _next_seq(session, case.id))
    try:
        session.flush()
    except StaleDataError as exc:
        raise Conflict(f"case {number} was changed by someone else; reload and retry") from exc
    return case


def case_events(session: Session, case: Case) -> list[CaseEvent]:
    return list(
        session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq))
    )


def overdue_condition(now: datetime) -> ColumnElement[bool]:
    """SQL form of ``workflow.overdue_kind(...) is not None``: 签收 or handling deadline passed."""
    return or_(
        (Case.status == workflow.Status.DISPATCHED) & (Case.accept_due_at < now),
        Case.status.in_([workflow.Status.DISPATCHED, workflow.Status.ACCEPTED]) & (Case.due_at < now),
    )


@dataclass
class CaseQuery:
    phone: str | None = None
    status: list[str] | None = None
    unit_code: str | None = None
    matter_code: str | None = None
    area_code: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    text: str | None = None
    overdue_at: datetime | None = None  # only cases overdue at this time
    limit: int = 50
    offset: int = 0


def search_cases(session: Session, q: CaseQuery) -> tuple[int, list[Case]]:
    """Search by phone / status / unit (lead or co-unit) / matter / area / date / text."""
    conds: list[Any] = []
    if q.phone:
        conds.append(Case.caller_phone == q.phone)
    if q.status:
        conds.append(Case.status.in_(q.status))
    if q.unit_code:
        conds.append(
            or_(
                Case.unit_code == q.unit_code,
                cast(Case.co_unit_codes, String).like(f'%"{q.unit_code}"%'),
            )
        )
    if q.matter_code:
        conds.append(Case.matter_code == q.matter_code)
    if q.area_code:
        conds.append(
            or_(
                Case.district_code == q.area_code,
                Case.street_code == q.area_code,
                Case.community_code == q.area_code,
            )
        )
    if q.created_from:
        conds.append(Case.created_at >= q.created_from)
    if q.created_to:
        conds.append(Case.created_at < q.created_to)
    if q.text:
        like = f"%{q.text}%"
        conds.append(or_(Case.description.like(like), Case.address.like(like), Case.number == q.text))
    if q.overdue_at:
        conds.append(overdue_condition(q.overdue_at))
    total = session.scalar(select(func.count()).select_from(Case).where(*conds)) or 0
    rows = session.scalars(
        select(Case)
        .where(*conds)
        .order_by(Case.created_at.desc(), Case.id.desc())
        .limit(q.limit)
        .offset(q.offset)
    )
    return int(total), list(rows)


def open_cases_for_phone(session: Session, phone: str, limit: int = 20) -> list[Case]:
    """Open cases of a caller (来电人未办结工单) for the IVR and the screen-pop."""
    return list(
        session.scalars(
            select(Case)
            .where(Case.caller_phone == phone, Case.status.in_([str(s) for s in workflow.OPEN_STATUSES]))
            .order_by(Case.created_at.desc())
            .limit(limit)
        )
    )


def sweep_overdue(session: Session, now: datetime | None = None) -> list[str]:
    """督办 sweep: flag every overdue, not yet supervised case (actor ``system``); returns numbers."""
    now = now or utcnow()
    candidates = session.scalars(
        select(Case).where(
            Case.supervised.is_(False),
            overdue_condition(now),
        )
    )
    flagged = []
    system = Actor(workflow.Role.SYSTEM)
    for case in list(candidates):
        if workflow.needs_supervision(to_state(case), now):
            _apply(
                session,
                case,
                Command("supervise", data={"auto": True}),
                system,
                now,
                _next_seq(session, case.id),
            )
            flagged.append(case.number)
    session.flush()
    return flagged
