"""Worker loop of the cases plugin: the periodic 督办 sweep of overdue cases."""

from __future__ import annotations

import logging
import threading

from callcenter.config import Settings
from callcenter.db.session import session_scope
from callcenter.registry import Loop
from callcenter.services.cases import sweep_overdue

log = logging.getLogger(__name__)


def sweep_loop(settings: Settings, interval_s: float = 60.0) -> Loop:
    def run(stop: threading.Event) -> None:
        while not stop.is_set():
            with session_scope(settings.database_url) as session:
                flagged = sweep_overdue(session)
            if flagged:
                log.info("督办: %d overdue case(s) flagged", len(flagged))
            stop.wait(interval_s)

    return run
