"""A small process supervisor for ``callcenter up`` and ``callcenter demo``.

Starts each service as ``python -m callcenter.cli NAME``, restarts one that dies (its state is in
the database and Redis, so a restart loses nothing), and stops all of them on Ctrl-C / SIGTERM.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Service:
    name: str
    args: tuple[str, ...] = ()
    log: Path | None = None
    restarts: int = 0
    proc: subprocess.Popen[bytes] | None = None
    last_start: float = 0.0
    env: dict[str, str] = field(default_factory=dict)


class Supervisor:
    def __init__(self, services: list[Service], echo: Callable[[str], None] = print) -> None:
        self.services = services
        self.echo = echo
        self.stopping = False

    def start(self, svc: Service) -> None:
        out = None
        if svc.log is not None:
            svc.log.parent.mkdir(parents=True, exist_ok=True)
            out = svc.log.open("ab")
        svc.proc = subprocess.Popen(
            [sys.executable, "-m", "callcenter.cli", svc.name, *svc.args],
            env=os.environ | svc.env,
            stdout=out,
            stderr=subprocess.STDOUT if out else None,
            start_new_session=True,
        )
        svc.last_start = time.monotonic()
        self.echo(f"started {svc.name} (pid {svc.proc.pid})" + (f", log {svc.log}" if svc.log else ""))

    def start_all(self) -> None:
        for svc in self.services:
            self.start(svc)

    def install_signal_handlers(self) -> None:
        def stop(*_: object) -> None:
            self.stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)

    def poll(self) -> None:
        """Restart services that exited (with a longer pause when they crash in a loop)."""
        for svc in self.services:
            if svc.proc is None or self.stopping:
                continue
            code = svc.proc.poll()
            if code is None:
                continue
            pause = 1.0 if time.monotonic() - svc.last_start > 30 else 5.0
            self.echo(f"{svc.name} exited with {code}; restarting in {pause:.0f}s")
            time.sleep(pause)
            svc.restarts += 1
            self.start(svc)

    def run(self, tick: Callable[[], None] | None = None) -> None:
        """Supervise until Ctrl-C / SIGTERM; ``tick`` runs every half second."""
        try:
            while not self.stopping:
                time.sleep(0.5)
                self.poll()
                if tick is not None:
                    tick()
        finally:
            self.stop_all()

    def stop_all(self, timeout: float = 10.0) -> None:
        self.stopping = True
        for svc in self.services:
            if svc.proc is not None and svc.proc.poll() is None:
                svc.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for svc in self.services:
            if svc.proc is None:
                continue
            try:
                svc.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                svc.proc.kill()
                svc.proc.wait()
        self.echo("all services stopped")
