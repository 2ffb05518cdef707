"""Monthly report over 100,000 cases (issue 18 target: ≤ 30 s, ≤ 1 GB peak memory).

    .venv/bin/python bench/bench_reports.py [--cases 100000] [--pg]

Builds a demo history (``callcenter.demo_history``, real workflow) for two months, then copies the
month's cases in SQL (new numbers, same fields) until the month holds ``--cases`` cases. Then, each in
a fresh process so peak memory (ru_maxrss) is the build's own: (a) the console's KPI query over the
month (``services.kpi.report``, the existing baseline) and (b) the whole monthly report — figures,
charts, PDF and XLSX — with the time of each phase. Case events are not copied (the reports read
cases; only reopen events feed ``past_evaluations``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NOW = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
COPY_COLUMNS = (
    "status, channel, hotline, caller_phone, caller_name, kind, matter_code, district_code, street_code, "
    "community_code, address, description, priority, unit_code, co_unit_codes, loop, created_at, updated_at, "
    "dispatched_at, accepted_at, feedback_at, closed_at, accept_due_at, due_at, extension_hours_requested, "
    "extension_reason, supervised, kpi_excluded, kpi_exclusion_reason, merged_into, return_count, "
    "feedback_text, resolved, satisfaction, is_demo, version"
)


def prepare(url: str, target: int) -> int:
    from sqlalchemy import text

    from callcenter.db import migrate
    from callcenter.db.session import session_scope
    from callcenter.demo_history import seed_demo_history
    from callcenter.seed import seed_all

    migrate.upgrade(url)
    with session_scope(url) as s:
        seed_all(s)
    with session_scope(url) as s:
        seed_demo_history(s, days=62, per_day=60, seed=18, now=NOW)
    lo, hi = "2026-10-31 16:00:00", "2026-11-30 16:00:00"  # November in Beijing, as UTC
    with session_scope(url) as s:
        month = s.execute(text("SELECT count(*) FROM cases WHERE created_at >= :lo AND created_at < :hi"),
                          {"lo": lo, "hi": hi}).scalar_one()  # fmt: skip
        copies = max(0, math.ceil(target / month) - 1)
        concat = "number || :suffix"
        for k in range(1, copies + 1):
            s.execute(
                text(
                    f"INSERT INTO cases (number, {COPY_COLUMNS}) SELECT {concat}, {COPY_COLUMNS} FROM cases "
                    "WHERE created_at >= :lo AND created_at < :hi AND length(number) = 13"
                ),
                {"suffix": f"{k:03d}", "lo": lo, "hi": hi},
            )
        total = s.execute(text("SELECT count(*) FROM cases WHERE created_at >= :lo AND created_at < :hi"),
                          {"lo": lo, "hi": hi}).scalar_one()  # fmt: skip
    return int(total)


def child(url: str, what: str, out_dir: str) -> None:
    import resource
    from zoneinfo import ZoneInfo

    from callcenter.config import Settings
    from callcenter.db.session import session_scope
    from callcenter.plugins.reports import figures, render
    from callcenter.plugins.reports.periods import Period
    from callcenter.services import kpi as kpi_svc

    tz = ZoneInfo("Asia/Shanghai")
    period = Period("monthly", datetime(2026, 11, 1).date(), datetime(2026, 11, 30).date())
    phases: dict[str, float] = {}
    t0 = time.perf_counter()
    with session_scope(url) as s:
        if what == "kpi":
            kpi_svc.report(s, kpi_svc.Window(period.start, period.end, tz), now=NOW)
            phases["kpi_query"] = time.perf_counter() - t0
        else:
            settings = Settings(mode="test", database_url=url)
            data = figures.build(s, period, tz=tz, now=NOW, center=settings.reports.center_name)
            phases["figures"] = time.perf_counter() - t0
            phases.update({f"figures.{k}": round(v, 2) for k, v in data.timings.items()})
            t = time.perf_counter()
            render.write_pdf(data, Path(out_dir) / "m.pdf")
            phases["pdf_with_charts"] = time.perf_counter() - t
            t = time.perf_counter()
            render.write_xlsx(data, Path(out_dir) / "m.xlsx")
            phases["xlsx"] = time.perf_counter() - t
            phases["cases_in_report"] = data.total
    phases["total_s"] = time.perf_counter() - t0
    phases["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(phases))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=100_000)
    ap.add_argument("--child", nargs=3, metavar=("URL", "WHAT", "OUT"))
    ap.add_argument("--db", help="keep the prepared SQLite file here (reused when it exists)")
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    os.environ.setdefault("CALLCENTER_MODE", "test")
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(args.db) if args.db else Path(tmp) / "bench.sqlite3"
        url = f"sqlite:///{db}"
        if not db.exists():
            t = time.perf_counter()
            total = prepare(url, args.cases)
            print(f"prepared {total} cases in November in {time.perf_counter() - t:.0f} s (SQLite)")
        for what in ("kpi", "report"):
            r = subprocess.run(
                [sys.executable, __file__, "--child", url, what, tmp],
                capture_output=True,
                text=True,
                check=True,
            )
            print(what, r.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
