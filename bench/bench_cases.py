"""Benchmark: case creation and a transition loop against PostgreSQL with concurrent clients.

Runs the real API (uvicorn, N workers) on a fresh PostgreSQL database, then drives it from an
open-loop load generator (requests are sent at a fixed rate whether or not earlier ones have
answered, so queueing shows up in the latency instead of being hidden).

    .venv/bin/python bench/bench_cases.py --rate 300 --duration 20
    .venv/bin/python bench/bench_cases.py --phase transitions --rate 200

Prints throughput and p50/p95/p99 latency per phase. Target (issue 2): p99 <= 25 ms at 300
creations/s on the 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PG_ADMIN = os.environ.get("CALLCENTER_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_database() -> tuple[str, str]:
    from callcenter.db import migrate
    from callcenter.db.session import session_scope
    from callcenter.seed import add_user, seed_all
    from tests.kernel.conftest import CATALOGUE

    name = f"cc_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(
        PG_ADMIN.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    migrate.upgrade(url)
    with session_scope(url) as s:
        seed_all(s, CATALOGUE)
        add_user(s, "bench", "bench-password-1", "supervisor")
    return name, url


def drop_database(name: str) -> None:
    admin = create_engine(
        PG_ADMIN.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))
    return values[k]


async def open_loop(
    client: httpx.AsyncClient, make_request: object, rate: float, duration: float
) -> tuple[list[float], int, float]:
    """Fire ``make_request(i)`` at ``rate``/s for ``duration`` s; latencies (ms), errors, elapsed."""
    latencies: list[float] = []
    errors = 0
    tasks = []

    async def one(i: int) -> None:
        nonlocal errors
        t0 = time.perf_counter()
        try:
            r = await make_request(i)  # type: ignore[operator]
            if r.status_code >= 400:
                errors += 1
                return
        except httpx.HTTPError:
            errors += 1
            return
        latencies.append((time.perf_counter() - t0) * 1000)

    start = time.perf_counter()
    n = int(rate * duration)
    for i in range(n):
        target = start + i / rate
        delay = target - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    return latencies, errors, time.perf_counter() - start


def report(name: str, latencies: list[float], errors: int, elapsed: float) -> str:
    line = (
        f"{name:<16} n={len(latencies):5d} errors={errors:3d} throughput={len(latencies) / elapsed:7.1f}/s "
        f"p50={pct(latencies, 50):6.1f}ms p95={pct(latencies, 95):6.1f}ms p99={pct(latencies, 99):6.1f}ms "
        f"mean={statistics.fmean(latencies) if latencies else float('nan'):6.1f}ms"
    )
    print(line, flush=True)
    return line


async def run(args: argparse.Namespace, base: str) -> None:
    limits = httpx.Limits(max_connections=args.connections, max_keepalive_connections=args.connections)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        tok = (
            await client.post("/api/auth/token", data={"username": "bench", "password": "bench-password-1"})
        ).json()
        client.headers["Authorization"] = f"Bearer {tok['access_token']}"
        body = {
            "description": "东华门街道楼下餐馆油烟太大，影响居民休息",
            "caller_phone": "13800000000",
            "matter_code": "0601001",
            "district_code": "110101",
            "street_code": "110101001",
        }
        # warm-up
        await open_loop(client, lambda i: client.post("/api/cases", json=body), 50, 2)
        if args.phase in ("all", "create"):
            for rate in args.rates or [args.rate]:
                lat, err, el = await open_loop(
                    client, lambda i: client.post("/api/cases", json=body), rate, args.duration
                )
                report(f"create@{rate:g}/s", lat, err, el)
        if args.phase in ("all", "transitions"):
            n = int(args.transition_rate * args.duration / 4) + 1
            numbers = []
            for _ in range(n):
                r = await client.post("/api/cases", json=body | {"register": True})
                numbers.append(r.json()["number"])
            steps = [
                {"action": "dispatch", "unit_code": "S110101001"},
                {"action": "accept"},
                {"action": "feedback", "text": "已处理"},
                {"action": "verify"},
            ]

            def transition(i: int) -> Any:
                number = numbers[i % n]
                step = steps[i // n]
                return client.post(f"/api/cases/{number}/transitions", json=step)

            lat, err, el = await open_loop(client, transition, args.transition_rate, args.duration)
            report("transitions", lat, err, el)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=300, help="case creations per second")
    ap.add_argument(
        "--rates",
        type=lambda v: [float(x) for x in v.split(",")],
        default=None,
        help="comma-separated creation rates to sweep, e.g. 25,50,100,300",
    )
    ap.add_argument("--transition-rate", type=float, default=200)
    ap.add_argument("--duration", type=float, default=15)
    ap.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--phase", choices=["all", "create", "transitions"], default="all")
    args = ap.parse_args()

    name, url = make_database()
    port = free_port()
    env = os.environ | {"CALLCENTER_MODE": "test", "CALLCENTER_DATABASE_URL": url}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "callcenter.api.asgi:app",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
        cwd=ROOT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                if httpx.get(base + "/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        print(
            f"machine: {platform.node()} {os.cpu_count()} cores, {platform.processor() or platform.machine()}"
        )
        print(
            f"date: {time.strftime('%Y-%m-%d %H:%M')}  workers={args.workers} rate={args.rate}/s "
            f"duration={args.duration}s"
        )
        asyncio.run(run(args, base))
    finally:
        server.terminate()
        server.wait(timeout=20)
        drop_database(name)


if __name__ == "__main__":
    main()
