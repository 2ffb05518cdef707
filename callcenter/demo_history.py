"""Demo history (演示历史数据): about 90 days of realistic, clearly marked cases for a first start.

``callcenter seed --demo-history`` (demo and test mode only) fills an empty history so the wallboard,
the KPIs (三率两度) and the first report have something to show. Every case it writes has
``cases.is_demo = true`` and a description starting with ``【演示数据】``; the case events carry
``{"demo": true}``. Nothing is sent to the live event streams.

The cases are *played through the real workflow* (:mod:`callcenter.domain.workflow`): each step is a
:func:`~callcenter.domain.workflow.apply` at a simulated time, with the real time limits of the matter
(working days, the holiday calendar), so statuses, deadlines and the audit trail are consistent. A step
whose time lies in the future is not played: recent cases are still open, and some of those are
overdue (逾期) and 督办. Deterministic for a given ``seed``.

What the simulation puts in (all invented, none of it is real citizens' data):

* volumes by weekday (Monday highest, weekends low) and hour (morning and afternoon peaks);
* a Zipf-like spread over ~120 matters of the catalogue, with seasonal ones (供暖 from 15 November,
  雨水 / 积水 in summer, 噪声 in the evening) boosted in their season;
* channels phone / web / wechat / app;
* three "slow" units that sign late, answer late and get more unsatisfied return visits;
* 退单 (returned) and re-dispatched cases, approved extensions, a few 特例剔除 with reasons;
* return-visit answers (回访) on most closed cases (``survey_results``);
* repeat hot spots: a few addresses where one matter comes back week after week from several callers,
  and callers who call again about the same matter (屡诉).
"""

from __future__ import annotations

import math
import random
import re
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from callcenter.config import get_settings
from callcenter.db.base import utcnow
from callcenter.db.models import (
    Area,
    Case,
    CaseEvent,
    CaseNumberCounter,
    Matter,
    ResponsibilityRule,
    SurveyResult,
)
from callcenter.domain import numbering
from callcenter.domain import workflow as wf
from callcenter.domain.workflow import Actor, CaseState, Command, EventRecord, Role, TimeLimits

DEMO_MARK = "【演示数据】"
WEEKDAY_FACTOR = (1.25, 1.1, 1.05, 1.0, 0.95, 0.6, 0.55)  # Monday … Sunday
HOUR_WEIGHTS = (
    (0, 0.3), (1, 0.2), (2, 0.1), (3, 0.1), (4, 0.1), (5, 0.2), (6, 0.6), (7, 1.5), (8, 3.5), (9, 5.5),
    (10, 6.0), (11, 5.0), (12, 3.0), (13, 3.5), (14, 5.0), (15, 5.5), (16, 5.0), (17, 4.0), (18, 3.0),
    (19, 3.0), (20, 2.8), (21, 2.2), (22, 1.4), (23, 0.7),
)  # fmt: skip
CHANNELS = (("phone", 0.72), ("web", 0.1), ("wechat", 0.1), ("app", 0.08))
RETURN_REASONS = ("非本单位职责，请改派", "诉求地址不在本辖区", "诉求内容不清，无法办理")
EXCLUSION_REASONS = (
    "诉求人提出明显不合理诉求（特例剔除）",
    "不可抗力（极端天气）导致无法按期办理",
    "重复诉求，已在原工单办理",
)
SEASONS: tuple[tuple[re.Pattern[str], Any], ...] = (
    (re.compile("供暖|暖气|采暖"), lambda d: 6.0 if (d.month, d.day) >= (11, 15) or d.month <= 3 else 0.15),
    (re.compile("积水|排水|雨水|防汛|倒伏"), lambda d: 3.0 if 6 <= d.month <= 9 else 0.5),
    (re.compile("噪声|噪音|扰民"), lambda d: 1.6 if 5 <= d.month <= 10 else 1.0),
    (re.compile("落叶|扫雪|除雪|冰"), lambda d: 2.5 if d.month in (11, 12, 1, 2) else 0.3),
)


#: how often citizens call about each matter category (市容环境, 住房与物业, 水电气热 … most)
CATEGORY_WEIGHT = {
    "06": 3.0, "11": 3.0, "13": 3.0, "14": 2.5, "15": 2.0, "22": 2.0, "01": 1.5, "03": 1.5, "09": 1.5,
    "18": 1.5, "02": 1.2, "19": 1.2, "20": 1.2, "24": 1.0, "16": 1.0, "23": 1.0, "04": 0.8, "08": 1.0,
}  # fmt: skip
HOT_SPOT_CATEGORIES = ("06", "11", "13", "14")


@dataclass
class HistoryReport:
    skipped: str = ""
    cases: int = 0
    events: int = 0
    surveys: int = 0
    open_cases: int = 0
    overdue: int = 0
    start: date | None = None
    end: date | None = None
    slow_units: list[str] = field(default_factory=list)
    hot_spots: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Route:
    matter_code: str
    matter_name: str
    category_code: str
    district_code: str
    street_code: str
    unit_code: str
    weight: float


def _routes(session: Session, rng: random.Random) -> tuple[list[_Route], dict[str, list[Area]]]:
    """(matter, street, unit) candidates from the responsibility list of the seeded districts."""
    streets = {a.code: a for a in session.scalars(select(Area).where(Area.level == "street"))}
    communities: dict[str, list[Area]] = defaultdict(list)
    for a in session.scalars(select(Area).where(Area.level == "community").order_by(Area.code)):
        if a.parent_code in streets:
            communities[a.parent_code].append(a)
    matters = {m.code: m for m in session.scalars(select(Matter).where(Matter.active.is_(True)))}
    rules: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
    active = ResponsibilityRule.active.is_(True)
    for r in session.scalars(select(ResponsibilityRule).where(active).order_by(ResponsibilityRule.id)):
        rules[(r.matter_code, r.area_code)][r.rule_kind] = r.unit_code
    codes = sorted({m for m, _ in rules} & set(matters))
    rng.shuffle(codes)
    chosen = codes[:120]
    out: list[_Route] = []
    for rank, code in enumerate(chosen, start=1):
        category = matters[code].category_code
        base = CATEGORY_WEIGHT.get(category, 0.3) / rank**0.8  # Zipf-like: a few matters make most calls
        for street in sorted(streets.values(), key=lambda a: a.code):
            district = street.parent_code or ""
            by_kind = rules.get((code, street.code)) or rules.get((code, district)) or {}
            unit = by_kind.get("override") or by_kind.get("locality") or by_kind.get("industry")
            if unit:
                out.append(_Route(code, matters[code].name, category, district, street.code, unit, base))
    return out, communities


def _pick(rng: random.Random, items: list[Any], weights: list[float]) -> Any:
    return rng.choices(items, weights=weights, k=1)[0]


class _Player:
    """Plays one case through the workflow, stopping at the first step that lies after ``now``."""

    def __init__(self, state: CaseState, now: datetime) -> None:
        self.state = state
        self.now = now
        self.events: list[EventRecord] = []
        self.t = datetime.min.replace(tzinfo=now.tzinfo)
        self.stopped = False

    def step(self, at: datetime, action: str, actor: Actor, **kw: Any) -> bool:
        if self.stopped:
            return False
        at = max(at, self.t)
        if at > self.now:
            self.stopped = True
            return False
        self.state, rec = wf.apply(self.state, Command(action, data={"demo": True}, **kw), actor, at)
        self.events.append(rec)
        self.t = at
        return True


def seed_demo_history(
    session: Session,
    *,
    days: int = 90,
    per_day: float = 60.0,
    seed: int = 18,
    now: datetime | None = None,
) -> HistoryReport:
    """Write ``days`` days of demo cases ending at ``now``; skipped when demo cases already exist."""
    from callcenter.services.cases import time_limits

    if session.scalar(select(func.count()).select_from(Case).where(Case.is_demo.is_(True))):
        return HistoryReport(skipped="demo history already present (cases with is_demo)")
    settings = get_settings()
    tz = ZoneInfo(settings.timezone)
    now = (now or utcnow()).astimezone(tz)
    rng = random.Random(seed)
    routes, communities = _routes(session, rng)
    if not routes:
        return HistoryReport(skipped="no responsibility rules: run `callcenter seed` first")
    units = sorted({r.unit_code for r in routes})
    route_count: dict[str, int] = defaultdict(int)
    for r in routes:
        route_count[r.unit_code] += 1
    busy_units = sorted(units, key=lambda u: (-route_count[u], u))[:30]
    slow = set(rng.sample(busy_units, 3))
    # hot spots (屡治屡返): one place, one matter, coming back every few days from several callers
    distinct: dict[str, _Route] = {}
    for r in sorted(routes, key=lambda r: (-r.weight, r.street_code)):
        if r.category_code in HOT_SPOT_CATEGORIES and r.district_code not in {
            h.district_code for h in distinct.values()
        }:
            distinct.setdefault(r.matter_code, r)
    hot = list(distinct.values())[:4]  # four matters, one per district
    hot_addresses = {
        (
            h.matter_code,
            h.street_code,
        ): f"{_community(communities, h.street_code, rng)}{rng.randint(1, 40)}号楼"
        for h in hot
    }
    repeat_callers = [f"139{rng.randint(10_000_000, 99_999_999)}" for _ in range(40)]
    caller_matter: dict[str, _Route] = {}
    limits_cache: dict[tuple[str, str], TimeLimits] = {}

    def limits(matter: str, priority: str) -> TimeLimits:
        key = (matter, priority)
        if key not in limits_cache:
            limits_cache[key] = time_limits(session, matter, priority)
        return limits_cache[key]

    start_day = now.date() - timedelta(days=days - 1)
    report = HistoryReport(start=start_day, end=now.date(), slow_units=sorted(slow))
    report.hot_spots = [f"{h.matter_name} @ {hot_addresses[(h.matter_code, h.street_code)]}" for h in hot]
    counters = {
        c.day: c
        for c in session.scalars(
            select(CaseNumberCounter).where(CaseNumberCounter.day >= f"{start_day:%Y%m%d}")
        )
    }
    agent = Actor(Role.AGENT)
    supervisor = Actor(Role.SUPERVISOR)
    system = Actor(Role.SYSTEM)
    hours = [h for h, _ in HOUR_WEIGHTS]
    hour_w = [w for _, w in HOUR_WEIGHTS]
    channels = [c for c, _ in CHANNELS]
    channel_w = [w for _, w in CHANNELS]
    batch: list[tuple[Case, list[EventRecord], tuple[bool | None, str | None] | None]] = []

    for offset in range(days):
        day = start_day + timedelta(days=offset)
        trend = 1.0 + 0.15 * math.sin(offset / 9.0)
        expected = per_day * WEEKDAY_FACTOR[day.weekday()] * trend
        n = max(0, round(rng.gauss(expected, math.sqrt(expected))))
        weights = [r.weight * _season(r.matter_name, day) for r in routes]
        picks: list[tuple[_Route, str | None, str]] = []
        for _ in range(n):
            picks.append((_pick(rng, routes, weights), None, ""))
        for h in hot:  # the hot spots come back
            if rng.random() < 0.35:
                picks.append((h, None, hot_addresses[(h.matter_code, h.street_code)]))
        for again in rng.sample(repeat_callers, 2):  # callers calling again about their matter
            if rng.random() < 0.5:
                picks.append((caller_matter.setdefault(again, _pick(rng, routes, weights)), again, ""))
        stamps = sorted(
            datetime.combine(day, time(_pick(rng, hours, hour_w), rng.randrange(60), rng.randrange(60)), tz)
            for _ in picks
        )
        key = f"{day:%Y%m%d}"
        counter = counters.get(key)
        if counter is None:
            counter = counters[key] = CaseNumberCounter(day=key, last=0)
            session.add(counter)
        for (route, phone, address), t0 in zip(picks, stamps, strict=True):
            if t0 > now:
                continue
            counter.last += 1
            number = numbering.format_number(key, counter.last)
            case, recs, survey = _play(rng, route, number, t0, now, limits, slow, agent, supervisor, system)
            case.caller_phone = phone or f"13{rng.randint(100_000_000, 999_999_999)}"
            case.channel = _pick(rng, channels, channel_w) if phone is None else "phone"
            case.hotline = "12345"
            comm = communities.get(route.street_code) or []
            community = rng.choice(comm) if comm else None
            case.community_code = community.code if community else None
            case.address = address or (
                f"{community.name.removesuffix('居委会')}{rng.randint(1, 60)}号" if community else ""
            )
            case.description = f"{DEMO_MARK}{_text(rng, route.matter_name, case.address)}"
            batch.append((case, recs, survey))
        if len(batch) >= 2000:
            _flush(session, batch, report, now)
            batch = []
    _flush(session, batch, report, now)
    return report


def _community(communities: dict[str, list[Area]], street: str, rng: random.Random) -> str:
    comm = communities.get(street) or []
    return rng.choice(comm).name.removesuffix("居委会") if comm else ""


def _season(name: str, day: date) -> float:
    factor = 1.0
    for pattern, fn in SEASONS:
        if pattern.search(name):
            factor *= fn(day)
    return factor


def _text(rng: random.Random, matter: str, address: str) -> str:
    openers = ("市民来电反映：", "市民反映：", "来电人称：", "市民诉求：")
    asks = ("希望相关部门尽快处理。", "请尽快派人查看。", "已经反映过，问题还没解决。", "要求给予答复。")
    where = f"在{address}，" if address else ""
    return f"{rng.choice(openers)}{where}{matter}问题，{rng.choice(asks)}"


def _play(
    rng: random.Random,
    route: _Route,
    number: str,
    t0: datetime,
    now: datetime,
    limits: Any,
    slow: set[str],
    agent: Actor,
    supervisor: Actor,
    system: Actor,
) -> tuple[Case, list[EventRecord], tuple[bool | None, str | None] | None]:
    is_slow = route.unit_code in slow
    priority = "urgent" if rng.random() < 0.04 else "normal"
    state, created = wf.create(agent, t0, number, priority)
    p = _Player(state, now)
    p.events.append(created)
    p.t = t0
    unit = Actor(Role.UNIT_HANDLER, None, route.unit_code)
    minute = timedelta(minutes=1)
    hour = timedelta(hours=1)
    kind = "request"
    if rng.random() < 0.06:  # consultation answered on the call (直接办结)
        kind = "consultation"
        p.state = replace(p.state, matter_code=route.matter_code)  # classified on the call
        p.step(t0 + rng.randint(3, 12) * minute, "resolve_on_call", agent, text="已在电话中解答政策。")
    else:
        p.step(t0 + rng.randint(2, 10) * minute, "register", agent, matter_code=route.matter_code)
        lim = limits(route.matter_code, priority)
        p.step(p.t + rng.randint(3, 25) * minute, "dispatch", agent, unit_code=route.unit_code, limits=lim)
        if rng.random() < 0.05:  # 退单 and re-dispatch
            p.step(p.t + rng.uniform(0.3, 3) * hour, "return", unit, reason=rng.choice(RETURN_REASONS))
            p.step(p.t + rng.uniform(0.5, 4) * hour, "redispatch", agent, unit_code=route.unit_code,
                   limits=lim, reason="经核实属该单位职责，重新派遣")  # fmt: skip
        accept_mean = 2.6 if is_slow else 0.45
        p.step(p.t + rng.expovariate(1 / accept_mean) * hour, "accept", unit)
        due = p.state.due_at
        if due is not None and not p.stopped:
            span = max((due - p.t).total_seconds() / 3600, 1.0)
            late = rng.random() < (0.35 if is_slow else 0.06)
            if rng.random() < 0.03 and p.step(  # 延期 requested and approved
                p.t + rng.uniform(0.2, 0.5) * span * hour,
                "request_extension",
                unit,
                hours=48.0,
                reason="需协调多部门，申请延期",
            ):
                p.step(p.t + rng.uniform(1, 6) * hour, "approve_extension", supervisor)
                due = p.state.due_at or due
                span = max((due - p.t).total_seconds() / 3600, 1.0)
            fraction = rng.uniform(1.05, 1.8) if late else rng.uniform(0.15, 0.9)
            done_at = p.t + fraction * span * hour
            if due is not None and done_at > due and due + hour <= now:
                p.step(due + hour, "supervise", system)  # 督办 by the sweep
            resolved = rng.random() < (0.78 if is_slow else 0.9)
            text = "已到现场处理完毕。" if resolved else "已到现场查看，需协调相关单位，暂未彻底解决。"
            p.step(done_at, "feedback", unit, text=text, resolved=resolved)
            p.step(p.t + rng.uniform(1, 10) * hour, "verify", agent)
            p.step(p.t + rng.uniform(0.1, 2) * hour, "close", agent)
    survey: tuple[bool | None, str | None] | None = None
    if p.state.status == wf.Status.CLOSED and not p.stopped and rng.random() < 0.85:
        bad = 0.22 if is_slow else 0.06
        r = rng.random()
        sat = "unsatisfied" if r < bad else ("basic" if r < bad + 0.14 else "satisfied")
        resolved_answer = p.state.resolved if p.state.resolved is not None else sat != "unsatisfied"
        if sat == "unsatisfied":
            resolved_answer = rng.random() < 0.3
        if p.step(p.t + rng.uniform(18, 60) * hour, "evaluate", system, satisfaction=sat,
                  resolved=resolved_answer):  # fmt: skip
            survey = (resolved_answer, sat)
    if rng.random() < 0.01 and p.state.status != wf.Status.RECEIVED:
        p.step(
            p.t + rng.uniform(1, 24) * hour, "exclude_kpi", supervisor, reason=rng.choice(EXCLUSION_REASONS)
        )
    s = p.state
    case = Case(
        number=number,
        kind=kind,
        district_code=route.district_code,
        street_code=route.street_code,
        is_demo=True,
        created_at=t0,
        updated_at=p.t,
        **{name: (list(v) if name == "co_unit_codes" else v) for name, v in _fields(s).items()},
    )
    return case, p.events, survey


def _fields(s: CaseState) -> dict[str, Any]:
    return {name: getattr(s, name) for name in CaseState.field_names() if name != "number"}


def _flush(
    session: Session,
    batch: list[tuple[Case, list[EventRecord], tuple[bool | None, str | None] | None]],
    report: HistoryReport,
    now: datetime,
) -> None:
    if not batch:
        return
    session.add_all([c for c, _, _ in batch])
    session.flush()
    rows: list[dict[str, Any]] = []
    surveys: list[dict[str, Any]] = []
    for case, recs, survey in batch:
        for seq, rec in enumerate(recs, start=1):
            rows.append(
                {
                    "case_id": case.id,
                    "seq": seq,
                    "action": rec.action,
                    "from_status": rec.from_status,
                    "to_status": rec.to_status,
                    "actor_id": None,
                    "actor_role": str(rec.actor_role),
                    "unit_code": rec.unit_code,
                    "reason": rec.reason,
                    "data": {**rec.data, "demo": True},
                    "created_at": rec.at,
                }
            )
        if survey is not None:
            surveys.append(
                {
                    "case_id": case.id,
                    "resolved": survey[0],
                    "satisfaction": survey[1],
                    "method": "dtmf",
                    "raw": {"demo": True},
                    "created_at": recs[-1].at,
                }
            )
        report.cases += 1
        if case.status in wf.OPEN_STATUSES:
            report.open_cases += 1
            state = CaseState(status=case.status, accept_due_at=case.accept_due_at, due_at=case.due_at)
            report.overdue += wf.overdue_kind(state, now) is not None
    session.execute(insert(CaseEvent), rows)
    if surveys:
        session.execute(insert(SurveyResult), surveys)
    report.events += len(rows)
    report.surveys += len(surveys)
    session.flush()
