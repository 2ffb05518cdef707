"""Working-day arithmetic (工作日) with the official holiday and make-up workday (调休) calendar — no I/O.

12345 centers count a matter's handling limit in clock hours, calendar days (自然日) or working days
(工作日). A working day is a Monday–Friday that is not an official holiday (法定节假日, including the
days given off around it), plus the weekend days the State Council's annual notice declares worked
(调休上班). The notice for next year comes out each November/December; the calendar is data:
:class:`WorkCalendar` is built by the service layer from a kept package (``chinese-calendar``) and
any rows an operator loaded from the new notice (``callcenter calendar load``), so a new year never
needs a code change.

Counting rule (期间开始之日不计算在内, as in the Civil Code art. 201 and the 12345 rules): the day a case
is dispatched does not count; a limit of *N* working days ends at 24:00 (local time) of the *N*-th
working day after the dispatch day. A fractional remainder (e.g. 2.5 days) adds that share of 24 hours
into the next working day. A year the calendar does not cover falls back to plain weekends, and
:meth:`WorkCalendar.covers` tells the caller so it can warn.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo


class LimitUnit(StrEnum):
    """How a matter's handling limit is counted (时限计算方式)."""

    HOURS = "hours"  # 小时 (clock hours)
    CALENDAR_DAYS = "calendar_days"  # 自然日
    WORKING_DAYS = "working_days"  # 工作日


class DayKind(StrEnum):
    HOLIDAY = "holiday"  # 放假 (法定节假日 and the days off around it)
    WORKDAY = "workday"  # 调休上班 (a weekend day that is worked)


@dataclass(frozen=True)
class WorkCalendar:
    """Official days off and make-up workdays; every other day follows the Monday–Friday week.

    ``holidays`` / ``workdays`` map a date to its name (e.g. ``"春节"``); ``years`` are the years an
    official notice covers (for the "next year's notice not loaded" warning).
    """

    holidays: Mapping[date, str] = field(default_factory=dict)
    workdays: Mapping[date, str] = field(default_factory=dict)
    years: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        both = set(self.holidays) & set(self.workdays)
        if both:
            raise ValueError(f"a day cannot be both a holiday and a workday: {sorted(both)[0]}")

    def covers(self, year: int) -> bool:
        return year in self.years

    def is_workday(self, d: date) -> bool:
        if d in self.workdays:
            return True
        if d in self.holidays:
            return False
        return d.weekday() < 5

    def day_name(self, d: date) -> str | None:
        """The holiday or 调休 name of ``d``, or None for an ordinary day."""
        return self.holidays.get(d) or self.workdays.get(d)

    def next_workday(self, d: date) -> date:
        """The first working day strictly after ``d``."""
        d += timedelta(days=1)
        for _ in range(400):
            if self.is_workday(d):
                return d
            d += timedelta(days=1)
        raise ValueError("no working day within 400 days (calendar data is wrong)")

    def add_working_days(self, start: datetime, days: float, tz: ZoneInfo) -> datetime:
        """The deadline ``days`` working days after ``start`` (aware), as an aware UTC-comparable time.

        The start day itself does not count; whole days end at 24:00 local time of the N-th working day;
        a fractional rest runs from 00:00 of the following working day.
        """
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        if days < 0 or not math.isfinite(days):
            raise ValueError("days must be a non-negative number")
        whole = math.floor(days + 1e-9)
        rest = max(0.0, days - whole)
        local_day = start.astimezone(tz).date()
        if whole == 0 and rest == 0:
            return start
        d = local_day
        for _ in range(whole):
            d = self.next_workday(d)
        if rest > 0:  # from 00:00 of the next working day
            return datetime.combine(self.next_workday(d), time.min, tz) + timedelta(hours=24 * rest)
        return datetime.combine(d + timedelta(days=1), time.min, tz)  # 24:00 of the N-th working day

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in (start, end] — the count an official would make for "用时 N 个工作日"."""
        n, d = 0, start
        while d < end:
            d += timedelta(days=1)
            n += self.is_workday(d)
        return n

    def merged(self, other: WorkCalendar) -> WorkCalendar:
        """This calendar with ``other``'s days on top (a loaded notice overrides the package's data)."""
        hol = dict(self.holidays)
        wrk = dict(self.workdays)
        for d, name in other.holidays.items():
            wrk.pop(d, None)
            hol[d] = name
        for d, name in other.workdays.items():
            hol.pop(d, None)
            wrk[d] = name
        return WorkCalendar(hol, wrk, self.years | other.years)


def parse_notice_rows(rows: list[dict[str, str]]) -> WorkCalendar:
    """A calendar from notice rows ``date,kind,name`` (kind ``holiday`` / ``workday``), strictly checked.

    Raises ``ValueError("line N: ...")`` (line 2 = first data row, as in the CSV file) on a bad row.
    """
    hol: dict[date, str] = {}
    wrk: dict[date, str] = {}
    years: set[int] = set()
    for i, row in enumerate(rows, start=2):
        raw = (row.get("date") or "").strip()
        try:
            d = date.fromisoformat(raw)
        except ValueError:
            raise ValueError(f"line {i}: bad date {raw!r} (want YYYY-MM-DD)") from None
        kind = (row.get("kind") or "").strip()
        if kind not in (DayKind.HOLIDAY, DayKind.WORKDAY):
            raise ValueError(f"line {i}: kind must be 'holiday' or 'workday', not {kind!r}")
        name = (row.get("name") or "").strip()
        if d in hol or d in wrk:
            raise ValueError(f"line {i}: {d} appears twice")
        (hol if kind == DayKind.HOLIDAY else wrk)[d] = name
        years.add(d.year)
    return WorkCalendar(hol, wrk, frozenset(years))
