"""``seed --demo-history``: demo cases played through the real workflow, marked 演示数据, on SQLite and
PostgreSQL; the KPIs have content afterwards and live case numbers do not collide."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from callcenter.db.models import Case, CaseEvent, SurveyResult
from callcenter.db.session import session_scope
from callcenter.demo_history import DEMO_MARK, seed_demo_history
from callcenter.domain.workflow import Actor, Role
from callcenter.services import kpi as kpi_svc
from callcenter.services.cases import NewCase, create_case

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def test_demo_history_is_marked_consistent_and_useful(seeded_url: str) -> None:
    with session_scope(seeded_url) as s:
        rep = seed_demo_history(s, days=42, per_day=20, seed=7, now=NOW)
    assert not rep.skipped and rep.cases > 500 and rep.open_cases > 0
    with session_scope(seeded_url) as s:
        cases = s.scalars(select(Case)).all()
        assert len(cases) == rep.cases
        assert all(c.is_demo and c.description.startswith(DEMO_MARK) for c in cases)
        last: dict[int, tuple[int, str]] = {}
        for case_id, seq, to_status in s.execute(
            select(CaseEvent.case_id, CaseEvent.seq, CaseEvent.to_status)
        ):
            if seq > last.get(case_id, (0, ""))[0]:
                last[case_id] = (seq, to_status)
        assert all(last[c.id][1] == c.status for c in cases)  # the audit trail ends where the case is
        statuses = Counter(c.status for c in cases)
        assert statuses["evaluated"] > rep.cases // 2 and statuses["accepted"] > 0
        assert s.scalar(select(func.count()).select_from(SurveyResult)) == statuses["evaluated"]
        assert any(c.return_count for c in cases) and any(c.supervised for c in cases)
        assert any(c.kpi_excluded and c.kpi_exclusion_reason for c in cases)
        # weekday rhythm: Mondays busier than Sundays
        by_weekday = Counter(c.created_at.astimezone(TZ).weekday() for c in cases)
        assert by_weekday[0] > by_weekday[6] * 1.5
        # normal-priority matters in working days end at local midnight (24:00 of the last working day)
        normal = [c for c in cases if c.due_at and c.priority == "normal" and c.matter_code == "0601001"]
        assert normal and all(c.due_at and c.due_at.astimezone(TZ).time() == time(0, 0) for c in normal)
        # the same seed gives the same history: hot spots repeat at one address
        addresses = Counter((c.matter_code, c.address) for c in cases)
        assert addresses.most_common(1)[0][1] >= 8
        # the KPIs (三率两度) have content
        window = kpi_svc.Window.last_days(30, NOW, "Asia/Shanghai")
        data = kpi_svc.report(s, window, now=NOW)
        assert data["rankings"] and data["overall"]["satisfaction"]["denominator"] > 50
        # a live case on the last day takes the next free number
        taken = {c.number for c in cases}
        live = create_case(s, NewCase(description="新来电"), Actor(Role.AGENT, 1), now=NOW)
        assert live.number not in taken and not live.is_demo
    with session_scope(seeded_url) as s:
        again = seed_demo_history(s, days=42, per_day=20, seed=7, now=NOW)
    assert again.skipped and again.cases == 0
