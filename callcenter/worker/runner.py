"""Runs the background loops of the worker, each in its own thread, until stopped.

Loops are factories ``(settings) -> callable(stop_event)``: the kernel's own (:data:`KERNEL_LOOPS`:
outbox relay, transcript → suggestion pipeline) and every plugin's (``loops`` of its manifest). A
loop that raises is logged and restarted after a pause, so one failing part never stops the others.
State lives in the database and Redis: a killed worker loses nothing when it restarts.
"""

from __future__ import annotations

import logging
import threading
import time

from callcenter import registry
from callcenter.config import Settings
from callcenter.db.session import get_sessionmaker
from callcenter.events import OutboxRelay, redis_client
from callcenter.ports import SUGGESTER, PortUnavailable
from callcenter.registry import Loop, LoopFactory

log = logging.getLogger(__name__)


def outbox_loop(settings: Settings) -> Loop:
    relay = OutboxRelay(get_sessionmaker(settings.database_url), redis_client(settings.redis_url))

    def run(stop: threading.Event) -> None:
        while not stop.is_set():
            relay.flush()
            stop.wait(0.5)

    return run


def pipeline_loop(settings: Settings) -> Loop | None:
    from callcenter.pipeline import SuggestionPipeline

    try:
        suggest = registry.provide(SUGGESTER, settings)
    except (PortUnavailable, FileNotFoundError) as exc:
        log.warning("suggestion pipeline disabled: %s (run `callcenter train`)", exc)
        return None
    pipeline = SuggestionPipeline(
        get_sessionmaker(settings.database_url), redis_client(settings.redis_url), suggest
    )
    return pipeline.run_forever


#: The kernel's own loops; the plugins add theirs (:func:`all_loops`).
KERNEL_LOOPS: dict[str, LoopFactory] = {"outbox": outbox_loop, "pipeline": pipeline_loop}


def all_loops() -> dict[str, LoopFactory]:
    """Kernel loops first, then every plugin's (a plugin cannot replace a kernel loop)."""
    plugin_loops = registry.worker_loops()
    clash = set(plugin_loops) & set(KERNEL_LOOPS)
    if clash:
        raise registry.PluginError(f"plugin worker loops clash with the kernel's: {', '.join(sorted(clash))}")
    return {**KERNEL_LOOPS, **plugin_loops}


def run_worker(
    settings: Settings, only: list[str] | None = None, stop: threading.Event | None = None
) -> None:
    stop = stop or threading.Event()
    threads = []
    for name, factory in all_loops().items():
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
