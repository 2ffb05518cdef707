"""The working calendar (工作日历) of the center: package data plus loaded State Council notices.

:func:`work_calendar` builds the pure :class:`~callcenter.domain.calendar.WorkCalendar` from the kept
``chinese-calendar`` package (official days off and 调休 workdays since 2004, updated every year when
the notice comes out) with the rows of ``calendar_days`` on top — an operator loads next year's notice
before the package is updated (``callcenter calendar load notice.csv``). The result is cached per
database for a minute (a due date is computed on every dispatch).
"""

from __future__ import annotations

import csv
import io
import logging
import threading
import time
from datetime import date
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.db.models import CalendarDay
from callcenter.domain.calendar import DayKind, WorkCalendar, parse_notice_rows

log = logging.getLogger(__name__)

_CACHE_S = 60.0
_cache: dict[str, tuple[float, WorkCalendar]] = {}
_lock = threading.Lock()


def package_calendar() -> WorkCalendar:
    """Official days from the ``chinese-calendar`` package (empty, with a warning, if not installed)."""
    try:
        from chinese_calendar import constants
    except ImportError:  # pragma: no cover - the dependency is declared
        log.warning("chinese-calendar is not installed: working days are Monday to Friday only")
        return WorkCalendar()
    wrk = {d: _name(h) for d, h in constants.workdays.items()}
    hol = {d: _name(h) for d, h in constants.holidays.items() if d not in wrk}
    years = frozenset(d.year for d in (*constants.holidays, *constants.workdays))
    return WorkCalendar(hol, wrk, years)


_NAMES_ZH = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利70周年纪念日",
}


def _name(h: object) -> str:
    """The package names a day in English (``"National Day"``); the console and reports say 国庆节."""
    text = str(getattr(h, "value", h))
    return _NAMES_ZH.get(text, text)


def loaded_calendar(session: Session) -> WorkCalendar:
    rows = session.scalars(select(CalendarDay)).all()
    hol = {r.day: r.name for r in rows if r.kind == DayKind.HOLIDAY}
    wrk = {r.day: r.name for r in rows if r.kind == DayKind.WORKDAY}
    return WorkCalendar(hol, wrk, frozenset(r.day.year for r in rows))


def work_calendar(session: Session) -> WorkCalendar:
    """The calendar in force (package + loaded notices), cached for a minute per database."""
    key = str(session.get_bind().engine.url)
    now = time.monotonic()
    with _lock:
        hit = _cache.get(key)
        if hit and now - hit[0] < _CACHE_S:
            return hit[1]
    cal = package_calendar().merged(loaded_calendar(session))
    with _lock:
        _cache[key] = (now, cal)
    return cal


def forget_cache() -> None:
    with _lock:
        _cache.clear()


def load_notice(session: Session, text: str, source: str) -> WorkCalendar:
    """Store a notice (CSV ``date,kind,name``) in ``calendar_days``; all or nothing.

    Raises ``ValueError("line N: ...")`` on a bad row, before anything is written. A date already
    loaded is replaced (a corrected notice).
    """
    reader = csv.DictReader(io.StringIO(text))
    missing = {"date", "kind"} - set(reader.fieldnames or ())
    if missing:
        raise ValueError(f"line 1: missing column(s) {', '.join(sorted(missing))} (want date,kind,name)")
    notice = parse_notice_rows(list(reader))
    existing = {
        r.day: r
        for r in session.scalars(
            select(CalendarDay).where(CalendarDay.day.in_([*notice.holidays, *notice.workdays]))
        )
    }
    for kind, days in ((DayKind.HOLIDAY, notice.holidays), (DayKind.WORKDAY, notice.workdays)):
        for d, name in days.items():
            row = existing.get(d) or CalendarDay(day=d)
            row.kind, row.name, row.source = str(kind), name[:32], source[:256]
            session.add(row)
    session.flush()
    forget_cache()
    return notice


def load_notice_file(session: Session, path: Path) -> WorkCalendar:
    return load_notice(session, path.read_text(encoding="utf-8-sig"), source=path.name)


def year_days(cal: WorkCalendar, year: int) -> list[tuple[date, str, str]]:
    """The special days of ``year``: (date, holiday|workday, name), in order."""
    out = [(d, str(DayKind.HOLIDAY), n) for d, n in cal.holidays.items() if d.year == year]
    out += [(d, str(DayKind.WORKDAY), n) for d, n in cal.workdays.items() if d.year == year]
    return sorted(out)
