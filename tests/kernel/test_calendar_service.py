"""The center's working calendar on the real databases: the chinese-calendar package data, a loaded
notice for a year the package does not know, and due dates of dispatched cases in working days."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from callcenter.db.models import Matter
from callcenter.db.session import session_scope
from callcenter.domain.workflow import Actor, Command, Role
from callcenter.services import calendar as cal_svc
from callcenter.services.cases import NewCase, create_case, transition
from tests.kernel.test_cli import cc

TZ = ZoneInfo("Asia/Shanghai")
AGENT = Actor(Role.AGENT, 1)


def test_package_has_the_official_2026_days() -> None:
    cal = cal_svc.package_calendar()
    assert cal.covers(2026)
    # 2026 国庆节 (国办发明电〔2025〕7号): 10月1日至7日放假, 9月20日(周日)、10月10日(周六)上班
    assert not cal.is_workday(date(2026, 10, 1)) and cal.day_name(date(2026, 10, 1)) == "国庆节"
    assert cal.is_workday(date(2026, 10, 10))
    assert cal.is_workday(date(2026, 9, 20))
    assert not cal.is_workday(date(2026, 2, 17))  # 春节


def test_loaded_notice_and_dispatch_in_working_days(seeded_url: str) -> None:
    cal_svc.forget_cache()
    notice = "date,kind,name\n2027-01-01,holiday,元旦\n2027-01-04,holiday,元旦调休\n2027-01-09,workday,元旦\n"
    with session_scope(seeded_url) as s:
        cal_svc.load_notice(s, notice, source="test notice")
    with session_scope(seeded_url) as s:
        cal = cal_svc.work_calendar(s)
        assert cal.covers(2027) and cal.covers(2026)
        assert not cal.is_workday(date(2027, 1, 4)) and cal.is_workday(date(2027, 1, 9))
        with pytest.raises(ValueError, match="line 3: bad date"):
            cal_svc.load_notice(s, "date,kind,name\n2027-05-01,holiday,劳动节\n2027-05-32,holiday,x\n", "bad")
        assert not cal_svc.work_calendar(s).holidays.get(date(2027, 5, 1))  # all or nothing
        m = s.get(Matter, "0601001")
        assert m is not None and m.limit_unit is None and m.handle_days == 5  # default unit: working days
        # dispatched Thu 31 Dec 2026 10:00: Fri 1 Jan off, Mon 4 off, Sat 9 worked
        t0 = datetime(2026, 12, 31, 10, tzinfo=TZ).astimezone(UTC)
        case = create_case(
            s, NewCase(description="楼下饭馆油烟太大", matter_code="0601001", register=True), AGENT, now=t0
        )
        transition(s, case.number, Command("dispatch", unit_code="S110101001"), AGENT, now=t0)
        # 5 Jan (1), 6 (2), 7 (3), 8 (4), Sat 9 (5) → 24:00 on 9 Jan
        assert case.due_at == datetime(2027, 1, 10, tzinfo=TZ)
        m.limit_unit = "calendar_days"
        s.flush()
        case2 = create_case(
            s, NewCase(description="饭馆油烟", matter_code="0601001", register=True), AGENT, now=t0
        )
        transition(s, case2.number, Command("dispatch", unit_code="S110101001"), AGENT, now=t0)
        assert case2.due_at == datetime(2027, 1, 5, 10, tzinfo=TZ)


def test_calendar_cli(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cal.sqlite3'}"
    assert cc("db", "upgrade", db=db).returncode == 0
    r = cc("calendar", "show", "2030", db=db)
    assert r.returncode == 0 and "no official notice for 2030" in r.stderr + r.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("date,kind,name\n2030-01-01,holiday,元旦\n2030-01-02,vacation,x\n", encoding="utf-8")
    r = cc("calendar", "load", str(bad), db=db)
    assert r.returncode == 1 and "line 3" in r.stderr + r.stdout and "nothing loaded" in r.stderr + r.stdout
    good = tmp_path / "2030.csv"
    good.write_text("date,kind,name\n2030-01-01,holiday,元旦\n2030-01-05,workday,元旦\n", encoding="utf-8")
    r = cc("calendar", "load", str(good), db=db)
    assert r.returncode == 0 and "1 days off and 1 调休 workdays" in r.stderr + r.stdout
    r = cc("calendar", "show", "2030", db=db)
    assert "2030-01-01\tholiday\t元旦" in r.stdout and "2030-01-05\tworkday\t元旦" in r.stdout
    assert "no official notice" not in r.stdout + r.stderr
