"""The worker loop of the reports plugin: builds the periodic reports (reports.schedule) once each
period is complete — yesterday's 日报 after midnight, last week's 周报 on Monday, last month's 月报 on
the 1st (local time). A report already done is not built again; a failure is logged and the same row
is retried with a doubling wait (check interval, 2×, 4× … at most 6 h), so a report that keeps failing
stays one row with its attempt count and last error instead of a new row at every check."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from callcenter.config import Settings
from callcenter.registry import Loop

log = logging.getLogger(__name__)


def run_due(settings: Settings, now: datetime | None = None) -> list[int]:
    """Build reports left pending (e.g. by an API restart), then every scheduled report that is missing;
    returns the ids of the scheduled ones built."""
    from callcenter.db.session import session_scope
    from callcenter.plugins.reports.services import (
        build_pending,
        claim_scheduled,
        missing_periodic,
        note_failure,
        pending_ids,
    )

    now = now or datetime.now(UTC)
    today = now.astimezone(ZoneInfo(settings.timezone)).date()
    with session_scope(settings.database_url) as session:
        # the API's builder thread is given 10 minutes before the worker takes a pending report over
        pending = pending_ids(session, older_than=now - timedelta(minutes=10))
    for report_id in pending:  # asked for through the API before a restart: built here
        build_pending(settings, report_id)
    with session_scope(settings.database_url) as session:  # after those: a period they built is done
        missing = missing_periodic(session, settings, today)
    built: list[int] = []
    for period in missing:
        with session_scope(settings.database_url) as session:
            claimed = claim_scheduled(session, settings, period, now)
        if claimed is None:
            continue  # failed recently: waits for its retry time
        status = build_pending(settings, claimed, now=now)
        if status == "done":
            built.append(claimed)
            log.info("built %s report %s .. %s", period.kind, period.start, period.end)
        else:
            with session_scope(settings.database_url) as session:
                note_failure(session, settings, claimed, now)
            log.error("building the %s report for %s failed; retrying later", period.kind, period.start)
    return built


def reports_loop(settings: Settings) -> Loop | None:
    if not settings.reports.schedule:
        return None

    def loop(stop: threading.Event) -> None:
        while not stop.is_set():
            run_due(settings)
            stop.wait(settings.reports.check_interval_s)

    return loop
