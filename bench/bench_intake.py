"""Benchmark: intake from the web form and Open311 at a fixed rate, and push-backs to a partner that
was down for minutes.

``--phase web``: the real API (uvicorn, N workers) on a fresh SQLite file and on a fresh PostgreSQL
database; an open-loop generator sends public-form POSTs, Open311 POSTs (form-encoded, api_key)
and, side by side, the plain agent ``POST /api/cases`` at the same rate, so the cost of the public
intake shows as a ratio. The rate limit is raised for the run (one client address sends it all).
No suggester model is installed in the bench database's settings unless ``--with-model`` names a
models folder; the suggester's own cost is in bench_classifier.py.

``--phase pushback``: in-process app on SQLite, the simulated partner (a real local HTTP server)
is taken down, ``--orders`` city orders are pushed and each goes through the whole loop (7 status
changes) while it is down; the push-back loop runs with the default back-off; after ``--down-s``
seconds the partner comes back. Reports the time until everything is delivered, repeats, and
whether every order's updates arrived in order.

    .venv/bin/python bench/bench_intake.py --phase web --rate 50 --duration 20
    .venv/bin/python bench/bench_intake.py --phase pushback --down-s 300 --orders 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_cases import (  # noqa: E402
    drop_database,
    free_port,
    make_database,
    open_loop,
    report,
)

REDIS = os.environ.get("CALLCENTER_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
API_KEY = "bench-open311-key-9d1e"
TEXT = "东华门街道多福巷小区楼下餐馆油烟太大，影响居民休息"


def sqlite_database(folder: Path) -> str:
    from callcenter.db import migrate
    from callcenter.db.session import session_scope
    from callcenter.seed import add_user, seed_all
    from tests.kernel.conftest import CATALOGUE

    url = f"sqlite:///{folder / 'bench.sqlite3'}"
    migrate.upgrade(url)
    with session_scope(url) as s:
        seed_all(s, CATALOGUE)
        add_user(s, "bench", "bench-password-1", "supervisor")
    return url


def serve(url: str, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = os.environ | {
        "CALLCENTER_MODE": "test",
        "CALLCENTER_DATABASE_URL": url,
        "CALLCENTER_REDIS_URL": REDIS,
        "CALLCENTER_INTAKE__WEB_RATE_LIMIT": "100000000",
        "CALLCENTER_INTAKE__OPEN311_API_KEYS": json.dumps({"bench": API_KEY}),
        "CALLCENTER_CLASSIFIER__MODEL_DIR": os.environ.get("BENCH_MODEL_DIR", "/nonexistent-bench-model"),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "callcenter.api.asgi:app",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start")


async def web_phase(base: str, rate: float, duration: float, label: str, reverse: bool = False) -> None:
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as c:
        tok = (
            await c.post("/api/auth/token", data={"username": "bench", "password": "bench-password-1"})
        ).json()
        auth = {"Authorization": f"Bearer {tok['access_token']}"}

        def web(i: int) -> object:
            return c.post("/api/public/cases", json={"description": TEXT, "form_token": uuid.uuid4().hex})

        def o311(i: int) -> object:
            return c.post(
                "/open311/v2/requests.json",
                data={
                    "api_key": API_KEY,
                    "service_code": "0601001",
                    "lat": "39.915",
                    "long": "116.404",
                    "description": TEXT,
                },
            )

        def plain(i: int) -> object:
            return c.post(
                "/api/cases", json={"description": TEXT, "caller_phone": "13800000000"}, headers=auth
            )

        await open_loop(c, web, 20, 2)  # warm-up
        phases = [("agent POST", plain), ("web form", web), ("Open311 POST", o311)]
        for name, fn in reversed(phases) if reverse else phases:
            lat, err, el = await open_loop(c, fn, rate, duration)
            report(f"{label} {name}@{rate:g}/s", lat, err, el)


def pushback_phase(down_s: float, orders: int) -> None:
    from fastapi.testclient import TestClient

    from callcenter.api.app import create_app
    from callcenter.config import IntakeSettings, Settings
    from callcenter.db.models import User
    from callcenter.db.session import session_scope
    from callcenter.plugins.citydispatch.loops import PushBack
    from callcenter.plugins.citydispatch.simulator import CallbackReceiver, Upstream
    from callcenter.security import hash_password

    key = "bench-partner-key-4c7a1e"
    with tempfile.TemporaryDirectory() as tmp:
        url = sqlite_database(Path(tmp))
        with session_scope(url) as s:
            s.add(
                User(
                    username="street",
                    password_hash=hash_password("bench-password-1"),
                    role="unit_handler",
                    unit_code="S110101001",
                )
            )
        receiver = CallbackReceiver(key)
        receiver.start()
        receiver.stop()  # down from the start
        settings = Settings(
            mode="test",
            database_url=url,
            redis_url=REDIS,
            intake=IntakeSettings.model_validate(
                {"city_partners": {"bench": {"key": key, "callback_url": receiver.url}}}
            ),
        )
        stop = threading.Event()
        pb = PushBack(settings)

        def loop() -> None:
            while not stop.is_set():
                pb.round()
                stop.wait(1.0)

        worker = threading.Thread(target=loop, daemon=True)
        with TestClient(create_app(settings, start_relay=False)) as c:
            up = Upstream("http://testserver", "bench", key, client=c)
            agent = {
                "Authorization": "Bearer "
                + c.post(
                    "/api/auth/token", data={"username": "bench", "password": "bench-password-1"}
                ).json()["access_token"]
            }
            street = {
                "Authorization": "Bearer "
                + c.post(
                    "/api/auth/token", data={"username": "street", "password": "bench-password-1"}
                ).json()["access_token"]
            }
            worker.start()
            t_down = time.monotonic()
            for i in range(orders):
                number = up.send_order({"order_id": f"B-{i}", "description": TEXT}).json()["case_number"]
                for h, action, extra in (
                    (agent, "register", {"matter_code": "0601001"}),
                    (agent, "dispatch", {"unit_code": "S110101001"}),
                    (street, "accept", {}),
                    (street, "feedback", {"text": "已处理", "resolved": True}),
                    (agent, "verify", {}),
                    (agent, "close", {}),
                ):
                    r = c.post(
                        f"/api/cases/{number}/transitions", json={"action": action, **extra}, headers=h
                    )
                    assert r.status_code == 200, r.text
            expected = orders * 7
            time.sleep(max(0.0, down_s - (time.monotonic() - t_down)))
            receiver.start()
            t_up = time.monotonic()
            while len(receiver.received) < expected and time.monotonic() - t_up < 600:
                time.sleep(0.2)
            took = time.monotonic() - t_up
            stop.set()
            worker.join(timeout=10)
            pb.close()
            receiver.stop()
        per_order: dict[str, list[int]] = {}
        for p in receiver.received:
            per_order.setdefault(p["order_id"], []).append(p["seq"])
        in_order = all(seqs == sorted(seqs) for seqs in per_order.values())
        print(
            f"pushback: partner down {down_s:.0f} s, {orders} orders × 7 updates = {expected}; "
            f"delivered {len(receiver.received)} in {took:.1f} s after it came back; "
            f"repeats {receiver.repeats}; "
            f"refused signatures {receiver.refused}; every order in order: {in_order}",
            flush=True,
        )


def cpu_phase(n: int, db: str) -> None:
    """Server CPU per request, in process (TestClient, one request at a time): a figure that a loaded
    shared machine does not distort the way open-loop latency is (process CPU time, not wall time)."""
    from fastapi.testclient import TestClient

    from callcenter.api.app import create_app
    from callcenter.config import IntakeSettings, Settings

    def measure(url: str, label: str) -> None:
        settings = Settings(
            mode="test",
            database_url=url,
            redis_url=REDIS,
            intake=IntakeSettings.model_validate(
                {"web_rate_limit": 10**9, "open311_api_keys": {"bench": API_KEY}}
            ),
        )
        with TestClient(create_app(settings, start_relay=False)) as c:
            tok = c.post("/api/auth/token", data={"username": "bench", "password": "bench-password-1"}).json()
            auth = {"Authorization": f"Bearer {tok['access_token']}"}
            calls = {
                "agent POST": lambda: c.post(
                    "/api/cases", json={"description": TEXT, "caller_phone": "138"}, headers=auth
                ),
                "web form": lambda: c.post(
                    "/api/public/cases", json={"description": TEXT, "form_token": uuid.uuid4().hex}
                ),
                "Open311 POST": lambda: c.post(
                    "/open311/v2/requests.json",
                    data={
                        "api_key": API_KEY,
                        "service_code": "0601001",
                        "lat": "39.915",
                        "long": "116.404",
                        "description": TEXT,
                    },
                ),
            }
            for fn in calls.values():
                for _ in range(20):
                    fn()  # warm-up
            for name, fn in calls.items():
                walls = []
                cpu0 = time.process_time()
                for _ in range(n):
                    t0 = time.perf_counter()
                    r = fn()
                    walls.append((time.perf_counter() - t0) * 1000)
                    assert r.status_code < 300, r.text
                cpu = (time.process_time() - cpu0) / n * 1000
                walls.sort()
                print(
                    f"{label} {name:<13} n={n} cpu/request={cpu:5.1f}ms (client+server, one process) "
                    f"wall p50={walls[n // 2]:6.1f}ms p95={walls[int(n * 0.95)]:6.1f}ms",
                    flush=True,
                )

    if db in ("both", "sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            measure(sqlite_database(Path(tmp)), "sqlite")
    if db in ("both", "postgresql"):
        name, url = make_database()
        try:
            measure(url, "postgresql")
        finally:
            from callcenter.db.session import get_engine

            get_engine(url).dispose()
            drop_database(name)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--phase", choices=["web", "pushback", "cpu"], default="web")
    ap.add_argument("--requests", type=int, default=300, help="--phase cpu: requests per kind")
    ap.add_argument("--rate", type=float, default=50)
    ap.add_argument("--duration", type=float, default=20)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--db", choices=["both", "sqlite", "postgresql"], default="both")
    ap.add_argument("--reverse", action="store_true", help="--phase web: run the phases in reverse order")
    ap.add_argument("--down-s", type=float, default=300)
    ap.add_argument("--orders", type=int, default=20)
    args = ap.parse_args()
    if args.phase == "pushback":
        pushback_phase(args.down_s, args.orders)
        return
    if args.phase == "cpu":
        cpu_phase(args.requests, args.db)
        return
    if args.db in ("both", "sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            url = sqlite_database(Path(tmp))
            proc, base = serve(url, 1)  # SQLite: one writer process
            try:
                asyncio.run(web_phase(base, args.rate, args.duration, "sqlite", args.reverse))
            finally:
                proc.terminate()
                proc.wait(timeout=20)
    if args.db in ("both", "postgresql"):
        name, url = make_database()
        proc, base = serve(url, args.workers)
        try:
            asyncio.run(web_phase(base, args.rate, args.duration, "postgresql", args.reverse))
        finally:
            proc.terminate()
            proc.wait(timeout=20)
            drop_database(name)


if __name__ == "__main__":
    main()
