"""Worker loop of the recordings plugin: :func:`~.store.sweep` every ``recordings.sweep_interval_s``."""

from __future__ import annotations

import logging
import threading
from typing import Any

from callcenter.config import Settings

log = logging.getLogger(__name__)


def recordings_loop(settings: Settings) -> Any:
    """None (off) unless ``recordings.enabled``."""
    if not settings.recordings.enabled:
        return None

    def run(stop: threading.Event) -> None:
        from callcenter.db.session import get_sessionmaker

        from .store import sweep

        maker = get_sessionmaker(settings.database_url)
        while not stop.is_set():
            with maker() as session:
                res = sweep(session, settings)
            if res.collected or res.expired:
                log.info("recordings: collected %d, expired %d", res.collected, res.expired)
            stop.wait(settings.recordings.sweep_interval_s)

    return run
