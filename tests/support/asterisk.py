"""pytest plugin for tests that need the real Asterisk (auto-loaded by tests/conftest.py).

Fixtures:

* ``asterisk`` (session): provisions the chroot if needed, renders the configs for test settings,
  starts ``chroot ROOT asterisk -f``, yields an :class:`AsteriskHandle`, stops it at the end. It holds
  an exclusive ``fcntl.flock`` on ``var/asterisk/test.lock`` for its whole life, so two pytest runs on
  one machine queue up instead of fighting over the one Asterisk (ports 5038/5060/4573 are fixed).
* ``telephony_stack`` (function, SQLite) and ``telephony_stack_pg`` (function, PostgreSQL): the FastAGI
  server and the AMI bridge running in-process against the test database and Redis db 15, with
  :meth:`TelephonyStack.place_calls` to run simulated calls and get their JSON results.
* :func:`start_stack` is the context manager behind them, for other areas' fixtures
  (speech end-to-end, console end-to-end): ``with start_stack(asterisk, db_url, redis_url) as stack``.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from callcenter.config import Settings, TelephonySettings
from callcenter.plugins.telephony.provision import TEST_LOCK_PATH as LOCK_PATH


@dataclass
class AsteriskHandle:
    """The running test Asterisk."""

    settings: Settings
    process: Any  # callcenter.telephony.provision.AsteriskProcess

    @property
    def rootfs(self) -> Path:
        return self.settings.asterisk.rootfs

    @property
    def ami_host(self) -> str:
        return self.settings.ami.host

    @property
    def ami_port(self) -> int:
        return self.settings.ami.port

    @property
    def ami_username(self) -> str:
        return self.settings.ami.username

    @property
    def ami_secret(self) -> str:
        return self.settings.ami.secret

    @property
    def sounds_dir(self) -> Path:
        from callcenter.plugins.telephony.provision import SOUNDS_IN_ROOT

        return self.rootfs / SOUNDS_IN_ROOT

    def ami_config(self) -> Any:
        from callcenter.plugins.telephony.ami.bridge import AMIConfig

        return AMIConfig(
            host=self.ami_host,
            port=self.ami_port,
            username=self.ami_username,
            secret=self.ami_secret,
            reconnect_min_s=0.2,
            reconnect_max_s=2.0,
            ping_interval_s=2,
        )

    def cli(self, command: str) -> str:
        return str(self.process.cli(command))

    def set_global(self, name: str, value: str) -> None:
        """Set a dialplan global at run time (e.g. ``SPEECH_STEP`` 0/1)."""
        self.cli(f"dialplan set global {name} {value}")

    def reset_globals(self) -> None:
        """Speech step off, the configured AudioSocket address, default business hours (tests change them)."""
        sp = self.settings.speech
        self.set_global("SPEECH_STEP", "0")
        self.set_global("AUDIOSOCKET_ADDR", f"{sp.audiosocket_host}:{sp.audiosocket_port}")
        self.set_global("BUSINESS_HOURS", TelephonySettings().business_hours)
        self.set_global("BUSINESS_DAYS", TelephonySettings().business_days)

    def kill(self) -> None:
        """``kill -9`` Asterisk."""
        self.process.kill()

    def ensure_running(self) -> None:
        """Start Asterisk again if an earlier test left it dead (e.g. failed between kill and restart)."""
        if not self.process.fully_booted(timeout=3.0):
            self.restart()

    def restart(self) -> None:
        """Start Asterisk again (after :meth:`kill` or a stop) and wait for FullyBooted."""
        self.process.proc = None
        self.process.start()
        self.reset_globals()


@contextlib.contextmanager
def exclusive_asterisk(settings: Settings, telephony: TelephonySettings) -> Iterator[AsteriskHandle]:
    """The machine's test Asterisk for a benchmark, under the test lock (it queues behind test runs).

    Provisions and starts it with ``telephony`` unless it already runs (then it is used as it is), and
    stops it at the end only when it was started here.
    """
    from callcenter.plugins.telephony.provision import AsteriskProcess, provision

    LOCK_PATH.parent.mkdir(parents=True, exist_ok=True)
    with open(LOCK_PATH, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        proc = AsteriskProcess(settings)
        started_here = proc.pid() is None
        if started_here:
            provision(settings, telephony)
            proc.start()
        handle = AsteriskHandle(settings, proc)
        handle.reset_globals()
        try:
            yield handle
        finally:
            if started_here:
                proc.stop()
            fcntl.flock(lock, fcntl.LOCK_UN)


def _test_settings() -> Settings:
    return Settings(mode="test")


@pytest.fixture(scope="session")
def asterisk() -> Iterator[AsteriskHandle]:
    """The real Asterisk 22 (session-scoped, exclusive per machine)."""
    from callcenter.plugins.telephony.provision import (
        AsteriskProcess,
        ProvisionError,
        provision,
    )

    LOCK_PATH.parent.mkdir(parents=True, exist_ok=True)
    with open(LOCK_PATH, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        settings = _test_settings()
        try:
            provision(settings, TelephonySettings(speech_step=False, wrapup_time_s=0, ring_timeout_s=10))
        except ProvisionError as exc:
            pytest.fail(f"cannot provision Asterisk: {exc}")
        proc = AsteriskProcess(settings)
        proc.stop()  # a leftover from an interrupted run (we hold the lock, so it is not in use)
        proc.start()
        handle = AsteriskHandle(settings, proc)
        started = time.time()
        try:
            yield handle
        finally:
            proc.stop()
            # answered calls are recorded (MixMonitor); the session's files do not pile up in the spool
            for f in (settings.asterisk.rootfs / "var/spool/asterisk/monitor").glob("*.wav"):
                with contextlib.suppress(OSError):
                    if f.stat().st_mtime >= started - 1:
                        f.unlink()
            fcntl.flock(lock, fcntl.LOCK_UN)


class BridgeThread:
    """The AMI bridge on its own event loop in a daemon thread."""

    def __init__(self, bridge: Any) -> None:
        self.bridge = bridge
        self.loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self.thread = threading.Thread(target=self._run, name="ami-bridge", daemon=True)
        self.error: BaseException | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def main() -> None:
            self._stop = asyncio.Event()
            self._ready.set()
            await self.bridge.run(self._stop)

        try:
            self.loop.run_until_complete(main())
        except BaseException as exc:  # pragma: no cover - surfaced by the fixture
            self.error = exc
        finally:
            self.loop.close()

    def start(self, timeout: float = 30.0) -> None:
        self.thread.start()
        self._ready.wait(5)
        self.wait_synced(timeout)

    def wait_synced(self, timeout: float = 30.0, generation: int = 1) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.bridge.synced.is_set() and self.bridge.generation >= generation:
                return
            if self.error is not None:
                raise RuntimeError(f"AMI bridge died: {self.error!r}")
            time.sleep(0.05)
        raise TimeoutError(f"AMI bridge not synced (generation {generation}) in {timeout:.0f} s")

    def stop(self) -> None:
        if self._stop is not None and not self.loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(20)


@dataclass
class TelephonyStack:
    """FastAGI server + AMI bridge for one test database."""

    asterisk: AsteriskHandle
    database_url: str
    redis_url: str
    agi: Any  # callcenter.plugins.telephony.agi.server.FastAGIServer
    bridge: BridgeThread
    redis: Any
    results: list[dict[str, Any]] = field(default_factory=list)

    def place_calls(self, count: int = 1, **options: Any) -> list[dict[str, Any]]:
        """Run the simulator (options of :class:`SimOptions`); returns one JSON dict per call."""
        from callcenter.plugins.telephony.simulator import SimOptions, Simulator

        opts = SimOptions(count=count, queue=self.asterisk.settings.asterisk.queue, **options)
        results = Simulator(self.redis, opts).run()
        self.results.extend(results)
        return sorted(results, key=lambda r: int(r["index"]))

    def place_call(self, **options: Any) -> dict[str, Any]:
        return self.place_calls(1, **options)[0]


@contextlib.contextmanager
def start_stack(asterisk: AsteriskHandle, database_url: str, redis_url: str) -> Iterator[TelephonyStack]:
    """Run the FastAGI server and the AMI bridge in-process for ``database_url``."""
    import redis as redis_lib

    from callcenter.plugins.telephony.agi.handlers import IVRContext, IVRHandlers
    from callcenter.plugins.telephony.agi.server import FastAGIServer
    from callcenter.plugins.telephony.ami.bridge import AMIBridge

    s = asterisk.settings
    client = redis_lib.Redis.from_url(redis_url)
    agi = FastAGIServer(
        (s.fastagi_host, s.fastagi_port),
        IVRHandlers(IVRContext(database_url, client, input_timeout_ms=4000)).table(),
    )
    agi.start_in_thread()
    bridge = BridgeThread(
        AMIBridge(
            asterisk.ami_config(),
            database_url,
            redis_url,
            default_queue=s.asterisk.queue,
            node=s.asterisk.node,
        )
    )
    try:
        bridge.start()
        yield TelephonyStack(asterisk, database_url, redis_url, agi, bridge, client)
    finally:
        bridge.stop()
        agi.stop()
        client.close()


@pytest.fixture
def telephony_redis_url(asterisk: AsteriskHandle) -> Iterator[str]:
    """A Redis database for the telephony stack, emptied before and after the test.

    Not db 15: other areas' tests flush db 15 whenever they run, and on a shared development machine
    they run at the same time as ours; db 14 is used only while the Asterisk lock is held.
    """
    import redis as redis_lib

    url = os.environ.get("CALLCENTER_TEST_TELEPHONY_REDIS_URL", "redis://127.0.0.1:6379/14")
    client = redis_lib.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


@pytest.fixture
def telephony_stack(
    asterisk: AsteriskHandle, sqlite_url: str, telephony_redis_url: str
) -> Iterator[TelephonyStack]:
    """FastAGI + AMI bridge on a fresh SQLite database (Redis: ``telephony_redis_url``)."""
    asterisk.ensure_running()
    asterisk.reset_globals()
    with start_stack(asterisk, sqlite_url, telephony_redis_url) as stack:
        yield stack


@pytest.fixture
def telephony_stack_pg(
    asterisk: AsteriskHandle, pg_url: str, telephony_redis_url: str
) -> Iterator[TelephonyStack]:
    """FastAGI + AMI bridge on a fresh PostgreSQL database (Redis: ``telephony_redis_url``)."""
    asterisk.ensure_running()
    asterisk.reset_globals()
    with start_stack(asterisk, pg_url, telephony_redis_url) as stack:
        yield stack
