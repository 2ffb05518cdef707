"""The closed-loop case workflow (闭环工单流程) as a pure state machine — no I/O.

受理 received → 立案 registered (or 直接办结 resolved on the call) → 派遣 dispatched (小循环 within a
street / 大循环 at district level) → 签收 accepted (处置 in progress) or 退单 returned with a reason →
仲裁 arbitration → re-dispatch → 反馈 feedback → 核实 verified (or sent back) → 结案 closed →
评价 evaluated by the return visit.

Side actions that keep the status: 延期 extension request / approval / rejection, 督办 supervision,
特例剔除 KPI exclusion, 备注 notes, reclassification before dispatch. 吹哨报到 joint handling is a
dispatch with a lead unit and co-units. 并案 merges a duplicate into another case.

:func:`apply` takes a :class:`CaseState`, a :class:`Command` and an :class:`Actor`, checks the role
and the preconditions, and returns the new state plus exactly one :class:`EventRecord`. It raises
:class:`TransitionError` (→ HTTP 409) or :class:`CommandError` (→ HTTP 422) otherwise.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from callcenter.domain.calendar import LimitUnit, WorkCalendar
from callcenter.exceptions import CommandError


class Status(StrEnum):
    RECEIVED = "received"  # 受理
    REGISTERED = "registered"  # 立案
    DISPATCHED = "dispatched"  # 已派遣, 待签收
    ACCEPTED = "accepted"  # 已签收, 处置中
    RETURNED = "returned"  # 退单, 待中心审核
    ARBITRATION = "arbitration"  # 仲裁中
    FEEDBACK = "feedback"  # 已反馈, 待核实
    VERIFIED = "verified"  # 已核实
    CLOSED = "closed"  # 结案
    EVALUATED = "evaluated"  # 已评价
    MERGED = "merged"  # 已并案


STATUS_LABELS: dict[str, str] = {
    Status.RECEIVED: "已受理",
    Status.REGISTERED: "已立案",
    Status.DISPATCHED: "已派遣，待签收",
    Status.ACCEPTED: "处置中",
    Status.RETURNED: "已退单，待审核",
    Status.ARBITRATION: "仲裁中",
    Status.FEEDBACK: "已反馈，待核实",
    Status.VERIFIED: "已核实",
    Status.CLOSED: "已办结",
    Status.EVALUATED: "已办结并评价",
    Status.MERGED: "已并案",
}

#: Statuses where the case is still with the center or a unit (未办结).
OPEN_STATUSES = frozenset(
    {
        Status.RECEIVED,
        Status.REGISTERED,
        Status.DISPATCHED,
        Status.ACCEPTED,
        Status.RETURNED,
        Status.ARBITRATION,
        Status.FEEDBACK,
        Status.VERIFIED,
    }
)
#: Statuses where a unit holds the case and the handling clock runs.
WITH_UNIT = frozenset({Status.DISPATCHED, Status.ACCEPTED, Status.FEEDBACK})


class Role(StrEnum):
    AGENT = "agent"  # 话务员 / 坐席
    SUPERVISOR = "supervisor"  # 班长 / 值班长
    UNIT_HANDLER = "unit_handler"  # 承办单位人员
    ADMIN = "admin"
    GRID_WORKER = "grid_worker"  # 网格员 / 网格长 (grid plugin): reports, 自处置, 任务核查
    SYSTEM = "system"  # 自动派单, 超期督办, 回访


class Priority(StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"
    EMERGENCY = "emergency"


class Satisfaction(StrEnum):
    SATISFIED = "satisfied"  # 满意
    BASIC = "basic"  # 基本满意
    UNSATISFIED = "unsatisfied"  # 不满意


SATISFACTION_LABELS = {"satisfied": "满意", "basic": "基本满意", "unsatisfied": "不满意"}


class TransitionError(Exception):
    """The action is not allowed now (wrong status, role or precondition) — HTTP 409/403."""

    def __init__(self, message: str, *, forbidden: bool = False) -> None:
        super().__init__(message)
        self.forbidden = forbidden


@dataclass(frozen=True)
class Actor:
    role: Role
    user_id: int | None = None
    unit_code: str | None = None  # for unit handlers: their unit


@dataclass(frozen=True)
class TimeLimits:
    """Time limits for one case (时限), resolved from the matter and the priority policy.

    ``handle_hours`` is the limit in clock hours (calendar days × 24). When the matter counts in
    working days (工作日), ``working_days`` is set with the ``calendar`` and ``tz`` to count them in; the
    deadline is then the working-day one, capped by ``handle_hours`` when the priority policy set a
    maximum (``max_handle_hours``) — see :meth:`handle_due`.
    """

    accept_hours: float = 2.0
    handle_hours: float = 7 * 24.0
    working_days: float | None = None
    calendar: WorkCalendar | None = field(default=None, compare=False)
    tz: ZoneInfo | None = field(default=None, compare=False)
    capped: bool = False  # handle_hours is a policy maximum that also caps a working-day deadline

    def handle_due(self, start: datetime) -> datetime:
        """The handling deadline (办理时限) for a case dispatched at ``start``."""
        by_hours = start + timedelta(hours=self.handle_hours)
        if self.working_days is None or self.calendar is None or self.tz is None:
            return by_hours
        due = self.calendar.add_working_days(start, self.working_days, self.tz)
        return min(due, by_hours) if self.capped else due


def resolve_time_limits(
    accept_hours: float,
    handle_days: float,
    *,
    policy_accept_hours: float | None = None,
    handle_factor: float = 1.0,
    max_handle_hours: float | None = None,
    unit: str = LimitUnit.CALENDAR_DAYS,
    calendar: WorkCalendar | None = None,
    tz: ZoneInfo | None = None,
) -> TimeLimits:
    """Combine a matter's limits with a priority policy (both configuration data).

    ``unit`` is how the matter's ``handle_days`` count (:class:`LimitUnit`). A limit in working days
    that the priority factor brings under one day is counted in clock hours (an urgent matter is not
    left waiting over a weekend).
    """
    if unit not in tuple(LimitUnit):
        raise CommandError(f"unknown time-limit unit {unit!r}")
    days = handle_days * handle_factor
    handle = days * 24.0
    capped = max_handle_hours is not None and max_handle_hours < handle
    if max_handle_hours is not None:
        handle = min(handle, max_handle_hours)
    accept = accept_hours if policy_accept_hours is None else min(accept_hours, policy_accept_hours)
    if unit == LimitUnit.WORKING_DAYS and days >= 1 and calendar is not None and tz is not None:
        return TimeLimits(accept, handle, working_days=days, calendar=calendar, tz=tz, capped=capped)
    return TimeLimits(accept_hours=accept, handle_hours=handle)


@dataclass(frozen=True)
class CaseState:
    """The workflow-relevant fields of a case (same names as the ``cases`` table columns)."""

    status: str
    number: str = ""
    priority: str = Priority.NORMAL
    matter_code: str | None = None
    unit_code: str | None = None
    co_unit_codes: tuple[str, ...] = ()
    loop: str | None = None
    dispatched_at: datetime | None = None
    accepted_at: datetime | None = None
    feedback_at: datetime | None = None
    closed_at: datetime | None = None
    accept_due_at: datetime | None = None
    due_at: datetime | None = None
    extension_hours_requested: float | None = None
    extension_reason: str | None = None
    supervised: bool = False
    kpi_excluded: bool = False
    kpi_exclusion_reason: str | None = None
    merged_into: str | None = None
    return_count: int = 0
    feedback_text: str | None = None
    resolved: bool | None = None
    satisfaction: str | None = None

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))


@dataclass(frozen=True)
class Command:
    """An action on a case with its arguments."""

    action: str
    reason: str | None = None
    unit_code: str | None = None
    co_unit_codes: tuple[str, ...] = ()
    unit_kind: str | None = None  # kind of the target unit (decides 小循环 / 大循环)
    hours: float | None = None
    text: str | None = None
    into: str | None = None
    satisfaction: str | None = None
    resolved: bool | None = None
    matter_code: str | None = None
    limits: TimeLimits | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EventRecord:
    """One audit-trail row (工单流转记录) for one applied command."""

    action: str
    from_status: str | None
    to_status: str
    actor_role: str
    actor_id: int | None
    unit_code: str | None
    reason: str | None
    data: dict[str, Any]
    at: datetime


CENTER = frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN})
CENTER_AND_SYSTEM = CENTER | {Role.SYSTEM}
SUPERVISORS = frozenset({Role.SUPERVISOR, Role.ADMIN})
SUPERVISORS_AND_SYSTEM = SUPERVISORS | {Role.SYSTEM}
UNIT = frozenset({Role.UNIT_HANDLER, Role.SUPERVISOR, Role.ADMIN})
EVERYONE = frozenset(Role)


@dataclass(frozen=True)
class ActionSpec:
    """Which statuses an action starts from, who may do it, and the status it leads to (None = same)."""

    label: str
    sources: frozenset[str]
    roles: frozenset[Role]
    target: str | None
    unit_scoped: bool = False  # a unit handler may only act on its own unit's cases


def _s(*statuses: Status) -> frozenset[str]:
    return frozenset(str(s) for s in statuses)


ACTIONS: dict[str, ActionSpec] = {
    "register": ActionSpec("立案", _s(Status.RECEIVED), CENTER_AND_SYSTEM, Status.REGISTERED),
    "resolve_on_call": ActionSpec("直接办结", _s(Status.RECEIVED), CENTER, Status.CLOSED),
    #: 自处置: a grid worker solved a small matter on the spot (with an "after" photo) and closes it.
    "resolve_on_spot": ActionSpec(
        "自处置", _s(Status.RECEIVED), frozenset({Role.GRID_WORKER}), Status.CLOSED
    ),
    "reclassify": ActionSpec("修改分类", _s(Status.RECEIVED, Status.REGISTERED), CENTER, None),
    "dispatch": ActionSpec("派遣", _s(Status.REGISTERED), CENTER_AND_SYSTEM, Status.DISPATCHED),
    "accept": ActionSpec("签收", _s(Status.DISPATCHED), UNIT, Status.ACCEPTED, unit_scoped=True),
    "return": ActionSpec(
        "退单", _s(Status.DISPATCHED, Status.ACCEPTED), UNIT, Status.RETURNED, unit_scoped=True
    ),
    "redispatch": ActionSpec("重新派遣", _s(Status.RETURNED), CENTER, Status.DISPATCHED),
    "arbitrate": ActionSpec("提请仲裁", _s(Status.RETURNED), SUPERVISORS, Status.ARBITRATION),
    "decide_arbitration": ActionSpec("仲裁裁定", _s(Status.ARBITRATION), SUPERVISORS, Status.DISPATCHED),
    "request_extension": ActionSpec("申请延期", _s(Status.ACCEPTED), UNIT, None, unit_scoped=True),
    "approve_extension": ActionSpec("批准延期", _s(Status.ACCEPTED), SUPERVISORS, None),
    "reject_extension": ActionSpec("驳回延期", _s(Status.ACCEPTED), SUPERVISORS, None),
    "feedback": ActionSpec("反馈", _s(Status.ACCEPTED), UNIT, Status.FEEDBACK, unit_scoped=True),
    "verify": ActionSpec("核实通过", _s(Status.FEEDBACK), CENTER, Status.VERIFIED),
    "send_back": ActionSpec("核实退回", _s(Status.FEEDBACK), CENTER, Status.ACCEPTED),
    "close": ActionSpec("结案", _s(Status.VERIFIED), CENTER_AND_SYSTEM, Status.CLOSED),
    "evaluate": ActionSpec("评价", _s(Status.CLOSED), CENTER_AND_SYSTEM, Status.EVALUATED),
    "reopen": ActionSpec(
        "重办", _s(Status.CLOSED, Status.EVALUATED), SUPERVISORS_AND_SYSTEM, Status.REGISTERED
    ),
    "supervise": ActionSpec(
        "督办",
        _s(Status.REGISTERED, Status.DISPATCHED, Status.ACCEPTED, Status.RETURNED, Status.ARBITRATION),
        SUPERVISORS_AND_SYSTEM,
        None,
    ),
    "merge": ActionSpec("并案", _s(Status.RECEIVED, Status.REGISTERED), CENTER, Status.MERGED),
    "exclude_kpi": ActionSpec("特例剔除", frozenset(str(s) for s in Status), SUPERVISORS, None),
    "note": ActionSpec("备注", frozenset(str(s) for s in Status), EVERYONE, None),
}

ACTION_LABELS = {name: spec.label for name, spec in ACTIONS.items()} | {"create": "受理"}


def allowed_actions(state: CaseState, actor: Actor) -> list[str]:
    """Actions ``actor`` may try on ``state`` now (status and role only; arguments not checked)."""
    out = []
    for name, spec in ACTIONS.items():
        if state.status not in spec.sources or actor.role not in spec.roles:
            continue
        if spec.unit_scoped and actor.role == Role.UNIT_HANDLER and actor.unit_code != state.unit_code:
            continue
        out.append(name)
    return out


def _need(value: str | None, what: str) -> str:
    if value is None or not value.strip():
        raise CommandError(f"{what} is required")
    return value.strip()


def loop_for(unit_kind: str | None) -> str:
    """小循环 (small) for a street office or community; 大循环 (large) for district-level units."""
    return "small" if unit_kind in ("street_office", "community") else "large"


def _dispatch_fields(cmd: Command, now: datetime) -> dict[str, Any]:
    unit = _need(cmd.unit_code, "unit_code")
    if unit in cmd.co_unit_codes:
        raise CommandError("the lead unit cannot also be a co-unit")
    if cmd.limits is None:
        raise CommandError("time limits are required to dispatch")
    return {
        "unit_code": unit,
        "co_unit_codes": tuple(dict.fromkeys(cmd.co_unit_codes)),
        "loop": loop_for(cmd.unit_kind),
        "dispatched_at": now,
        "accepted_at": None,
        "accept_due_at": now + timedelta(hours=cmd.limits.accept_hours),
        "due_at": cmd.limits.handle_due(now),
        "extension_hours_requested": None,
        "extension_reason": None,
    }


def create(
    actor: Actor, now: datetime, number: str, priority: str = Priority.NORMAL
) -> tuple[CaseState, EventRecord]:
    """受理: a new case in ``received``."""
    if actor.role not in CENTER_AND_SYSTEM:
        raise TransitionError(f"role {actor.role} may not create cases", forbidden=True)
    if priority not in set(Priority):
        raise CommandError(f"unknown priority {priority!r}")
    state = CaseState(status=Status.RECEIVED, number=number, priority=priority)
    event = EventRecord("create", None, Status.RECEIVED, actor.role, actor.user_id, None, None, {}, now)
    return state, event


def apply(state: CaseState, cmd: Command, actor: Actor, now: datetime) -> tuple[CaseState, EventRecord]:
    """Apply ``cmd`` by ``actor`` at ``now``; the new state and its one event, or an error."""
    spec = ACTIONS.get(cmd.action)
    if spec is None:
        raise CommandError(f"unknown action {cmd.action!r}")
    if actor.role not in spec.roles:
        raise TransitionError(f"role {actor.role} may not {cmd.action} ({spec.label})", forbidden=True)
    if state.status not in spec.sources:
        raise TransitionError(
            f"cannot {cmd.action} ({spec.label}) a case in status {state.status} "
            f"({STATUS_LABELS.get(state.status, state.status)})"
        )
    if spec.unit_scoped and actor.role == Role.UNIT_HANDLER and actor.unit_code != state.unit_code:
        raise TransitionError("the case is not assigned to your unit", forbidden=True)

    changes: dict[str, Any] = {}
    data: dict[str, Any] = {}
    reason = cmd.reason.strip() if cmd.reason else None
    unit_for_event = state.unit_code
    a = cmd.action

    if a == "register":
        if not (cmd.matter_code or state.matter_code):
            raise CommandError("a matter must be chosen before registering (立案)")
        if cmd.matter_code:
            changes["matter_code"] = cmd.matter_code
    elif a == "resolve_on_call":
        changes.update(feedback_text=_need(cmd.text or reason, "answer text"), resolved=True, closed_at=now)
    elif a == "resolve_on_spot":
        changes.update(feedback_text=_need(cmd.text or reason, "what was done"), resolved=True, closed_at=now)
    elif a == "reclassify":
        if not cmd.matter_code:
            raise CommandError("matter_code is required")
        changes["matter_code"] = cmd.matter_code
        data["from_matter"] = state.matter_code
    elif a in ("dispatch", "redispatch", "decide_arbitration"):
        if a != "dispatch":
            reason = _need(reason, "reason")
        changes.update(_dispatch_fields(cmd, now))
        unit_for_event = changes["unit_code"]
        data.update(loop=changes["loop"], co_units=list(changes["co_unit_codes"]))
        if cmd.limits:
            data.update(accept_hours=cmd.limits.accept_hours, handle_hours=cmd.limits.handle_hours)
            if cmd.limits.working_days is not None:
                data["handle_working_days"] = cmd.limits.working_days
    elif a == "accept":
        changes["accepted_at"] = now
    elif a == "return":
        reason = _need(reason, "reason (退单理由)")
        changes.update(return_count=state.return_count + 1, extension_hours_requested=None)
    elif a == "arbitrate":
        reason = _need(reason, "reason")
    elif a == "request_extension":
        if state.extension_hours_requested:
            raise TransitionError("an extension request is already pending")
        if cmd.hours is None or not (0 < cmd.hours <= 24 * 90):
            raise CommandError("hours must be between 0 and 2160")
        reason = _need(reason, "reason (延期理由)")
        changes.update(extension_hours_requested=cmd.hours, extension_reason=reason)
        data["hours"] = cmd.hours
    elif a in ("approve_extension", "reject_extension"):
        if not state.extension_hours_requested:
            raise TransitionError("no extension request is pending")
        if a == "approve_extension":
            hours = state.extension_hours_requested
            base = state.due_at or now
            changes["due_at"] = base + timedelta(hours=hours)
            data.update(hours=hours, new_due_at=changes["due_at"].isoformat())
        else:
            reason = _need(reason, "reason")
        changes.update(extension_hours_requested=None, extension_reason=None)
    elif a == "feedback":
        changes.update(feedback_text=_need(cmd.text, "feedback text"), feedback_at=now)
        if cmd.resolved is not None:
            changes["resolved"] = cmd.resolved
    elif a == "verify":
        pass
    elif a == "send_back":
        reason = _need(reason, "reason")
        changes["feedback_at"] = None
    elif a == "close":
        changes["closed_at"] = now
    elif a == "evaluate":
        if cmd.satisfaction not in set(Satisfaction):
            raise CommandError("satisfaction must be satisfied, basic or unsatisfied")
        changes["satisfaction"] = cmd.satisfaction
        if cmd.resolved is not None:
            changes["resolved"] = cmd.resolved
        data.update(satisfaction=cmd.satisfaction, resolved=cmd.resolved)
    elif a == "reopen":
        reason = _need(reason, "reason")
        if state.status == Status.EVALUATED:
            # the closure's return-visit answer (回访评价) stays in the KPIs — 满意率 / 解决率 count every
            # evaluated closure: the audit trail keeps it with the unit that handled that closure
            data["superseded"] = {
                "satisfaction": state.satisfaction,
                "resolved": state.resolved,
                "unit_code": state.unit_code,
            }
        changes.update(
            closed_at=None,
            satisfaction=None,
            resolved=None,
            feedback_text=None,
            feedback_at=None,
            unit_code=None,
            co_unit_codes=(),
            accept_due_at=None,
            due_at=None,
            supervised=False,
        )
    elif a == "supervise":
        changes["supervised"] = True
        data["overdue"] = overdue_kind(state, now)
    elif a == "merge":
        into = _need(cmd.into, "the case number to merge into")
        if into == state.number:
            raise CommandError("a case cannot be merged into itself")
        changes["merged_into"] = into
        data["into"] = into
    elif a == "exclude_kpi":
        if state.kpi_excluded:
            raise TransitionError("the case is already excluded from the KPIs")
        reason = _need(reason, "reason (剔除理由)")
        changes.update(kpi_excluded=True, kpi_exclusion_reason=reason)
    elif a == "note":
        reason = _need(cmd.text or reason, "note text")

    target = spec.target or state.status
    changes["status"] = str(target)
    new_state = replace(state, **changes)
    data.update(cmd.data)
    event = EventRecord(
        action=a,
        from_status=state.status,
        to_status=str(target),
        actor_role=actor.role,
        actor_id=actor.user_id,
        unit_code=unit_for_event,
        reason=reason,
        data=data,
        at=now,
    )
    check_invariants(new_state)
    return new_state, event


def overdue_kind(state: CaseState, now: datetime) -> str | None:
    """``accept`` when 签收 is late, ``handle`` when the handling deadline passed, else None."""
    if state.status == Status.DISPATCHED and state.accept_due_at and now > state.accept_due_at:
        return "accept"
    if state.status in WITH_UNIT and state.due_at and now > state.due_at:
        if state.status == Status.FEEDBACK:
            return None  # the unit has answered; the center holds it now
        return "handle"
    return None


def needs_supervision(state: CaseState, now: datetime) -> bool:
    """督办 sweep rule: overdue and not yet supervised."""
    return not state.supervised and overdue_kind(state, now) is not None


def check_invariants(s: CaseState) -> None:
    """Impossible states raise ``AssertionError``; used after every transition and by the tests."""
    st = s.status
    assert st in set(Status), f"unknown status {st}"
    if st in (Status.DISPATCHED, Status.ACCEPTED, Status.FEEDBACK, Status.VERIFIED, Status.RETURNED):
        assert s.unit_code, f"{st} without a unit"
        assert s.dispatched_at and s.due_at and s.accept_due_at, f"{st} without dispatch deadlines"
    if st in (Status.ACCEPTED, Status.FEEDBACK, Status.VERIFIED):
        assert s.accepted_at, f"{st} without accepted_at"
    if st in (Status.FEEDBACK, Status.VERIFIED):
        assert s.feedback_text and s.feedback_at, f"{st} without feedback"
    if st in (Status.CLOSED, Status.EVALUATED):
        assert s.closed_at, f"{st} without closed_at"
    if st == Status.EVALUATED:
        assert s.satisfaction in set(Satisfaction)
    if st == Status.MERGED:
        assert s.merged_into and s.merged_into != s.number
    if st in (Status.RECEIVED, Status.REGISTERED):
        assert s.unit_code is None, f"{st} with a unit"
    if s.extension_hours_requested is not None:
        assert st == Status.ACCEPTED, "extension pending outside 处置"
    assert s.unit_code not in s.co_unit_codes or s.unit_code is None
    assert s.return_count >= 0
    if s.kpi_excluded:
        assert s.kpi_exclusion_reason
