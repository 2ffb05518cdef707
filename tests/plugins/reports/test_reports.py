"""Reports for leaders on SQLite and PostgreSQL: figures from a seeded demo history, every PDF page
rendered to PNG (pdftoppm), text extracted from the PDF (pdftotext), cells read back from the XLSX
(openpyxl); the CLI, the API (list / generate / download, roles) and the schedule."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import func, select

from callcenter.api.app import create_app
from callcenter.config import ReportSettings, Settings
from callcenter.db.models import Case, Report
from callcenter.db.session import session_scope
from callcenter.demo_history import seed_demo_history
from callcenter.plugins.reports.periods import Period
from callcenter.plugins.reports.schedule import run_due
from callcenter.plugins.reports.services import MAX_RETRY_WAIT, build_report, record_pending, retry_wait
from tests.kernel.conftest import PASSWORD
from tests.kernel.test_cli import cc

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)  # 10:00 in Beijing
NOVEMBER = Period("monthly", date(2026, 11, 1), date(2026, 11, 30))
pytestmark = pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils (pdftoppm) missing")


def _history(url: str) -> None:
    with session_scope(url) as s:
        rep = seed_demo_history(s, days=70, per_day=14, seed=3, now=NOW)
        assert rep.cases > 500


def _pdf_text(pdf: Path) -> str:
    out = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True)
    return out.stdout


def _pages(pdf: Path, tmp: Path) -> list[Path]:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    n = int(re.search(r"Pages:\s+(\d+)", info).group(1))  # type: ignore[union-attr]
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp / "page")], check=True)
    pngs = sorted(tmp.glob("page-*.png"))
    assert len(pngs) == n >= 5
    assert all(p.stat().st_size > 2000 for p in pngs)  # every page rendered with content
    return pngs


def _flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_monthly_report_pdf_and_xlsx(seeded_url: str, tmp_path: Path) -> None:
    _history(seeded_url)
    settings = Settings(mode="test", database_url=seeded_url)
    with session_scope(seeded_url) as s:
        built = build_report(s, settings, NOVEMBER, out_dir=tmp_path, requested_by="test", now=NOW)
        in_db = s.scalar(
            select(func.count())
            .select_from(Case)
            .where(
                Case.created_at >= datetime(2026, 11, 1, tzinfo=TZ),
                Case.created_at < datetime(2026, 12, 1, tzinfo=TZ),
            )
        )
        excluded = s.scalars(
            select(Case.number).where(
                Case.kpi_excluded,
                Case.dispatched_at >= datetime(2026, 11, 1, tzinfo=TZ),
                Case.dispatched_at < datetime(2026, 12, 1, tzinfo=TZ),
            )
        ).all()
    data = built.data
    assert data.total == in_db and data.total > 200 and data.demo_cases == data.total
    assert built.report.status == "done" and built.report.params["start"] == "2026-11-01"

    # --- PDF: every page renders; cover, page numbers, summary and tables are in the text
    _pages(built.pdf, tmp_path)
    text = _pdf_text(built.pdf)
    flat = _flat(text)
    assert "12345政务服务便民热线月报" in flat and "2026年11月" in flat
    assert "第2页/共" in flat and "演示数据" in flat
    for sentence in data.summary:
        assert _flat(sentence) in flat, sentence
    for heading in (
        "来源渠道",
        "高频事项",
        "承办单位三率两度排名",
        "特例剔除",
        "超期及督办工单",
        "回访结果",
        "重复诉求",
    ):
        assert heading in flat

    # --- XLSX: one sheet per table, real numbers
    wb = load_workbook(built.xlsx)
    assert {
        "概要",
        "受理总量",
        "来源渠道",
        "全市三率两度",
        "承办单位三率两度排名",
        "特例剔除",
        "回访结果",
    } <= set(wb.sheetnames)
    overview = wb["受理总量"]
    assert overview["B2"].value == data.total and isinstance(overview["B2"].value, int)
    assert overview["C2"].value == data.previous_total
    channels = wb["来源渠道"]
    assert sum(r[1] for r in channels.iter_rows(min_row=2, values_only=True)) == data.total
    share = channels["C2"].value
    assert isinstance(share, float) and 0 < share <= 1 and channels["C2"].number_format == "0.0%"
    units = list(wb["承办单位三率两度排名"].iter_rows(min_row=2, values_only=True))
    ranked = [r for r in units if r[0] is not None]
    assert ranked and ranked[0][0] == 1 and all(isinstance(r[8], float) for r in ranked)
    assert all(a[8] >= b[8] for a, b in pairwise(ranked))  # ordered by score
    excl_sheet = [r[0] for r in wb["特例剔除"].iter_rows(min_row=2, values_only=True) if r[0]]
    assert sorted(excl_sheet) == sorted(excluded)
    rates = {r[0]: r for r in wb["全市三率两度"].iter_rows(min_row=2, values_only=True)}
    sat = rates["满意率"]
    assert isinstance(sat[3], float) and abs(sat[3] - sat[1] / sat[2]) < 1e-9
    # the summary's numbers are the workbook's numbers (no made-up claims)
    m = re.search(r"共受理诉求(\d+)件，上期(\d+)件", data.summary[0])
    assert m and int(m.group(1)) == overview["B2"].value and int(m.group(2)) == overview["C2"].value
    m = re.search(r"满意率([\d.]+)%", next(s for s in data.summary if "全市响应率" in s))
    assert m and float(m.group(1)) == round(sat[3] * 100, 1)
    m = re.search(r"超期工单(\d+)件", next(s for s in data.summary if "超期工单" in s))
    overdue_rows = [r for r in wb["超期及督办工单"].iter_rows(min_row=2, values_only=True) if r[0]]
    assert m and int(m.group(1)) == len(overdue_rows) > 0
    visits = {r[0]: r[1] for r in wb["回访结果"].iter_rows(min_row=2, values_only=True)}
    assert visits["满意"] + visits["基本满意"] + visits["不满意"] > 100
    top = list(
        wb[next(n for n in wb.sheetnames if n.startswith("高频事项"))].iter_rows(min_row=2, values_only=True)
    )
    assert all(top[i][1] >= top[i + 1][1] for i in range(len(top) - 1))
    repeats = list(
        wb[next(n for n in wb.sheetnames if n.startswith("重复诉求"))].iter_rows(min_row=2, values_only=True)
    )
    assert any(r[0].startswith("屡治屡返") for r in repeats if r[0])  # the hot spots come back
    assert all("139" not in str(r[1]) or "****" in str(r[1]) for r in repeats)  # phones masked


def test_cli_writes_both_files_and_rejects_bad_input(seeded_sqlite: str, tmp_path: Path) -> None:
    _history(seeded_sqlite)
    out = tmp_path / "out"
    r = cc("report", "weekly", "--start", "2026-11-16", "--out", str(out), db=seeded_sqlite)
    assert r.returncode == 0, r.stderr
    files = sorted(p.name for p in out.iterdir())
    assert files == ["weekly-20261116-20261122-1.pdf", "weekly-20261116-20261122-1.xlsx"]
    assert str(out / files[0]) in r.stdout
    text = _flat(_pdf_text(out / files[0]))
    assert "周报" in text and "2026年11月16日至2026年11月22日" in text
    wb = load_workbook(out / files[1])
    assert wb["概要"]["B2"].value.date() == date(2026, 11, 16)
    r = cc(
        "report", "range", "--start", "2026-11-20", "--end", "2026-11-01", "--out", str(out), db=seeded_sqlite
    )
    assert r.returncode == 2 and "end is before start" in r.stderr + r.stdout
    r = cc("report", "yearly", "--out", str(out), db=seeded_sqlite)
    assert r.returncode == 2 and "unknown report kind" in r.stderr + r.stdout
    r = cc("report", "daily", "--start", "2026-13-01", "--out", str(out), db=seeded_sqlite)
    assert r.returncode == 2 and "bad date" in r.stderr + r.stdout
    assert len(list(out.iterdir())) == 2  # nothing written by the refused ones


def test_api_list_generate_download(seeded_sqlite: str, redis_url: str, tmp_path: Path) -> None:
    _history(seeded_sqlite)
    settings = Settings(
        mode="test", database_url=seeded_sqlite, redis_url=redis_url, reports=ReportSettings(out_dir=tmp_path)
    )
    with TestClient(create_app(settings, start_relay=False)) as client:

        def login(user: str) -> dict[str, str]:
            r = client.post("/api/auth/token", data={"username": user, "password": PASSWORD})
            return {"Authorization": f"Bearer {r.json()['access_token']}"}

        boss, agent = login("super1"), login("agent1")
        assert client.get("/api/reports", headers=agent).status_code == 403
        body = {"kind": "range", "start": "2026-11-01", "end": "2026-11-07"}
        assert client.post("/api/reports", json=body, headers=agent).status_code == 403
        bad = client.post("/api/reports", json={"kind": "range", "start": "2026-11-07"}, headers=boss)
        assert bad.status_code == 422 and "--start and --end" in bad.text
        r = client.post("/api/reports", json=body, headers=boss)
        assert r.status_code == 202, r.text
        rep = r.json()
        assert rep["status"] == "pending" and rep["pdf_url"] is None  # recorded at once, built after
        for _ in range(300):
            rep = client.get(f"/api/reports/{rep['id']}", headers=boss).json()
            if rep["status"] != "pending":
                break
            time.sleep(0.5)
        assert rep["status"] == "done" and rep["requested_by"] == "super1" and "共受理诉求" in rep["summary"]
        listed = client.get("/api/reports", headers=boss).json()
        assert [x["id"] for x in listed] == [rep["id"]]
        pdf = client.get(rep["pdf_url"], headers=boss)
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF")
        xlsx = client.get(rep["xlsx_url"], headers=boss)
        assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
        assert client.get(f"/api/reports/{rep['id']}/doc", headers=boss).status_code == 404
        assert client.get("/api/reports/999/pdf", headers=boss).status_code == 404


def test_schedule_builds_each_period_once(seeded_sqlite: str, tmp_path: Path) -> None:
    _history(seeded_sqlite)
    settings = Settings(mode="test", database_url=seeded_sqlite, reports=ReportSettings(out_dir=tmp_path))
    with session_scope(seeded_sqlite) as s:  # asked for through the API, then the API restarted
        left = record_pending(
            s, settings, Period("daily", date(2026, 11, 2), date(2026, 11, 2)), requested_by="x"
        )
        left.created_at = NOW - timedelta(hours=1)
        left_id = left.id
    first = run_due(settings, now=NOW)
    assert len(first) == 3
    with session_scope(seeded_sqlite) as s:
        assert s.get(Report, left_id).status == "done"  # type: ignore[union-attr]
    assert run_due(settings, now=NOW) == []
    with session_scope(seeded_sqlite) as s:
        kinds = {(r.kind, r.period_start, r.period_end) for r in s.scalars(select(Report)) if r.id != left_id}
    assert kinds == {
        ("daily", date(2026, 12, 1), date(2026, 12, 1)),
        ("weekly", date(2026, 11, 23), date(2026, 11, 29)),
        ("monthly", date(2026, 11, 1), date(2026, 11, 30)),
    }
    assert len(list(tmp_path.glob("*.pdf"))) == 4 and len(list(tmp_path.glob("*.xlsx"))) == 4


def test_a_failing_scheduled_report_is_one_row_retried_with_a_growing_wait(
    seeded_sqlite: str, tmp_path: Path
) -> None:
    _history(seeded_sqlite)
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the report folder should be")
    base = ReportSettings(out_dir=blocked, schedule=["daily"], check_interval_s=60)
    broken = Settings(mode="test", database_url=seeded_sqlite, reports=base)
    assert run_due(broken, now=NOW) == []

    def rows() -> list[Report]:
        with session_scope(seeded_sqlite) as s:
            return list(s.scalars(select(Report).order_by(Report.id)))

    [row] = rows()
    assert row.status == "failed" and row.error and row.params["attempts"] == 1
    # at the next checks within the wait: nothing is tried, nothing is added
    assert run_due(broken, now=NOW + timedelta(seconds=30)) == []
    assert [(r.id, r.params["attempts"]) for r in rows()] == [(row.id, 1)]
    # after the wait (60 s), the same row is tried again; then the wait doubles (120 s)
    assert run_due(broken, now=NOW + timedelta(seconds=61)) == []
    assert [(r.id, r.status, r.params["attempts"]) for r in rows()] == [(row.id, "failed", 2)]
    assert run_due(broken, now=NOW + timedelta(seconds=61 + 100)) == []
    assert [r.params["attempts"] for r in rows()] == [2]
    # the folder is fixed: the next try after the wait builds it, still in the same row
    fixed = Settings(
        mode="test",
        database_url=seeded_sqlite,
        reports=ReportSettings(out_dir=tmp_path / "out", schedule=["daily"], check_interval_s=60),
    )
    assert run_due(fixed, now=NOW + timedelta(seconds=61 + 121)) == [row.id]
    [done] = rows()
    assert done.id == row.id and done.status == "done" and done.params["attempts"] == 3
    assert run_due(fixed, now=NOW + timedelta(hours=1)) == []


def test_retry_wait_doubles_up_to_six_hours() -> None:
    assert [retry_wait(n, 60).total_seconds() for n in (1, 2, 3)] == [60, 120, 240]
    assert retry_wait(50, 60) == MAX_RETRY_WAIT == timedelta(hours=6)
