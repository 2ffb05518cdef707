"""The ``citydispatch`` worker loop: collect new status changes of city orders, push them back."""

from __future__ import annotations

import logging
import threading

import httpx

from callcenter.config import Settings
from callcenter.db.session import get_sessionmaker
from callcenter.plugins.citydispatch import services as svc
from callcenter.registry import Loop

log = logging.getLogger(__name__)


class PushBack:
    """One round = :func:`services.collect` then :func:`services.deliver_due` (also used by tests)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sessions = get_sessionmaker(settings.database_url)
        self.client = httpx.Client(timeout=settings.intake.city_push_timeout_s)

    def round(self) -> tuple[int, int]:
        with self.sessions() as session:
            collected = svc.collect(session)
        with self.sessions() as session:
            delivered = svc.deliver_due(session, self.settings, self.client)
        return collected, delivered

    def close(self) -> None:
        self.client.close()


def pushback_loop(settings: Settings, interval_s: float = 1.0) -> Loop | None:
    if not settings.intake.city_partners:
        return None  # no partner configured: nothing to push back

    def run(stop: threading.Event) -> None:
        pb = PushBack(settings)
        try:
            while not stop.is_set():
                try:
                    pb.round()
                except Exception:
                    log.exception("citydispatch push-back round failed; retrying")
                stop.wait(interval_s)
        finally:
            pb.close()

    return run
