"""Generating, storing and finding reports (报告): the ``reports`` table holds each report's kind,
period, parameters, summary and the paths of its PDF and XLSX files.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
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


def build_report(
    session: Session,
    settings: Settings,
    period: Period,
    *,
    out_dir: Path | None = None,
    requested_by: str = "cli",
    now: datetime | None = None,
) -> Built:
    """Build the figures, write the PDF and the XLSX into ``out_dir`` and record the report."""
    now = now or utcnow()
    cfg = settings.reports
    out = Path(out_dir or cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
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
        created_at=now,
    )
    session.add(row)
    session.flush()
    try:
        data = figures.build(
            session,
            period,
            tz=ZoneInfo(settings.timezone),
            now=now,
            center=cfg.center_name,
            top_n=cfg.top_n,
            repeat_window_days=cfg.repeat_window_days,
        )
        stem = f"{period.kind}-{period.start:%Y%m%d}-{period.end:%Y%m%d}-{row.id}"
        pdf = render.write_pdf(data, out / f"{stem}.pdf")
        xlsx = render.write_xlsx(data, out / f"{stem}.xlsx")
    except Exception as exc:
        row.status, row.error, row.finished_at = "failed", f"{type(exc).__name__}: {exc}"[:2000], utcnow()
        session.flush()
        raise
    row.status, row.summary, row.finished_at = "done", "\n".join(data.summary), utcnow()
    row.pdf_path, row.xlsx_path = str(pdf), str(xlsx)
    session.flush()
    return Built(row, data, pdf, xlsx)


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
