"""Working-day deadlines (工作日) with official holidays and 调休 make-up workdays: pure domain tests.

The calendar below is the State Council's 2025 notice (国办发明电〔2024〕12号) for 春节 and 国庆/中秋:
春节 1月28日–2月4日放假, 1月26日(周日)、2月8日(周六)上班; 国庆 10月1日–8日放假, 9月28日(周日)、
10月11日(周六)上班.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcenter.domain import workflow as wf
from callcenter.domain.calendar import WorkCalendar, parse_notice_rows
from callcenter.domain.workflow import Actor, Command, Role

TZ = ZoneInfo("Asia/Shanghai")


def _days(start: str, end: str) -> list[date]:
    a, b = date.fromisoformat(start), date.fromisoformat(end)
    return [a + timedelta(days=i) for i in range((b - a).days + 1)]


CAL_2025 = WorkCalendar(
    holidays={
        **dict.fromkeys(_days("2025-01-28", "2025-02-04"), "春节"),
        **dict.fromkeys(_days("2025-10-01", "2025-10-08"), "国庆节"),
    },
    workdays={
        date(2025, 1, 26): "春节",
        date(2025, 2, 8): "春节",
        date(2025, 9, 28): "国庆节",
        date(2025, 10, 11): "国庆节",
    },
    years=frozenset({2025}),
)


def local(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=TZ)


def test_is_workday_follows_the_notice() -> None:
    assert not CAL_2025.is_workday(date(2025, 10, 1))  # Wednesday, holiday
    assert CAL_2025.is_workday(date(2025, 10, 11))  # Saturday, 调休上班
    assert CAL_2025.is_workday(date(2025, 9, 28))  # Sunday, 调休上班
    assert not CAL_2025.is_workday(date(2025, 10, 12))  # ordinary Sunday
    assert CAL_2025.is_workday(date(2025, 10, 9))  # ordinary Thursday
    assert CAL_2025.day_name(date(2025, 2, 1)) == "春节"


def test_five_working_days_across_national_day() -> None:
    # dispatched Tue 30 Sep: 9 Oct (1), 10 Oct (2), Sat 11 Oct 调休 (3), 13 Oct (4), 14 Oct (5)
    due = CAL_2025.add_working_days(local("2025-09-30T10:00"), 5, TZ)
    assert due == local("2025-10-15T00:00")
    # in calendar days the same limit would end on 5 Oct, in the middle of the holiday
    assert local("2025-09-30T10:00") + timedelta(days=5) < due


def test_makeup_sunday_counts() -> None:
    # Fri 26 Sep + 1 working day: Sat 27 off, Sun 28 worked → ends 24:00 on Sun 28
    assert CAL_2025.add_working_days(local("2025-09-26T15:00"), 1, TZ) == local("2025-09-29T00:00")


def test_spring_festival_and_weekend_start() -> None:
    # dispatched Sat 1 Mar (not a working day): Mon 3 (1), Tue 4 (2) → 24:00 Tue
    assert CAL_2025.add_working_days(local("2025-03-01T11:00"), 2, TZ) == local("2025-03-05T00:00")
    # dispatched Mon 27 Jan: 28 Jan – 4 Feb off, Wed 5 Feb is the first working day
    assert CAL_2025.add_working_days(local("2025-01-27T09:00"), 1, TZ) == local("2025-02-06T00:00")
    # Sun 26 Jan is worked; dispatched Sat 25 Jan → Sun 26 (1), Mon 27 (2)
    assert CAL_2025.add_working_days(local("2025-01-25T09:00"), 2, TZ) == local("2025-01-28T00:00")


def test_fractional_working_days() -> None:
    # Mon 3 Mar + 1.5: Tue 4 whole, then 12 h into Wed 5
    assert CAL_2025.add_working_days(local("2025-03-03T16:00"), 1.5, TZ) == local("2025-03-05T12:00")


def test_day_of_dispatch_never_counts_even_late_utc() -> None:
    # 23:30 local on Tue 4 Mar is 15:30 UTC: still Tuesday locally, so Wed 5 is day 1
    start = local("2025-03-04T23:30").astimezone(UTC)
    assert CAL_2025.add_working_days(start, 1, TZ) == local("2025-03-06T00:00")


def test_working_days_between() -> None:
    assert CAL_2025.working_days_between(date(2025, 9, 30), date(2025, 10, 14)) == 5


@given(st.integers(min_value=1, max_value=30), st.integers(min_value=0, max_value=364))
def test_deadline_ends_at_midnight_after_exactly_n_working_days(n: int, offset: int) -> None:
    start = local("2025-01-01T10:00") + timedelta(days=offset)
    due = CAL_2025.add_working_days(start, n, TZ)
    assert due.astimezone(TZ).time().hour == 0
    last = (due.astimezone(TZ) - timedelta(days=1)).date()
    assert CAL_2025.is_workday(last)
    assert CAL_2025.working_days_between(start.astimezone(TZ).date(), last) == n
    assert due >= start + timedelta(days=n)  # never earlier than the calendar-day count


def test_notice_rows_are_checked_with_line_numbers() -> None:
    cal = parse_notice_rows(
        [{"date": "2027-01-01", "kind": "holiday", "name": "元旦"}, {"date": "2027-02-20", "kind": "workday"}]
    )
    assert cal.covers(2027) and not cal.covers(2028)
    assert not cal.is_workday(date(2027, 1, 1)) and cal.is_workday(date(2027, 2, 20))
    with pytest.raises(ValueError, match="line 3: bad date"):
        parse_notice_rows(
            [{"date": "2027-01-01", "kind": "holiday"}, {"date": "2027-13-01", "kind": "holiday"}]
        )
    with pytest.raises(ValueError, match="line 2: kind must be"):
        parse_notice_rows([{"date": "2027-01-01", "kind": "off"}])
    with pytest.raises(ValueError, match="line 3: 2027-01-01 appears twice"):
        parse_notice_rows(
            [{"date": "2027-01-01", "kind": "holiday"}, {"date": "2027-01-01", "kind": "workday"}]
        )


def test_merged_notice_overrides_package_days() -> None:
    override = WorkCalendar(workdays={date(2025, 10, 8): "改为上班"}, years=frozenset({2025}))
    cal = CAL_2025.merged(override)
    assert cal.is_workday(date(2025, 10, 8)) and not cal.is_workday(date(2025, 10, 7))


def test_resolve_time_limits_in_working_days() -> None:
    lim = wf.resolve_time_limits(2, 5, unit="working_days", calendar=CAL_2025, tz=TZ)
    assert lim.working_days == 5 and lim.handle_hours == 120
    assert lim.handle_due(local("2025-09-30T10:00")) == local("2025-10-15T00:00")
    # calendar days keep the clock arithmetic
    cal_days = wf.resolve_time_limits(2, 5, unit="calendar_days", calendar=CAL_2025, tz=TZ)
    assert cal_days.handle_due(local("2025-09-30T10:00")) == local("2025-10-05T10:00")
    # the urgent policy's maximum (72 h) still caps a working-day deadline
    urgent = wf.resolve_time_limits(
        2, 10, handle_factor=0.5, max_handle_hours=72, unit="working_days", calendar=CAL_2025, tz=TZ
    )
    assert urgent.handle_due(local("2025-09-30T10:00")) == local("2025-10-03T10:00")
    # a limit the factor brings under one day counts in hours (an emergency does not wait for Monday)
    emergency = wf.resolve_time_limits(2, 5, handle_factor=0.1, unit="working_days", calendar=CAL_2025, tz=TZ)
    assert emergency.working_days is None and emergency.handle_hours == pytest.approx(12)
    with pytest.raises(Exception, match="unknown time-limit unit"):
        wf.resolve_time_limits(2, 5, unit="fortnights")


def test_dispatch_sets_the_working_day_due_date() -> None:
    agent = Actor(Role.AGENT, 1)
    t0 = local("2025-09-30T10:00").astimezone(UTC)
    state, _ = wf.create(agent, t0, "2025093000001")
    state, _ = wf.apply(state, Command("register", matter_code="0601001"), agent, t0)
    limits = wf.resolve_time_limits(2, 5, unit="working_days", calendar=CAL_2025, tz=TZ)
    state, ev = wf.apply(
        state, Command("dispatch", unit_code="S1", unit_kind="street_office", limits=limits), agent, t0
    )
    assert state.due_at == local("2025-10-15T00:00")
    assert ev.data["handle_working_days"] == 5
    state, _ = wf.apply(state, Command("accept"), Actor(Role.UNIT_HANDLER, 3, "S1"), t0 + timedelta(hours=1))
    assert wf.overdue_kind(state, local("2025-10-14T23:00")) is None  # 14 days later, still in time
    assert wf.overdue_kind(state, local("2025-10-15T00:01")) == "handle"
