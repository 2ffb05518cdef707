"""``callcenter worker``: the background loops."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer


def worker(
    only: Annotated[
        list[str] | None, typer.Option(help="run only these loops (outbox, sweep, pipeline, …)")
    ] = None,
) -> None:
    """Run the worker: outbox relay, 督办 sweep, transcript → suggestion pipeline, callbacks."""
    from callcenter.config import get_settings
    from callcenter.observability import start_metrics_server
    from callcenter.worker.runner import run_worker

    settings = get_settings()
    start_metrics_server(settings, "worker")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    run_worker(settings, only, stop)


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
