"""Browser softphone and recording benchmark (网页软电话 / 通话录音).

1. Call set-up time, ring to two-way audio: a simulated citizen calls 12345 (key 1) while the agent's
   Chromium (fake microphone = a real Mandarin clip) is registered over WSS with auto-answer on. For
   each call: the browser's ``ringing`` (INVITE arrived) → the first moment ``getStats()`` shows audio
   both received and sent (inbound ``packetsReceived`` > 0 and outbound ``packetsSent`` > 0).
2. CPU cost of recording: K simultaneous answered calls (simulated agents, Local channels) talking
   T seconds, once with ``RECORD_CALLS`` 0 and once with 1, side by side in one run; Asterisk's CPU
   seconds (utime+stime of the process) per call, and the recording's disk bytes per call-second.

Runs the real stack like bench_calls.py (Asterisk under the test lock, FastAGI + AMI bridge in-process,
the API with the console in a thread, SQLite in a temp dir, Redis db 13).

    .venv/bin/python bench/bench_softphone.py --calls 8 --rec-calls 10 --talk 15
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from callcenter.config import TelephonySettings  # noqa: E402

os.environ.setdefault("CALLCENTER_MODE", "test")

WAIT_TWO_WAY_JS = """
async () => {
  const SP = window.CCSoftphone;
  const ring = [...SP.events].reverse().find((e) => e.type === 'ringing');
  for (;;) {
    const s = SP.session;
    if (s && s.connection) {
      let inb = 0, out = 0;
      (await s.connection.getStats()).forEach((r) => {
        if (r.type === 'inbound-rtp' && r.kind === 'audio') inb = r.packetsReceived || 0;
        if (r.type === 'outbound-rtp' && r.kind === 'audio') out = r.packetsSent || 0;
      });
      if (inb > 0 && out > 0) return (performance.now() - ring.t) / 1000;
    }
    await new Promise((ok) => setTimeout(ok, 10));
  }
}
"""


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def setup_times(handle: Any, stack: Any, db_url: str, redis_url: str, calls: int) -> dict[str, Any]:
    from playwright.sync_api import expect, sync_playwright

    from tests.plugins.console.conftest import login, seed_console, start_server, stop_server
    from tests.support.softphone import CHROMIUM, SPEECH, chromium_args, place_talker_call

    seed_console(db_url)
    live = start_server(db_url, redis_url)
    live.app.state.console_command_timeout_s = 15.0
    times: list[float] = []
    try:
        with sync_playwright() as pw:
            b = pw.chromium.launch(
                executable_path=CHROMIUM, args=chromium_args(SPEECH / "16k" / "paddlespeech_zh.wav")
            )
            ctx = b.new_context(base_url=live.url)
            ctx.set_default_timeout(30_000)
            page = ctx.new_page()
            login(page, "seat1")
            expect(page.locator("#sp-state")).to_have_attribute("data-state", "registered")
            page.check("#sp-auto")
            page.click("#btn-join")
            expect(page.locator("#my-state")).to_have_attribute("data-state", "idle", timeout=15_000)
            for _ in range(calls):
                place_talker_call(stack.redis, audio_sound="callcenter/speech/funasr_short", hold_s=4)
                expect(page.locator("#sp-state")).to_have_attribute("data-state", "talking", timeout=60_000)
                times.append(float(page.evaluate(WAIT_TWO_WAY_JS)))
                expect(page.locator("#sp-state")).to_have_attribute(
                    "data-state", "registered", timeout=30_000
                )
                time.sleep(1.0)
            b.close()
    finally:
        stop_server(live)
        from callcenter.commands import send_command, wait_result

        wait_result(stack.redis, send_command(stack.redis, "queue_remove", interface="PJSIP/8001"), 10)
    times.sort()
    return {
        "calls": len(times),
        "median_s": round(statistics.median(times), 3),
        "p90_s": round(times[int(0.9 * (len(times) - 1))], 3),
        "min_s": round(times[0], 3),
        "max_s": round(times[-1], 3),
    }


def recording_cost(handle: Any, stack: Any, calls: int, talk_s: int) -> dict[str, Any]:
    pid = handle.process.pid()
    spool = handle.rootfs / "var/spool/asterisk/monitor"
    out: dict[str, Any] = {"calls": calls, "talk_s": talk_s}
    for record in ("0", "1"):
        handle.set_global("RECORD_CALLS", record)
        before = {p.name for p in spool.glob("*.wav")}
        cpu0 = _cpu_seconds(pid)
        t0 = time.monotonic()
        results = stack.place_calls(
            calls, agents=calls, talk_s=talk_s, keys="1", rate=calls, hold_s=talk_s + 30
        )
        wall = time.monotonic() - t0
        cpu = _cpu_seconds(pid) - cpu0
        new = [p for p in spool.glob("*.wav") if p.name not in before]
        answered = sum(1 for r in results if r.get("answered"))
        out["record" if record == "1" else "plain"] = {
            "answered": answered,
            "asterisk_cpu_s": round(cpu, 2),
            "cpu_s_per_call": round(cpu / max(1, answered), 3),
            "wall_s": round(wall, 1),
            "files": len(new),
            "bytes_per_call_s": round(sum(p.stat().st_size for p in new) / max(1, answered * talk_s)),
        }
        for p in new:
            p.unlink(missing_ok=True)
    rec, plain = out["record"], out["plain"]
    out["extra_cpu_s_per_call"] = round(rec["cpu_s_per_call"] - plain["cpu_s_per_call"], 3)
    out["extra_cpu_share_of_one_core_per_call"] = round(out["extra_cpu_s_per_call"] / talk_s, 4)
    handle.set_global("RECORD_CALLS", "1")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=8, help="browser calls for the set-up time")
    ap.add_argument("--rec-calls", type=int, default=10, help="simultaneous calls for the recording cost")
    ap.add_argument("--talk", type=int, default=15, help="seconds each recorded call talks")
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    args = ap.parse_args()

    import redis

    from callcenter.config import Settings
    from callcenter.db import migrate
    from tests.support.asterisk import exclusive_asterisk, start_stack

    settings = Settings(mode="test")
    with (
        tempfile.TemporaryDirectory() as tmp,
        exclusive_asterisk(settings, TelephonySettings(speech_step=False, wrapup_time_s=0)) as handle,
    ):
        db_url = f"sqlite:///{tmp}/bench.sqlite3"
        migrate.upgrade(db_url)
        redis.Redis.from_url(args.redis_url).flushdb()
        with start_stack(handle, db_url, args.redis_url) as stack:
            report: dict[str, Any] = {"machine": os.uname().nodename, "cores": os.cpu_count()}
            if args.calls:
                report["setup_ring_to_two_way_audio"] = setup_times(
                    handle, stack, db_url, args.redis_url, args.calls
                )
            if args.rec_calls:
                report["recording_cost"] = recording_cost(handle, stack, args.rec_calls, args.talk)
            print(json.dumps(report, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
