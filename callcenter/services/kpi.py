"""KPI queries (考核统计): load cases from the database and run the pure indicators of
:mod:`callcenter.domain.kpi` — rankings by unit and by street (daily / monthly), high-frequency
matters and places (高频事项 / 高频区域), trends, and the overdue list (督办清单).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from callcenter.db.models import Area, Case, CaseEvent, Matter, Unit
from callcenter.domain import kpi, sources
from callcenter.domain.workflow import Status
from callcenter.services.cases import overdue_condition

_COLUMNS = (
    Case.number,
    Case.channel,
    Case.created_at,
    Case.status,
    Case.matter_code,
    Case.unit_code,
    Case.district_code,
    Case.street_code,
    Case.community_code,
    Case.dispatched_at,
    Case.accepted_at,
    Case.accept_due_at,
    Case.due_at,
    Case.feedback_at,
    Case.closed_at,
    Case.resolved,
    Case.satisfaction,
    Case.kpi_excluded,
)


@dataclass(frozen=True)
class Window:
    """A reporting window of local days ``start`` .. ``end`` (inclusive) in the hotline's time zone."""

    start: date
    end: date
    tz: ZoneInfo

    @property
    def start_utc(self) -> datetime:
        return datetime.combine(self.start, time.min, self.tz)

    @property
    def end_utc(self) -> datetime:
        return datetime.combine(self.end + timedelta(days=1), time.min, self.tz)

    @classmethod
    def last_days(cls, days: int, now: datetime, tz_name: str) -> Window:
        if days < 1 or days > 3660:
            raise ValueError("days must be between 1 and 3660")
        tz = ZoneInfo(tz_name)
        today = now.astimezone(tz).date()
        return cls(today - timedelta(days=days - 1), today, tz)


def load_cases(session: Session, window: Window) -> list[kpi.KpiCase]:
    """Cases created or dispatched within the window (merged duplicates left out), with the answers of
    their reopened closures (``past_evaluations``, from the audit trail)."""
    lo, hi = window.start_utc, window.end_utc
    in_window = (
        Case.status != Status.MERGED,
        or_(
            (Case.created_at >= lo) & (Case.created_at < hi),
            (Case.dispatched_at >= lo) & (Case.dispatched_at < hi),
        ),
    )
    cases = [kpi.KpiCase(**row._mapping) for row in session.execute(select(*_COLUMNS).where(*in_window))]
    past = past_evaluations(session, *in_window)
    return [replace(c, past_evaluations=past[c.number]) if c.number in past else c for c in cases]


def past_evaluations(session: Session, *where: Any) -> dict[str, tuple[kpi.Evaluation, ...]]:
    """Case number → answers of closures that were reopened (重办) afterwards, oldest first.

    Read from the audit trail: a ``reopen`` event carries the answer it superseded (``superseded``) and
    the unit of that closure; for reopen events written before that was recorded, the ``evaluate`` event
    of the closure is used instead."""
    stmt = (
        select(Case.number, CaseEvent.action, CaseEvent.unit_code, CaseEvent.data)
        .join(Case, Case.id == CaseEvent.case_id)
        .where(CaseEvent.action.in_(("evaluate", "reopen")), *where)
        .order_by(CaseEvent.case_id, CaseEvent.seq)
    )
    out: dict[str, list[kpi.Evaluation]] = defaultdict(list)
    last: dict[str, kpi.Evaluation] = {}
    for number, action, unit_code, data in session.execute(stmt):
        data = data or {}
        if action == "evaluate":
            last[number] = kpi.Evaluation(data.get("satisfaction"), data.get("resolved"), unit_code)
            continue
        superseded = data.get("superseded")
        if isinstance(superseded, dict):
            out[number].append(
                kpi.Evaluation(
                    superseded.get("satisfaction"),
                    superseded.get("resolved"),
                    superseded.get("unit_code") or unit_code,
                )
            )
        elif number in last:
            out[number].append(last[number])
        last.pop(number, None)
    return {number: tuple(items) for number, items in out.items()}


def _names(session: Session) -> dict[str, dict[str, str]]:
    return {
        "unit": {c: n for c, n in session.execute(select(Unit.code, Unit.name))},
        "area": {c: n for c, n in session.execute(select(Area.code, Area.name))},
        "matter": {c: n for c, n in session.execute(select(Matter.code, Matter.name))},
    }


def report(
    session: Session,
    window: Window,
    *,
    by: kpi.GroupBy = "unit",
    period: kpi.Period = "day",
    now: datetime,
    weights: kpi.Weights = kpi.DEFAULT_WEIGHTS,
    top: int = 10,
) -> dict[str, Any]:
    """The supervisor's KPI page as JSON-ready data (names resolved)."""
    cases = load_cases(session, window)
    names = _names(session)
    label = names["unit"] if by == "unit" else names["area"]
    ranks = kpi.rankings(cases, by=by, period=period, now=now, tz=window.tz, weights=weights)
    in_window = [c for c in cases if window.start_utc <= c.created_at < window.end_utc]
    total = kpi.scorecard("all", in_window, now, weights)

    def freq(items: list[kpi.Frequency], table: dict[str, str]) -> list[dict[str, Any]]:
        return [
            {"code": f.key, "name": table.get(f.key, f.key), "count": f.count, "share": round(f.share, 4)}
            for f in items
        ]

    top_matters = kpi.high_frequency(in_window, kpi.matter_of, top)
    trend = kpi.daily_trend(
        in_window,
        window.start,
        window.end,
        window.tz,
        series_key=kpi.matter_of,
        series=[f.key for f in top_matters[:5]],
    )
    return {
        "window": {"start": window.start.isoformat(), "end": window.end.isoformat(), "tz": str(window.tz)},
        "by": by,
        "period": period,
        "weights": {
            "response": weights.response,
            "on_time": weights.on_time,
            "resolution": weights.resolution,
            "satisfaction": weights.satisfaction,
            "basic_weight": weights.basic_weight,
        },
        "overall": total.as_dict(),
        "rankings": {
            p: [{**card.as_dict(), "name": label.get(card.key, card.key)} for card in cards]
            for p, cards in ranks.items()
        },
        "by_source": by_source(in_window, now, weights),
        "high_frequency_matters": freq(top_matters, names["matter"]),
        "high_frequency_streets": freq(kpi.high_frequency(in_window, kpi.street_of, top), names["area"]),
        "high_frequency_communities": freq(
            kpi.high_frequency(in_window, kpi.community_of, top), names["area"]
        ),
        "trend": [
            {
                "day": p.day,
                "count": p.count,
                "series": {names["matter"].get(k, k): v for k, v in p.by_key.items()},
            }
            for p in trend
        ],
    }


def overdue(session: Session, now: datetime, limit: int = 200) -> list[dict[str, Any]]:
    """督办清单: open cases past the accept or handling deadline, most overdue first."""
    stmt = (
        select(Case, Unit.name)
        .outerjoin(Unit, Unit.code == Case.unit_code)
        .where(overdue_condition(now))
        .order_by(Case.due_at, Case.id)
        .limit(limit)
    )
    out = []
    for case, unit_name in session.execute(stmt):
        kc = kpi.KpiCase(
            number=case.number,
            created_at=case.created_at,
            status=case.status,
            accept_due_at=case.accept_due_at,
            due_at=case.due_at,
        )
        kind = kpi.overdue_kind(kc, now)
        if kind is None:
            continue
        deadline = case.accept_due_at if kind == "accept" else case.due_at
        assert deadline is not None
        out.append(
            {
                "number": case.number,
                "status": case.status,
                "unit_code": case.unit_code,
                "unit_name": unit_name,
                "matter_code": case.matter_code,
                "kind": kind,
                "deadline": deadline.isoformat(),
                "overdue_hours": round((now - deadline).total_seconds() / 3600, 1),
                "supervised": case.supervised,
                "description": case.description[:120],
            }
        )
    out.sort(key=lambda r: str(r["deadline"]))
    return out


def by_source(cases: list[kpi.KpiCase], now: datetime, weights: kpi.Weights) -> list[dict[str, Any]]:
    """The indicators per intake source (来源: phone, web, Open311, 市级派单, grid …), busiest first;
    ``share`` is the source's part of all cases."""
    groups: dict[str, list[kpi.KpiCase]] = defaultdict(list)
    for c in cases:
        groups[c.channel].append(c)
    total = len(cases) or 1
    rows = [
        {
            **kpi.scorecard(source, items, now, weights).as_dict(),
            "source": source,
            "name": sources.label(source),
            "share": round(len(items) / total, 4),
        }
        for source, items in groups.items()
    ]
    return sorted(rows, key=lambda r: (-int(str(r["total"])), str(r["source"])))
