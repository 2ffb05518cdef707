"""Request and response bodies of the reports API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel


class GenerateIn(BaseModel):
    kind: Literal["daily", "weekly", "monthly", "range"] = "daily"
    start: date | None = None
    end: date | None = None


class ReportOut(BaseModel):
    id: int
    kind: str
    period_start: date
    period_end: date
    status: str
    summary: str
    params: dict[str, Any]
    requested_by: str
    created_at: datetime
    finished_at: datetime | None
    error: str | None
    pdf_url: str | None
    xlsx_url: str | None
