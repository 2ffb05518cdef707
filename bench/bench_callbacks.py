"""Callback benchmark: scheduler throughput with many pending callbacks, and originations through Asterisk.

Part 1 (``--pending``, default 10,000): a fresh database (PostgreSQL and SQLite) filled with pending
callbacks; measures one idle dialler round while the concurrency cap is full (the steady cost of
polling with 10,000 waiting rows) and the drain rate: claim (window, DNC, cap, fairness) + finish,
until every callback was claimed once.

Part 2 (``--originate N``, needs the Asterisk chroot): N return visits dialled by the real dialler
through the AMI bridge into Asterisk; the citizens (``Local/…@sim-citizen``) are busy, so each
attempt is one Originate + OriginateResponse + classification + back-off. Reports sustained
originations per second at the concurrency cap (``--cap``).

    .venv/bin/python bench/bench_callbacks.py --pending 10000 --originate 200 --cap 20
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.support (the test Asterisk helpers) lives beside the product

from callcenter.config import TelephonySettings  # noqa: E402

os.environ.setdefault("CALLCENTER_MODE", "test")
os.environ.setdefault("CALLCENTER_CALLBACKS__WINDOW_START", "00:00")
os.environ.setdefault("CALLCENTER_CALLBACKS__WINDOW_END", "00:00")

PG_ADMIN = os.environ.get("CALLCENTER_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _cpu_model() -> str:
    out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    for line in out.splitlines():
        if line.startswith("Model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def _pg_database() -> tuple[str, Any]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(
        PG_ADMIN.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    name = f"cc_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        from callcenter.db.session import get_engine

        get_engine(url).dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    url = make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)
    return url, drop


def _fill(db_url: str, n: int, now: datetime) -> None:
    from sqlalchemy import insert

    from callcenter.db.models import Callback
    from callcenter.db.session import session_scope

    rows: list[dict[str, Any]] = [
        {
            "kind": "queue_callback" if i % 4 == 0 else "return_visit",
            "idempotency_key": f"bench:{i}",
            "phone": f"139{i:08d}",
            "status": "scheduled",
            "requested_at": now - timedelta(seconds=n - i),
            "next_attempt_at": now - timedelta(seconds=1),
            "attempts": 0,
            "max_attempts": 3,
            "outcome": {},
            "updated_at": now,
        }
        for i in range(n)
    ]
    with session_scope(db_url) as s:
        for i in range(0, n, 2000):
            s.execute(insert(Callback), rows[i : i + 2000])


def scheduler_figures(db_url: str, pending: int, cap: int) -> dict[str, Any]:
    from callcenter.config import CallbackSettings, Settings
    from callcenter.db import migrate
    from callcenter.db.session import session_scope
    from callcenter.services import callbacks as service

    migrate.upgrade(db_url)
    now = datetime.now(UTC)
    _fill(db_url, pending, now)
    settings = Settings(
        mode="test",
        database_url=db_url,
        callbacks=CallbackSettings(
            window_start="00:00", window_end="00:00", max_concurrent_calls=cap, worker_id="bench"
        ),
    )
    claimed = 0
    rounds = 0
    t0 = time.perf_counter()
    first_round_ms = None
    idle_ms: list[float] = []
    while True:
        r0 = time.perf_counter()
        with session_scope(db_url) as s:
            claims = service.claim_due(s, now, settings, "bench")
        if first_round_ms is None:
            first_round_ms = (time.perf_counter() - r0) * 1000
        if not claims:
            break
        rounds += 1
        claimed += len(claims)
        if rounds == 1:  # cap full: what an idle round costs with everything else still pending
            for _ in range(5):
                i0 = time.perf_counter()
                with session_scope(db_url) as s:
                    assert service.claim_due(s, now, settings, "bench") == []
                idle_ms.append((time.perf_counter() - i0) * 1000)
        with session_scope(db_url) as s:
            for c in claims:
                service.complete_attempt(s, c.callback_id, c.attempt, "connected", now)
    elapsed = time.perf_counter() - t0
    return {
        "pending": pending,
        "cap": cap,
        "claimed": claimed,
        "rounds": rounds,
        "claims_per_s": round(claimed / elapsed, 1),
        "first_claim_round_ms": round(first_round_ms or 0, 1),
        "idle_round_ms_at_cap": round(sorted(idle_ms)[len(idle_ms) // 2], 1) if idle_ms else None,
        "elapsed_s": round(elapsed, 1),
    }


def originate_figures(n: int, cap: int, redis_url: str) -> dict[str, Any]:
    import redis

    from callcenter.config import CallbackSettings, Settings
    from callcenter.db import migrate
    from callcenter.db.session import session_scope
    from callcenter.plugins.callbacks.dialler import Dialler
    from callcenter.services import callbacks as service
    from tests.support.asterisk import exclusive_asterisk, start_stack

    base = Settings(mode="test")
    with (
        tempfile.TemporaryDirectory() as tmp,
        exclusive_asterisk(base, TelephonySettings(speech_step=False)) as handle,
    ):
        db_url = f"sqlite:///{tmp}/bench.sqlite3"
        migrate.upgrade(db_url)
        client = redis.Redis.from_url(redis_url)
        client.flushdb()
        handle.set_global("SIM_ANSWER_ALL", "busy")
        settings = Settings(
            mode="test",
            database_url=db_url,
            redis_url=redis_url,
            callbacks=CallbackSettings(
                window_start="00:00",
                window_end="00:00",
                max_concurrent_calls=cap,
                max_attempts=1,
                dial_template="Local/{phone}@sim-citizen",
                poll_interval_s=0.05,
                worker_id="bench",
            ),
        )
        now = datetime.now(UTC)
        with session_scope(db_url) as s:
            for i in range(n):
                service.schedule(
                    s,
                    kind="return_visit",
                    key=f"bench:{i}",
                    phone=f"1380000{i:04d}",
                    at=now,
                    max_attempts=1,
                    outcome={"case_number": "2026112300001", "visit": 1},
                )
        try:
            with start_stack(handle, db_url, redis_url):
                dialler = Dialler(settings, client, database_url=db_url)
                stop = threading.Event()
                t = threading.Thread(target=dialler.run, args=(stop,), daemon=True)
                t0 = time.monotonic()
                t.start()
                deadline = t0 + max(120, n)
                finished = 0
                while time.monotonic() < deadline:
                    with session_scope(db_url) as s:
                        finished = len(
                            [r for r in service.list_callbacks(s, limit=n + 10) if r["status"] == "failed"]
                        )
                    if finished >= n:
                        break
                    time.sleep(0.2)
                elapsed = time.monotonic() - t0
                stop.set()
                t.join(10)
                with session_scope(db_url) as s:
                    results = [r["last_result"] for r in service.list_callbacks(s, limit=n + 10)]
        finally:
            handle.set_global("SIM_ANSWER_ALL", "")
            client.flushdb()
    return {
        "callbacks": n,
        "cap": cap,
        "finished": finished,
        "classified_busy": results.count("busy"),
        "originations_per_s": round(finished / elapsed, 1),
        "elapsed_s": round(elapsed, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pending", type=int, default=10_000)
    ap.add_argument("--claim-cap", type=int, default=100, help="concurrency cap while draining")
    ap.add_argument("--originate", type=int, default=0, help="return visits through Asterisk (0 = skip)")
    ap.add_argument("--cap", type=int, default=20, help="simultaneous calls while originating")
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    ap.add_argument("--no-postgres", action="store_true")
    args = ap.parse_args()
    figures: dict[str, Any] = {
        "machine": f"{os.cpu_count()} cores, {_cpu_model()}",
        "date": time.strftime("%Y-%m-%d"),
    }
    with tempfile.TemporaryDirectory() as tmp:
        figures["scheduler_sqlite"] = scheduler_figures(
            f"sqlite:///{tmp}/s.sqlite3", args.pending, args.claim_cap
        )
    if not args.no_postgres:
        url, drop = _pg_database()
        try:
            figures["scheduler_postgresql"] = scheduler_figures(url, args.pending, args.claim_cap)
        finally:
            drop()
    if args.originate:
        figures["asterisk"] = originate_figures(args.originate, args.cap, args.redis_url)
    print(json.dumps(figures, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
