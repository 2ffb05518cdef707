"""Several API worker processes (``callcenter serve --workers 2``): every worker reads the Redis
streams itself, so a console stream gets every event whichever worker holds it."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis as redis_lib

from callcenter import events as ev
from tests.kernel.conftest import PASSWORD
from tests.plugins.console.conftest import free_port, seed_console

pytestmark = [pytest.mark.redis, pytest.mark.slow]


@pytest.fixture
def two_workers(sqlite_url: str, redis_url: str, redis_client: redis_lib.Redis) -> Iterator[str]:
    seed_console(sqlite_url)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
    env.update(
        CALLCENTER_MODE="test",
        CALLCENTER_DATABASE_URL=sqlite_url,
        CALLCENTER_REDIS_URL=redis_url,
        CALLCENTER_OBSERVABILITY__LOG_LEVEL="WARNING",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "callcenter.cli", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "serve --workers 2 did not come up"
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


class Stream(threading.Thread):
    def __init__(self, base: str, token: str, marker: str) -> None:
        super().__init__(daemon=True)
        self.base, self.token, self.marker = base, token, marker
        self.pid: str | None = None
        self.subscribed = threading.Event()
        self.got = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            headers = {"Authorization": f"Bearer {self.token}"}
            with (
                httpx.Client(timeout=httpx.Timeout(30, read=30)) as c,
                c.stream("GET", f"{self.base}/api/console/events", headers=headers) as r,
            ):
                r.raise_for_status()
                self.pid = r.headers.get("x-served-by")
                for line in r.iter_lines():
                    self.subscribed.set()  # the first chunk is sent once the stream is registered
                    if self.marker in line:
                        self.got.set()
                        return
        except BaseException as exc:
            self.error = exc
            self.subscribed.set()


def test_every_worker_delivers_every_event(two_workers: str, redis_client: redis_lib.Redis) -> None:
    r = httpx.post(f"{two_workers}/api/auth/token", data={"username": "chief1", "password": PASSWORD})
    r.raise_for_status()
    token = r.json()["access_token"]
    marker = f"marker-{uuid.uuid4().hex}"
    streams: list[Stream] = []
    pids: set[str] = set()
    # connections are spread over the workers by the kernel; open until both workers hold some
    while len(pids) < 2 and len(streams) < 40:
        s = Stream(two_workers, token, marker)
        s.start()
        assert s.subscribed.wait(30), "no first chunk from the stream"
        assert s.error is None, s.error
        streams.append(s)
        pids.add(s.pid or "")
    assert len(pids) == 2 and "" not in pids, pids
    ev.publish_now(redis_client, ev.STREAM_CASES, "case.created", {"number": marker, "unit_code": None})
    missing: list[Any] = [s.pid for s in streams if not s.got.wait(20)]
    assert not missing, f"streams on workers {missing} did not get the event"
