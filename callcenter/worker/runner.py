"""Runs the background loops of the worker, each in its own thread, until stopped.

Loops are registered in :data:`LOOPS` as factories ``(settings) -> callable(stop_event)``; a loop
that raises is logged and restarted after a pause, so one failing part never stops the others.
State lives in the database and Redis: a killed worker loses nothing when it restarts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from callcenter.config import Settings
from callcenter.db.session import get_sessionmaker, session_scope
from callcenter.events import OutboxRelay, redis_client
from callcenter.plugins.callbacks.dialler import callbacks_loop
from callcenter.plugins.telephony.whole_call import whole_call_loop

log = logging.getLogger(__name__)

Loop = Callable[[threading.Event], None]
LoopFactory = Callable[[Settings], Loop | None]


def outbox_loop(settings: Settings) -> Loop:
    relay = OutboxRelay(get_sessionmaker(settings.database_url), redis_client(settings.redis_url))

    def run(stop: threading.Event) -> None:
        while not stop.is_set():
            relay.flush()
            stop.wait(0.5)

    return run


def sweep_loop(settings: Settings, interval_s: float = 60.0) -> Loop:
    from callcenter.services.cases import sweep_overdue

    def run(stop: threading.Event) -> None:
        while not stop.is_set():
            with session_scope(settings.database_url) as session:
                flagged = sweep_overdue(session)
            if flagged:
                log.info("督办: %d overdue case(s) flagged", len(flagged))
            stop.wait(interval_s)

    return run


def pipeline_loop(settings: Settings) -> Loop | None:
    from callcenter.pipeline import SuggestionPipeline, default_suggest_fn

    try:
        suggest = default_suggest_fn()
    except (ImportError, FileNotFoundError) as exc:
        log.warning("suggestion pipeline disabled: %s (run `callcenter train`)", exc)
        return None
    pipeline = SuggestionPipeline(
        get_sessionmaker(settings.database_url), redis_client(settings.redis_url), suggest
    )
    return pipeline.run_forever


LOOPS: dict[str, LoopFactory] = {
    "outbox": outbox_loop,
    "sweep": sweep_loop,
    "pipeline": pipeline_loop,
    "callbacks": callbacks_loop,
    "whole_call": whole_call_loop,
}


def run_worker(
    settings: Settings, only: list[str] | None = None, stop: threading.Event | None = None
) -> None:
    stop = stop or threading.Event()
    threads = []
    for name, factory in LOOPS.items():
        if only and name not in only:
            continue
        loop = factory(settings)
        if loop is None:
            continue

        def guarded(loop: Loop = loop, name: str = name) -> None:
            while not stop.is_set():
                try:
                    loop(stop)
                except Exception:
                    log.exception("worker loop %s failed; restarting in 2 s", name)
                    stop.wait(2.0)

        t = threading.Thread(target=guarded, name=f"worker-{name}", daemon=True)
        t.start()
        threads.append(t)
        log.info("worker loop %s started", name)
    try:
        while not stop.is_set():
            time.sleep(0.5)
    except KeyboardInterrupt:
        stop.set()
    for t in threads:
        t.join(timeout=5)
