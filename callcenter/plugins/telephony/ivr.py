"""Pure IVR rules (语音导航规则): menu choices, case numbers, caller profile flags.

No I/O here; the FastAGI handlers in ``callcenter.plugins.telephony.agi`` call these and do the talking.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from callcenter.domain.callers import is_repeat_caller
from callcenter.domain.workflow import OPEN_STATUSES

_CASE_NUMBER = re.compile(r"^(\d{8})(\d{5})$")


class MenuChoice(StrEnum):
    """Top-level menu (主菜单) keys."""

    NEW_REQUEST = "1"  # 反映新问题
    CASE_STATUS = "2"  # 查询工单进度
    CALLBACK = "3"  # 预约回拨


class Next(StrEnum):
    """Where the dialplan goes after a handler (channel variable ``CC_NEXT``)."""

    SPEECH = "speech"
    QUEUE = "queue"
    STATUS = "status"
    HANGUP = "hangup"


def parse_menu_choice(digits: str) -> MenuChoice | None:
    """The menu choice for the keys pressed, or None when invalid or empty."""
    d = digits.strip().rstrip("#")
    try:
        return MenuChoice(d)
    except ValueError:
        return None


def next_after_menu(choice: MenuChoice | None) -> Next:
    """Dialplan branch for a menu choice; no valid choice after the retries goes to an agent."""
    if choice is MenuChoice.NEW_REQUEST:
        return Next.SPEECH
    if choice is MenuChoice.CASE_STATUS:
        return Next.STATUS
    if choice is MenuChoice.CALLBACK:
        return Next.HANGUP
    return Next.QUEUE


def normalize_case_number(digits: str) -> str | None:
    """Keypad input -> case number (工单编号 ``YYYYMMDD`` + 5-digit sequence), or None if malformed.

    ``#`` ends the input and ``*`` is ignored (callers press it by mistake); the date part must be
    a real calendar date.
    """
    d = digits.replace("*", "").strip().rstrip("#")
    m = _CASE_NUMBER.match(d)
    if not m:
        return None
    day = m.group(1)
    try:
        date(int(day[:4]), int(day[4:6]), int(day[6:]))
    except ValueError:
        return None
    return d


@dataclass(frozen=True)
class CallerProfile:
    """What the IVR knows about a caller number (来电人画像)."""

    known: bool
    open_cases: int
    repeat_caller: bool
    last_open_case: str | None = None

    def channel_variables(self) -> dict[str, str]:
        return {
            "CC_CALLER_KNOWN": "1" if self.known else "0",
            "CC_OPEN_CASES": str(self.open_cases),
            "CC_REPEAT_CALLER": "1" if self.repeat_caller else "0",
            "CC_LAST_OPEN_CASE": self.last_open_case or "",
        }


def caller_profile(
    earlier_calls_in_window: int, earlier_calls_total: int, case_statuses: list[tuple[str, str]]
) -> CallerProfile:
    """Build the profile from counts and ``(case number, status)`` pairs, newest case first."""
    open_numbers = [num for num, status in case_statuses if status in OPEN_STATUSES]
    return CallerProfile(
        known=earlier_calls_total > 0 or bool(case_statuses),
        open_cases=len(open_numbers),
        repeat_caller=is_repeat_caller(earlier_calls_in_window, len(open_numbers)),
        last_open_case=open_numbers[0] if open_numbers else None,
    )


def status_prompt(status: str | None, known_statuses: set[str]) -> str:
    """Sound name reading out a case status."""
    if status and status in known_statuses:
        return f"callcenter/status-{status}"
    return "callcenter/status-unknown"
