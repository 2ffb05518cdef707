"""Console fan-out benchmark: N connected consoles (SSE), event → screen latency and server CPU.

Starts the real API server (uvicorn, one worker, in its own process) on a fresh seeded SQLite database
and a Redis database of its own, opens ``--clients`` Server-Sent-Events connections to
``/api/console/events`` (as the browsers do), publishes ``--events`` case events on the Redis stream at
``--rate`` per second, and measures for every (event, client) pair the time from ``XADD`` to the
message being parsed by the client. Prints latency percentiles, deliveries (every client must get
every event) and the server process's CPU use while publishing.

    .venv/bin/python bench/bench_fanout.py --clients 200 --events 300 --rate 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def cpu_model() -> str:
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or "unknown"


def proc_cpu_seconds(pid: int) -> float:
    """user + system CPU seconds of a process (and its threads) from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed(url: str) -> None:
    from callcenter.db import migrate
    from callcenter.db.models import User
    from callcenter.db.session import session_scope
    from callcenter.security import hash_password
    from callcenter.seed import seed_all

    migrate.upgrade(url)
    with session_scope(url) as s:
        seed_all(s, ROOT / "tests" / "kernel" / "fixtures" / "catalogue")
        s.add(User(username="bench", password_hash=hash_password("bench-password-1"), role="supervisor"))


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


async def client(
    base: str, token: str, n_events: int, latencies: list[float], ready: asyncio.Event, counter: list[int]
) -> int:
    got = 0
    async with (
        httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(120.0)) as http,
        http.stream("GET", f"/api/console/events?token={token}") as r,
    ):
        r.raise_for_status()
        data: list[str] = []
        async for line in r.aiter_lines():
            if line.startswith("data: "):
                data.append(line[6:])
            elif line == "" and data:
                now = time.time()
                msg = json.loads("\n".join(data))
                data = []
                if "cursor" in msg:  # hello
                    counter[0] += 1
                    if counter[0] >= counter[1]:
                        ready.set()
                    continue
                sent = msg.get("data", {}).get("sent")
                if sent is not None:
                    latencies.append(now - float(sent))
                    got += 1
                    if got >= n_events:
                        return got
    return got


async def run(args: argparse.Namespace) -> dict[str, object]:
    from callcenter.events import STREAM_CASES, publish_now

    tmp = Path(tempfile.mkdtemp(prefix="bench-fanout-"))
    db_url = f"sqlite:///{tmp / 'bench.sqlite3'}"
    seed(db_url)
    r = redis.Redis.from_url(args.redis_url)
    r.flushdb()
    port = free_port()
    env = {
        **os.environ,
        "CALLCENTER_MODE": "test",
        "CALLCENTER_DATABASE_URL": db_url,
        "CALLCENTER_REDIS_URL": args.redis_url,
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "callcenter.api.asgi:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
        token = httpx.post(
            f"{base}/api/auth/token", data={"username": "bench", "password": "bench-password-1"}
        ).json()["access_token"]
        latencies: list[float] = []
        ready = asyncio.Event()
        counter = [0, args.clients]
        tasks = [
            asyncio.create_task(client(base, token, args.events, latencies, ready, counter))
            for _ in range(args.clients)
        ]
        await asyncio.wait_for(ready.wait(), 60)
        cpu0, t0 = proc_cpu_seconds(server.pid), time.monotonic()
        interval = 1.0 / args.rate
        for i in range(args.events):
            publish_now(r, STREAM_CASES, "case.bench", {"number": str(i), "sent": time.time()})
            await asyncio.sleep(interval)
        done, pending = await asyncio.wait(tasks, timeout=30)
        wall = time.monotonic() - t0
        cpu = proc_cpu_seconds(server.pid) - cpu0
        for t in pending:
            t.cancel()
        delivered = sum(t.result() for t in done if not t.cancelled() and t.exception() is None)
    finally:
        server.terminate()
        server.wait(10)
        r.flushdb()
    ms = [x * 1000 for x in latencies]
    return {
        "clients": args.clients,
        "events": args.events,
        "rate_per_s": args.rate,
        "deliveries_expected": args.clients * args.events,
        "deliveries": delivered,
        "latency_ms_p50": round(statistics.median(ms), 1) if ms else None,
        "latency_ms_p95": round(pct(ms, 95), 1),
        "latency_ms_p99": round(pct(ms, 99), 1),
        "latency_ms_max": round(max(ms), 1) if ms else None,
        "server_cpu_pct_of_one_core": round(100 * cpu / wall, 1),
        "wall_s": round(wall, 1),
        "machine": f"{os.cpu_count()} cores, {cpu_model()}",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", type=int, default=200)
    p.add_argument("--events", type=int, default=300)
    p.add_argument("--rate", type=float, default=20.0, help="events per second")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/11")
    args = p.parse_args()
    result = asyncio.run(run(args))
    for k, v in result.items():
        print(f"{k:>28}: {v}")


if __name__ == "__main__":
    main()
