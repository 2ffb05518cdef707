"""Worker loop of the recordings plugin: :func:`~.store.sweep` every ``recordings.sweep_interval_s``,
then (``recordings.transcribe_after_hangup``) the transcription of recordings that need it."""

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
        from callcenter.ports import FILE_TRANSCRIBER, FileTranscriber, PortUnavailable
        from callcenter.registry import provide

        from .store import sweep
        from .transcribe import transcribe_pending

        maker = get_sessionmaker(settings.database_url)
        transcriber: FileTranscriber | None = None
        if settings.recordings.transcribe_after_hangup:
            try:
                transcriber = provide(FILE_TRANSCRIBER, settings)
            except PortUnavailable as exc:
                log.warning("recordings: no transcription after hangup: %s", exc)
        while not stop.is_set():
            with maker() as session:
                res = sweep(session, settings)
                if transcriber is not None:
                    while not stop.is_set() and transcribe_pending(session, settings, transcriber):
                        pass
            if res.collected or res.expired:
                log.info("recordings: collected %d, expired %d", res.collected, res.expired)
            stop.wait(settings.recordings.sweep_interval_s)

    return run
