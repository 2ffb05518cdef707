"""Human-readable case numbers (工单编号): local date + 5-digit daily sequence, e.g. 2026112200042."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

SEQ_DIGITS = 5
NUMBER_RE = re.compile(rf"^\d{{8}}\d{{{SEQ_DIGITS},}}$")


def day_key(now: datetime, tz: str) -> str:
    """The local calendar day (``YYYYMMDD``) in the center's time zone."""
    return now.astimezone(ZoneInfo(tz)).strftime("%Y%m%d")


def format_number(day: str, seq: int) -> str:
    if seq < 1:
        raise ValueError("sequence starts at 1")
    return f"{day}{seq:0{SEQ_DIGITS}d}"


def is_case_number(text: str) -> bool:
    return bool(NUMBER_RE.match(text))
