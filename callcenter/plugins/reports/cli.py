"""``callcenter report daily|weekly|monthly|range [--start DATE --end DATE] --out DIR``."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from callcenter.cli_support import console
from callcenter.cli_support import settings_or_exit as _settings


def _date(value: str | None, what: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        console.print(f"[red]{what}: bad date {value!r} (want YYYY-MM-DD)[/red]")
        raise typer.Exit(2) from None


def report(
    kind: Annotated[str, typer.Argument(help="daily | weekly | monthly | range")],
    start: Annotated[
        str | None, typer.Option(help="first day (YYYY-MM-DD); default: last complete period")
    ] = None,
    end: Annotated[str | None, typer.Option(help="last day (YYYY-MM-DD), with --start")] = None,
    out: Annotated[
        Path | None, typer.Option(help="folder for the PDF and XLSX (default reports.out_dir)")
    ] = None,
) -> None:
    """Build a report for leaders (日报 / 周报 / 月报) as PDF and XLSX, and record it."""
    from callcenter.db.models import Report
    from callcenter.db.session import session_scope
    from callcenter.plugins.reports.services import build_pending, record_pending, resolve_period

    settings = _settings()
    today = datetime.now(UTC).astimezone(ZoneInfo(settings.timezone)).date()
    try:
        period = resolve_period(kind, today, _date(start, "--start"), _date(end, "--end"))
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    with session_scope(settings.database_url) as session:
        report_id = record_pending(session, settings, period, requested_by="cli").id
    build_pending(settings, report_id, out_dir=out)  # reads without blocking the API's writers
    with session_scope(settings.database_url) as session:
        row = session.get(Report, report_id)
        assert row is not None
        if row.status != "done":
            console.print(f"[red]report {report_id} failed: {row.error}[/red]")
            raise typer.Exit(1)
        console.print(f"report {report_id}: {period.title} {period.start} .. {period.end}")
        typer.echo(str(row.pdf_path))
        typer.echo(str(row.xlsx_path))
        for line in row.summary.splitlines():
            console.print(f"  {line}")


def register(app: typer.Typer) -> None:
    app.command("report")(report)
