"""Report periods (报告周期): daily, weekly (Monday–Sunday), monthly, or any date range — pure.

Every report compares its period with the previous one of the same kind: yesterday, last week, last
month; a free range with the same number of days just before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

Kind = Literal["daily", "weekly", "monthly", "range"]
KINDS: tuple[str, ...] = ("daily", "weekly", "monthly", "range")
TITLES = {"daily": "日报", "weekly": "周报", "monthly": "月报", "range": "专题报告"}
MAX_DAYS = 400
EARLIEST, LATEST = date(2000, 1, 1), date(2099, 12, 31)


@dataclass(frozen=True)
class Period:
    kind: str
    start: date  # inclusive
    end: date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        if self.kind == "monthly":
            end = self.start - timedelta(days=1)
            return Period(self.kind, end.replace(day=1), end)
        return Period(self.kind, self.start - timedelta(days=self.days), self.start - timedelta(days=1))

    @property
    def title(self) -> str:
        return TITLES.get(self.kind, "报告")

    def label(self) -> str:
        if self.kind == "daily":
            return f"{self.start:%Y年%m月%d日}"
        if self.kind == "monthly":
            return f"{self.start:%Y年%m月}"
        return f"{self.start:%Y年%m月%d日}至{self.end:%Y年%m月%d日}"


def _month_end(d: date) -> date:
    nxt = (d.replace(day=28) + timedelta(days=4)).replace(day=1)
    return nxt - timedelta(days=1)


def period_for(kind: str, today: date, start: date | None = None, end: date | None = None) -> Period:
    """The period a report of ``kind`` covers: the last complete one before ``today`` unless given.

    With ``start`` (and optionally ``end``) for daily / weekly / monthly, the period containing
    ``start``; for ``range`` both are required. Raises ``ValueError`` with a reason.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown report kind {kind!r} (daily, weekly, monthly or range)")
    for d in (start, end):
        if d is not None and not (EARLIEST <= d <= LATEST):
            raise ValueError(f"dates must lie between {EARLIEST} and {LATEST}")
    if kind == "range" or (start is not None and end is not None):
        if start is None or end is None:
            raise ValueError("a range report needs --start and --end")
        if end < start:
            raise ValueError("end is before start")
        if (end - start).days + 1 > MAX_DAYS:
            raise ValueError(f"a report covers at most {MAX_DAYS} days")
        return Period(kind, start, end)
    anchor = start
    if kind == "daily":
        d = anchor or today - timedelta(days=1)
        return Period(kind, d, d)
    if kind == "weekly":
        ref = anchor or today - timedelta(days=7)
        monday = ref - timedelta(days=ref.weekday())
        return Period(kind, monday, monday + timedelta(days=6))
    ref = anchor or (today.replace(day=1) - timedelta(days=1))
    return Period(kind, ref.replace(day=1), _month_end(ref))


def due_periods(kinds: list[str], today: date) -> list[Period]:
    """The periodic reports that should exist by ``today`` (the last complete period of each kind)."""
    return [period_for(k, today) for k in kinds if k in ("daily", "weekly", "monthly")]
