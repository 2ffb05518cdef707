"""The worker loop of the reports plugin: builds the periodic reports (reports.schedule) once each
period is complete — yesterday's 日报 after midnight, last week's 周报 on Monday, last month's 月报 on
the 1st (local time). A report already done is not built again; a failure is logged and retried at
the next check."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from callcenter.config import Settings
from callcenter.registry import Loop

log = logging.getLogger(__name__)


def run_due(settings: Settings, now: datetime | None = None) -> list[int]:
    """Build every scheduled report that is missing; returns the new report ids."""
    from callcenter.db.session import session_scope
    from callcenter.plugins.reports.services import build_report, missing_periodic

    now = now or datetime.now(UTC)
    today = now.astimezone(ZoneInfo(settings.timezone)).date()
    with session_scope(settings.database_url) as session:
        missing = missing_periodic(session, settings, today)
    built: list[int] = []
    for period in missing:
        try:
            with session_scope(settings.database_url) as session:
                built.append(
                    build_report(session, settings, period, requested_by="schedule", now=now).report.id
                )
            log.info("built %s report %s .. %s", period.kind, period.start, period.end)
        except Exception:
            log.exception("building the %s report for %s failed; retrying later", period.kind, period.start)
    return built


def reports_loop(settings: Settings) -> Loop | None:
    if not settings.reports.schedule:
        return None

    def loop(stop: threading.Event) -> None:
        while not stop.is_set():
            run_due(settings)
            stop.wait(settings.reports.check_interval_s)

    return loop
