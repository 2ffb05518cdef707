"""Generating, storing and finding reports (报告): the ``reports`` table holds each report's kind,
period, parameters, summary and the paths of its PDF and XLSX files.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, create_engine, select
from sqlalchemy.orm import Session

from callcenter.config import Settings
from callcenter.db.base import utcnow
from callcenter.db.models import Report
from callcenter.exceptions import NotFound
from callcenter.plugins.reports import figures, render
from callcenter.plugins.reports.periods import Period, due_periods, period_for

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Built:
    report: Report
    data: figures.ReportData
    pdf: Path
    xlsx: Path


def record_pending(
    session: Session, settings: Settings, period: Period, *, requested_by: str, now: datetime | None = None
) -> Report:
    """Record a report to build (status ``pending``) with the parameters it will use."""
    cfg = settings.reports
    params: dict[str, Any] = {
        "kind": period.kind,
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "top_n": cfg.top_n,
        "repeat_window_days": cfg.repeat_window_days,
        "timezone": settings.timezone,
        "center": cfg.center_name,
    }
    row = Report(
        kind=period.kind,
        period_start=period.start,
        period_end=period.end,
        params=params,
        status="pending",
        requested_by=requested_by[:64],
        created_at=now or utcnow(),
    )
    session.add(row)
    session.flush()
    return row


@lru_cache(maxsize=8)
def _reader_engine(url: str) -> Engine:
    """SQLite: an engine whose transactions do not take the write lock (the kernel's engine begins
    every transaction IMMEDIATE) — a report reads for tens of seconds and must not block the API's
    writers; WAL mode lets them go on. Other databases: the kernel's engine."""
    from callcenter.db.session import get_engine

    if not url.startswith("sqlite"):
        return get_engine(url)
    return create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})


def _compute(
    read: Session, settings: Settings, period: Period, report_id: int, out_dir: Path | None, now: datetime
) -> tuple[figures.ReportData, Path, Path]:
    cfg = settings.reports
    out = Path(out_dir or cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = figures.build(
        read,
        period,
        tz=ZoneInfo(settings.timezone),
        now=now,
        center=cfg.center_name,
        top_n=cfg.top_n,
        repeat_window_days=cfg.repeat_window_days,
    )
    stem = f"{period.kind}-{period.start:%Y%m%d}-{period.end:%Y%m%d}-{report_id}"
    return data, render.write_pdf(data, out / f"{stem}.pdf"), render.write_xlsx(data, out / f"{stem}.xlsx")


def _finish(
    row: Report, data: figures.ReportData | None, pdf: Path | None, xlsx: Path | None, error: str
) -> None:
    row.finished_at = utcnow()
    if data is None or pdf is None or xlsx is None:
        row.status, row.error = "failed", error[:2000]
        return
    row.status, row.summary = "done", "\n".join(data.summary)
    row.pdf_path, row.xlsx_path = str(pdf), str(xlsx)


def fill_report(
    session: Session,
    settings: Settings,
    row: Report,
    *,
    out_dir: Path | None = None,
    now: datetime | None = None,
) -> Built:
    """Build the figures of a recorded report in ``session``, write its PDF and XLSX, mark it done
    (or failed, re-raising)."""
    now = now or utcnow()
    period = Period(row.kind, row.period_start, row.period_end)
    try:
        data, pdf, xlsx = _compute(session, settings, period, row.id, out_dir, now)
    except Exception as exc:
        _finish(row, None, None, None, f"{type(exc).__name__}: {exc}")
        session.flush()
        raise
    _finish(row, data, pdf, xlsx, "")
    session.flush()
    return Built(row, data, pdf, xlsx)


def build_report(
    session: Session,
    settings: Settings,
    period: Period,
    *,
    out_dir: Path | None = None,
    requested_by: str = "cli",
    now: datetime | None = None,
) -> Built:
    """Record, build and store a report in one transaction (CLI, tests)."""
    row = record_pending(session, settings, period, requested_by=requested_by, now=now)
    return fill_report(session, settings, row, out_dir=out_dir, now=now)


def build_pending(
    settings: Settings, report_id: int, now: datetime | None = None, out_dir: Path | None = None
) -> str:
    """Build one recorded report without holding a write transaction while it reads (the API's
    builder thread, the schedule loop): read the row, build with a reading session, then record the
    outcome in a short transaction. Returns the final status."""
    from callcenter.db.session import session_scope

    try:
        with session_scope(settings.database_url) as session:
            row = session.get(Report, report_id)
            if row is None or row.status != "pending":
                return row.status if row else "missing"
            period = Period(row.kind, row.period_start, row.period_end)
        data: figures.ReportData | None = None
        pdf = xlsx = None
        error = ""
        try:
            with Session(_reader_engine(settings.database_url)) as read:
                data, pdf, xlsx = _compute(read, settings, period, report_id, out_dir, now or utcnow())
        except Exception as exc:
            log.exception("report %s failed", report_id)
            error = f"{type(exc).__name__}: {exc}"
        with session_scope(settings.database_url) as session:
            row = session.get(Report, report_id)
            if row is None:
                return "missing"
            _finish(row, data, pdf, xlsx, error)
            return row.status
    except Exception:  # the database itself went away (e.g. a test app shut down)
        log.exception("report %s could not be built", report_id)
        return "failed"


#: longest wait between two tries of a scheduled report that keeps failing
MAX_RETRY_WAIT = timedelta(hours=6)


def retry_wait(attempts: int, base_s: float) -> timedelta:
    """How long a scheduled report that failed ``attempts`` times waits before the next try: the
    check interval, doubled at each failure, at most :data:`MAX_RETRY_WAIT` (pure)."""
    seconds = max(base_s, 1.0) * 2 ** min(max(attempts - 1, 0), 32)
    return timedelta(seconds=min(seconds, MAX_RETRY_WAIT.total_seconds()))


def claim_scheduled(session: Session, settings: Settings, period: Period, now: datetime) -> int | None:
    """The row the schedule builds ``period`` in: its failed row again once ``params["retry_at"]`` has
    passed (one row per period, ``params["attempts"]`` counting the tries), else a new pending row;
    ``None`` while a failed one still waits."""
    row = _failed_scheduled(session, period)
    if row is None:
        row = record_pending(session, settings, period, requested_by="schedule", now=now)
        row.params = {**row.params, "attempts": 1}
        return row.id
    params = dict(row.params or {})
    retry_at = params.get("retry_at")
    if retry_at and now < datetime.fromisoformat(retry_at):
        return None
    row.status, row.error, row.finished_at = "pending", None, None
    row.params = {**params, "attempts": int(params.get("attempts", 1)) + 1}
    return row.id


def note_failure(session: Session, settings: Settings, report_id: int, now: datetime) -> None:
    """Set when a failed scheduled report is tried next (``params["retry_at"]``, see :func:`retry_wait`)."""
    row = session.get(Report, report_id)
    if row is None or row.status != "failed":
        return
    wait = retry_wait(int((row.params or {}).get("attempts", 1)), settings.reports.check_interval_s)
    row.params = {**(row.params or {}), "retry_at": (now + wait).isoformat()}


def _failed_scheduled(session: Session, period: Period) -> Report | None:
    """The schedule's latest failed report of ``period``, if any."""
    return session.scalar(
        select(Report)
        .where(
            Report.kind == period.kind,
            Report.period_start == period.start,
            Report.period_end == period.end,
            Report.requested_by == "schedule",
            Report.status == "failed",
        )
        .order_by(Report.id.desc())
        .limit(1)
    )


def pending_ids(session: Session, older_than: datetime | None = None) -> list[int]:
    """Reports still pending (``older_than``: only those recorded before then)."""
    stmt = select(Report.id).where(Report.status == "pending")
    if older_than is not None:
        stmt = stmt.where(Report.created_at < older_than)
    return list(session.scalars(stmt.order_by(Report.id)))


def list_reports(session: Session, limit: int = 100) -> list[Report]:
    return list(
        session.scalars(select(Report).order_by(Report.created_at.desc(), Report.id.desc()).limit(limit))
    )


def get_report(session: Session, report_id: int) -> Report:
    row = session.get(Report, report_id)
    if row is None:
        raise NotFound(f"no report {report_id}")
    return row


def missing_periodic(session: Session, settings: Settings, today: date) -> list[Period]:
    """Scheduled periods (``reports.schedule``) without a finished report yet."""
    out = []
    for p in due_periods(list(settings.reports.schedule), today):
        exists = session.scalar(
            select(Report.id).where(
                Report.kind == p.kind,
                Report.period_start == p.start,
                Report.period_end == p.end,
                Report.status == "done",
            )
        )
        if exists is None:
            out.append(p)
    return out


def resolve_period(kind: str, today: date, start: date | None, end: date | None) -> Period:
    return period_for(kind, today, start, end)


def repeat_list(
    session: Session, settings: Settings, days: int, now: datetime | None = None
) -> list[dict[str, Any]]:
    """The supervisor's list of repeat complaints (重复诉求) of the last ``days`` days, names resolved."""
    from datetime import time

    from callcenter.db.models import Area, Matter
    from callcenter.domain.privacy import mask_phone

    tz = ZoneInfo(settings.timezone)
    now = now or utcnow()
    today = now.astimezone(tz).date()
    lo = datetime.combine(today - timedelta(days=days - 1), time.min, tz)
    hi = datetime.combine(today + timedelta(days=1), time.min, tz)
    matters = {c: n for c, n in session.execute(select(Matter.code, Matter.name))}
    areas = {c: n for c, n in session.execute(select(Area.code, Area.name))}
    out = []
    for g in figures.repeat_groups(session, lo, hi, settings.reports.repeat_window_days):
        if g.kind == "caller":
            where = mask_phone(g.key) or ""
        elif g.kind == "place":
            where = g.key.split("|", 1)[-1]
            where = areas.get(where, where)
        else:
            where = f"首件 {g.key}"
        out.append(
            {
                "kind": g.kind,
                "kind_label": figures.KIND_NAMES[g.kind],
                "where": where,
                "matter_code": g.matter_code,
                "matter_name": matters.get(g.matter_code or "", g.matter_code),
                "count": g.count,
                "returns": g.returns,
                "first_at": g.first_at.isoformat(),
                "last_at": g.last_at.isoformat(),
                "numbers": list(g.numbers),
            }
        )
    return out


def call_repeats(
    session: Session, settings: Settings, uniqueid: str, now: datetime | None = None
) -> dict[str, Any]:
    """Screen-pop hint (弹屏提示) for a call: the caller's matters that came back (屡诉) within the
    window, and those of them whose place had a closed case before (屡治屡返)."""

    from callcenter.db.models import Call, Case, Matter
    from callcenter.domain import repeats

    call = session.scalar(select(Call).where(Call.uniqueid == uniqueid))
    if call is None:
        raise NotFound(f"no call {uniqueid}")
    now = now or utcnow()
    window = settings.reports.repeat_window_days
    out: dict[str, Any] = {"uniqueid": uniqueid, "window_days": window, "repeats": []}
    if not call.caller_number:
        return out
    cols = (
        Case.number, Case.created_at, Case.matter_code, Case.caller_phone, Case.street_code,
        Case.community_code, Case.address, Case.description, Case.closed_at,
    )  # fmt: skip
    mine = [
        repeats.RepeatCase(*row)
        for row in session.execute(
            select(*cols).where(
                Case.caller_phone == call.caller_number, Case.created_at >= now - timedelta(days=window)
            )
        )
    ]
    names = {c: n for c, n in session.execute(select(Matter.code, Matter.name))}
    by_matter: dict[str, list[repeats.RepeatCase]] = {}
    for c in mine:
        if c.matter_code:
            by_matter.setdefault(c.matter_code, []).append(c)
    for matter, cases in sorted(by_matter.items(), key=lambda kv: -len(kv[1])):
        places = {repeats.place_of(c) for c in cases} - {None}
        reopened = False
        if places:
            streets = {c.street_code for c in cases if c.street_code}
            around = [
                repeats.RepeatCase(*row)
                for row in session.execute(
                    select(*cols).where(Case.matter_code == matter, Case.street_code.in_(streets))
                )
            ]
            reopened = any(g.returns for g in repeats.recurring_places(around) if g.key in places)
        if len(cases) > 1 or reopened:
            out["repeats"].append(
                {
                    "matter_code": matter,
                    "matter_name": names.get(matter, matter),
                    "count": len(cases),
                    "came_back_after_closure": reopened,
                    "numbers": [c.number for c in sorted(cases, key=lambda c: c.created_at, reverse=True)],
                }
            )
    return out
