"""Load benchmark: N simultaneous simulated callers through the IVR (FastAGI) and the queue.

Runs the real stack: Asterisk 22 (started here if not running, stopped again afterwards), the FastAGI
server and the AMI bridge in this process, a fresh SQLite database (or ``--database-url``) and Redis
db 13. Prints JSON figures: calls set up per second, setup latency, AGI round trip p50/p95 (control
commands only), queue wait, lost calls, CPU seconds used.

    .venv/bin/python bench/bench_calls.py --callers 30 --agents 10 --talk 5
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.support (the test Asterisk helpers) lives beside the product

from callcenter.config import TelephonySettings  # noqa: E402

os.environ.setdefault("CALLCENTER_MODE", "test")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_model() -> str:
    out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    for line in out.splitlines():
        if line.startswith("Model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--callers", type=int, default=30)
    ap.add_argument("--rate", type=float, default=30.0, help="calls started per second")
    ap.add_argument("--agents", type=int, default=10)
    ap.add_argument("--talk", type=int, default=5, help="seconds each simulated agent talks")
    ap.add_argument("--keys", default="1", help="IVR keys of every caller")
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    args = ap.parse_args()

    import redis

    from callcenter.config import Settings
    from callcenter.db import migrate
    from callcenter.plugins.telephony.simulator import SimOptions, Simulator, summarize
    from tests.support.asterisk import exclusive_asterisk, start_stack

    settings = Settings(mode="test")
    with (
        tempfile.TemporaryDirectory() as tmp,
        exclusive_asterisk(settings, TelephonySettings(speech_step=False, wrapup_time_s=1)) as handle,
    ):
        db_url = args.database_url or f"sqlite:///{tmp}/bench.sqlite3"
        migrate.upgrade(db_url)
        client = redis.Redis.from_url(args.redis_url)
        client.flushdb()
        ast_pid = handle.process.pid()
        assert ast_pid is not None
        try:
            with start_stack(handle, db_url, args.redis_url) as stack:
                cpu_ast0, cpu_me0 = _cpu_seconds(ast_pid), time.process_time()
                t0 = time.monotonic()
                sim = Simulator(
                    stack.redis,
                    SimOptions(
                        count=args.callers,
                        rate=args.rate,
                        keys=args.keys,
                        agents=args.agents,
                        talk_s=args.talk,
                        hold_s=300,
                        timeout_s=300,
                        sounds=("callcenter/speech/funasr_short",),
                    ),
                )
                results = sim.run()
                elapsed = time.monotonic() - t0
                cpu_ast, cpu_me = _cpu_seconds(ast_pid) - cpu_ast0, time.process_time() - cpu_me0
                agi = stack.agi.stats.snapshot()
        finally:
            client.flushdb()
    summary = summarize(results, elapsed)
    sent = [c.sent_at for c in sim.calls]
    set_up = [c.setup_at for c in sim.calls if c.setup_at is not None]
    queued = [c.queued_at - c.sent_at for c in sim.calls if c.queued_at is not None]
    figures: dict[str, Any] = {
        "machine": f"{os.cpu_count()} cores, {_cpu_model()}",
        "date": time.strftime("%Y-%m-%d"),
        "callers": args.callers,
        "agents": args.agents,
        "talk_s": args.talk,
        **summary,
        "unanswered": sum(1 for r in results if not r.get("answered")),
        # calls that reached the hotline dialplan, per second from the first Originate to the last
        "calls_set_up_per_s": round(len(set_up) / (max(set_up) - min(sent)), 1) if set_up else None,
        "to_queue_p50_s": round(sorted(queued)[len(queued) // 2], 2) if queued else None,
        "to_queue_max_s": round(max(queued), 2) if queued else None,
        "agi_sessions": agi["sessions"],
        "agi_commands": agi["commands"],
        "agi_rtt_p50_ms": agi.get("rtt_p50_ms"),
        "agi_rtt_p95_ms": agi.get("rtt_p95_ms"),
        "agi_errors": agi["errors"] + agi["timeouts"],
        "cpu_asterisk_s": round(cpu_ast, 2),
        "cpu_bridge_agi_sim_s": round(cpu_me, 2),
    }
    print(json.dumps(figures, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
